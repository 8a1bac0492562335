-- Specs of tessera.matrix and the Matrix type. Expected values are computed plainly here
-- (loops over Lua tables, float32 rounding through string.pack) or by NumPy through
-- /usr/bin/python3, never by tessera itself. Malformed .npy files are built byte by byte.
local tessera = require "tessera"
local fs = require "tessera.fs"

local matrix = tessera.matrix
local abs, huge = math.abs, math.huge
local spack, sunpack = string.pack, string.unpack

local PYTHON = "/usr/bin/python3"

-- x rounded to float32, as the matrix stores it.
local function f32(x) return (sunpack("<f", spack("<f", x))) end

-- Deterministic pseudo-random numbers in [-1, 1) (a 32-bit LCG, independent of math.random).
local function lcg(seed)
  local state = seed
  return function()
    state = (1103515245 * state + 12345) % 2147483648
    return state / 1073741824 - 1
  end
end

-- A rows x cols table of rows of float32 values.
local function random_rows(rows, cols, seed)
  local rnd, t = lcg(seed), {}
  for i = 1, rows do
    t[i] = {}
    for j = 1, cols do t[i][j] = f32(rnd() * 10) end
  end
  return t
end

-- The message of the error fn raises, without the "spec/x.lua:12: " position prefix.
local function error_of(fn)
  local ok, err = pcall(fn)
  assert.is_false(ok, "expected an error")
  return (tostring(err):gsub("^[%w_/%.%-]+%.lua:%d+: ", "", 1))
end

local function assert_matrix_equals(rows, M, tol)
  local r, c = M:shape()
  assert.equal(#rows, r)
  assert.equal(#rows[1], c)
  for i = 1, r do
    for j = 1, c do
      local want, got = rows[i][j], M:get(i, j)
      if tol then
        assert.is_true(abs(got - want) <= tol * (1 + abs(want)),
          ("(%d, %d): got %.9g, expected %.9g"):format(i, j, got, want))
      elseif got ~= want then
        error(("(%d, %d): got %.9g, expected %.9g"):format(i, j, got, want))
      end
    end
  end
end

local function read_file(path) return assert(fs.read_file(path)) end

local function write_file(path, bytes)
  local f = assert(io.open(path, "wb"))
  f:write(bytes)
  f:close()
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

local shell_quote = fs.shell_quote

-- Runs Python code (NumPy available) with the given arguments; returns its stdout.
local function python(code, ...)
  local cmd = { PYTHON, "-c", shell_quote(code) }
  for _, a in ipairs({ ... }) do cmd[#cmd + 1] = shell_quote(tostring(a)) end
  local p = assert(io.popen(table.concat(cmd, " ") .. " 2>&1"))
  local out = p:read("a")
  local ok = p:close()
  assert(ok, "python failed: " .. out)
  return out
end

-- The entries of a folder (ls -A), sorted.
local function entries(dir)
  local p = assert(io.popen("ls -A " .. shell_quote(dir)))
  local list = {}
  for name in p:lines() do list[#list + 1] = name end
  p:close()
  return list
end

-- A fresh empty folder; removed (with everything in it) by the returned function.
local function temp_dir()
  local base = os.tmpname()
  os.remove(base)
  assert(os.execute("mkdir " .. shell_quote(base)))
  return base, function() os.execute("rm -rf " .. shell_quote(base)) end
end

-- A .npy file's bytes: header dict text padded to a 64-byte boundary, then data.
local function npy_bytes(dict, data, major)
  major = major or 1
  local prelude = major == 1 and 10 or 12
  local len = #dict + 1
  local total = prelude + len
  local pad = (64 - total % 64) % 64
  local header = dict .. (" "):rep(pad) .. "\n"
  local size = major == 1 and spack("<I2", #header) or spack("<I4", #header)
  return "\x93NUMPY" .. string.char(major, 0) .. size .. header .. data
end

local function f4_data(values, fmt)
  local parts = {}
  for i, v in ipairs(values) do parts[i] = spack(fmt or "<f", v) end
  return table.concat(parts)
end

describe("tessera.matrix", function()
  it("is the core's matrix table, reached from require('tessera')", function()
    assert.equal(tessera.core.matrix, tessera.matrix)
    assert.equal(tessera.core.matrix, require("tessera.matrix"))
  end)

  describe("new()", function()
    it("makes a zero-filled matrix of the given shape", function()
      local M = matrix.new(3, 4)
      assert.same({ 3, 4 }, { M:shape() })
      for i = 1, 3 do
        for j = 1, 4 do assert.equal(0, M:get(i, j)) end
      end
    end)

    it("fills with a value rounded to float32", function()
      local M = matrix.new(2, 5, 0.1)
      assert.equal(f32(0.1), M:get(2, 5))
      assert.not_equal(0.1, M:get(1, 1))
    end)

    it("allows matrices with no rows or no columns", function()
      assert.same({ 0, 3 }, { matrix.new(0, 3):shape() })
      assert.same({ 4, 0 }, { matrix.new(4, 0):shape() })
    end)

    it("names the memory cap (TESSERA_MAX_MEMORY) when a matrix would exceed it", function()
      local path = os.tmpname()
      finally(function() os.remove(path); os.remove(path .. ".npy") end)
      matrix.new(1000, 300, 1):save(path .. ".npy")
      local code = [[
        package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
        package.cpath = "lua/?.so;" .. package.cpath
        local matrix = require("tessera").matrix
        assert(matrix.new(100, 100))
        print(select(2, pcall(matrix.new, 1000, 1000)))
        local A, B = matrix.new(1000, 100), matrix.new(100, 300)
        print(select(2, pcall(getmetatable(A).__mul, A, B)))
        print(select(2, pcall(matrix.load, PATH)))
      ]]
      code = code:gsub("PATH", function() return ("%q"):format(path .. ".npy") end)
      local p = assert(io.popen("TESSERA_MAX_MEMORY=1M lua5.4 -e " .. shell_quote(code) .. " 2>&1"))
      local out = p:read("a")
      p:close()
      local cap = ", more than the memory cap (1.0 MB)\n"
      assert.equal("tessera.matrix.new: a 1000 x 1000 matrix needs 4.0 MB" .. cap
        .. "tessera.matrix product: a 1000 x 300 matrix needs 1.2 MB" .. cap
        .. "tessera.matrix.load: '" .. path .. ".npy': a 1000 x 300 matrix needs 1.2 MB" .. cap,
        out)
    end)

    it("rejects negative sizes, sizes that overflow and fills outside float32", function()
      assert.equal("bad argument #1 to 'new' (rows must be >= 0, got -1)",
        error_of(function() return matrix.new(-1, 2) end))
      assert.equal("bad argument #2 to 'new' (cols must be >= 0, got -3)",
        error_of(function() return matrix.new(2, -3) end))
      assert.equal("bad argument #3 to 'new' (fill 1e+300 is outside float32's range)",
        error_of(function() return matrix.new(2, 2, 1e300) end))
      assert.equal("tessera.matrix.new: a 4611686018427387904 x 4 matrix is too large",
        error_of(function() return matrix.new(1 << 62, 4) end))
      assert.equal("bad argument #1 to 'new' (number has no integer representation)",
        error_of(function() return matrix.new(1.5, 2) end))
    end)
  end)

  describe("from()", function()
    it("takes a table of rows", function()
      local M = matrix.from { { 1, 2, 3 }, { 4, 5, 6 } }
      assert.same({ 2, 3 }, { M:shape() })
      assert_matrix_equals({ { 1, 2, 3 }, { 4, 5, 6 } }, M)
    end)

    it("rounds values to float32", function()
      assert.equal(f32(1 / 3), matrix.from({ { 1 / 3 } }):get(1, 1))
    end)

    it("rejects empty, ragged and non-numeric input, naming the row, column and value", function()
      local cases = {
        { {}, "a matrix needs at least one row, got an empty table" },
        { { {} }, "row 1 is empty" },
        { { { 1, 2 }, { 3 } }, "row 2 has 1 value, expected 2 like row 1" },
        { { { 1, 2 }, { 3, 4, 5 } }, "row 2 has 3 values, expected 2 like row 1" },
        { { { 1, 2 }, { 3, "x" } }, "row 2, column 2 must be a number, got string 'x'" },
        { { { true } }, "row 1, column 1 must be a number, got boolean true" },
        { { { 1 }, 7 }, "row 2 must be a table of numbers, got number" },
        { { { 1, 2 }, { 3, {} } }, "row 2, column 2 must be a number, got table" },
        { { { 1, 1e39 } }, "row 1, column 2 is 1e+39, outside float32's range" },
      }
      for _, case in ipairs(cases) do
        assert.equal("bad argument #1 to 'from' (" .. case[2] .. ")",
          error_of(function() return matrix.from(case[1]) end))
      end
      assert.equal("bad argument #1 to 'from' (table expected, got string)",
        error_of(function() return matrix.from("1,2") end))
    end)
  end)

  describe("get() and set()", function()
    it("read and write 1-based elements, rounding to float32", function()
      local M = matrix.new(3, 2)
      M:set(3, 2, 2.5)
      M:set(1, 1, 0.1)
      assert.equal(2.5, M:get(3, 2))
      assert.equal(f32(0.1), M:get(1, 1))
      assert.equal(0, M:get(3, 1))
      M:set(2, 1, 0 / 0)
      assert.is_true(M:get(2, 1) ~= M:get(2, 1))
    end)

    it("reject indices out of range, naming the index and the valid range", function()
      local M = matrix.new(3, 2)
      assert.equal("bad argument #1 to 'get' (row must be in 1..3, got 4)",
        error_of(function() return M:get(4, 1) end))
      assert.equal("bad argument #1 to 'get' (row must be in 1..3, got 0)",
        error_of(function() return M:get(0, 1) end))
      assert.equal("bad argument #2 to 'get' (column must be in 1..2, got 3)",
        error_of(function() return M:get(1, 3) end))
      assert.equal("bad argument #2 to 'set' (column must be in 1..2, got -1)",
        error_of(function() return M:set(1, -1, 5) end))
      assert.equal("bad argument #1 to 'set' (row must be in 1..3, got 9)",
        error_of(function() return M:set(9, 1, 5) end))
      assert.equal("bad argument #3 to 'set' (value 1e+40 is outside float32's range)",
        error_of(function() return M:set(1, 1, 1e40) end))
      assert.equal("bad argument #3 to 'set' (number expected, got no value)",
        error_of(function() return M:set(1, 1) end))
      assert.equal("bad argument #1 to 'get' (row must be in 1..0 (the matrix has no rows), got 1)",
        error_of(function() return matrix.new(0, 2):get(1, 1) end))
      assert.equal("bad argument #1 to 'get' (number has no integer representation)",
        error_of(function() return M:get(1.5, 1) end))
    end)

    it("reject a self that is not a Matrix", function()
      local M = matrix.new(1, 1)
      assert.equal("bad argument #1 to 'get' (tessera.Matrix expected, got table)",
        error_of(function() return M.get({}, 1, 1) end))
    end)
  end)

  describe("shape(), totable() and tostring()", function()
    it("report the shape, the rows as tables and a short description", function()
      local t = random_rows(4, 3, 7)
      local M = matrix.from(t)
      local r, c = M:shape()
      assert.equal(4, r)
      assert.equal(3, c)
      assert.same(t, M:totable())
      assert.same({}, matrix.new(0, 5):totable())
      assert.equal("Matrix(1025 x 431)", tostring(matrix.new(1025, 431)))
      assert.equal("Matrix(0 x 3)", tostring(matrix.new(0, 3)))
    end)
  end)

  describe("sum(), min() and max()", function()
    it("equal plain Lua reductions over random data", function()
      local t = random_rows(17, 9, 3)
      local M = matrix.from(t)
      local s, lo, hi = 0, huge, -huge
      for i = 1, 17 do
        for j = 1, 9 do
          s = s + t[i][j]
          lo, hi = math.min(lo, t[i][j]), math.max(hi, t[i][j])
        end
      end
      assert.near(s, M:sum(), 1e-9 * 17 * 9 * 10)
      assert.equal(lo, M:min())
      assert.equal(hi, M:max())
    end)

    it("accumulates the sum in double", function()
      -- A float32 accumulator drifts by about 1% over a million 0.1s; double stays exact
      -- to ~1e-10 of the float32 value times the count.
      local M = matrix.new(1000, 1000, 0.1)
      assert.near(f32(0.1) * 1e6, M:sum(), 1e-4)
    end)

    it("gives 0 for the sum of an empty matrix and an error for its min and max", function()
      local E = matrix.new(0, 4)
      assert.equal(0, E:sum())
      assert.equal("tessera.matrix.min: a 0 x 4 matrix has no elements",
        error_of(function() return E:min() end))
      assert.equal("tessera.matrix.max: a 3 x 0 matrix has no elements",
        error_of(function() return matrix.new(3, 0):max() end))
    end)

    it("return NaN when the matrix holds NaN", function()
      local M = matrix.from { { 1, 2 }, { 3, 4 } }
      M:set(2, 1, 0 / 0)
      local lo, hi = M:min(), M:max()
      assert.is_true(lo ~= lo)
      assert.is_true(hi ~= hi)
    end)
  end)

  describe("row()", function()
    it("returns a 1 x cols copy of a row", function()
      local M = matrix.from { { 1, 2, 3 }, { 4, 5, 6 } }
      local R = M:row(2)
      assert.same({ 1, 3 }, { R:shape() })
      assert.same({ { 4, 5, 6 } }, R:totable())
      R:set(1, 1, 40)
      assert.equal(4, M:get(2, 1))
      assert.equal("bad argument #1 to 'row' (row must be in 1..2, got 3)",
        error_of(function() return M:row(3) end))
    end)
  end)

  describe("col()", function()
    it("returns a rows x 1 view of a column", function()
      local M = matrix.from { { 1, 2, 3 }, { 4, 5, 6 } }
      local C = M:col(2)
      assert.same({ 2, 1 }, { C:shape() })
      assert.same({ { 2 }, { 5 } }, C:totable())
      assert.equal("bad argument #1 to 'col' (column must be in 1..3, got 4)",
        error_of(function() return M:col(4) end))
    end)

    it("writes through to the parent and sees the parent's writes", function()
      local M = matrix.from { { 1, 2, 3 }, { 4, 5, 6 } }
      local C = M:col(3)
      C:set(2, 1, 60)
      assert.equal(60, M:get(2, 3))
      M:set(1, 3, 30)
      assert.equal(30, C:get(1, 1))
      C:fill(7)
      assert.same({ { 1, 2, 7 }, { 4, 5, 7 } }, M:totable())
      C:scale(2)
      assert.same({ { 1, 2, 14 }, { 4, 5, 14 } }, M:totable())
      local CC = C:col(1)
      CC:set(1, 1, -1)
      assert.equal(-1, M:get(1, 3))
    end)

    it("keeps the parent alive when only the view is referenced", function()
      local function view_only()
        local M = matrix.new(50, 40)
        for j = 1, 40 do M:set(50, j, j) end
        return M:col(33)
      end
      local C = view_only()
      local CC = view_only():col(1)
      collectgarbage()
      collectgarbage()
      -- Churn the allocator so freed memory would be reused.
      for _ = 1, 20 do matrix.new(50, 40, 9) end
      collectgarbage()
      assert.equal(33, C:get(50, 1))
      assert.equal(33, CC:get(50, 1))
      C:set(1, 1, 5)
      assert.equal(5, C:get(1, 1))
      assert.equal(0, C:get(2, 1))
    end)

    it("refuses to read through a view whose parent was closed", function()
      local C
      do
        local M <close> = matrix.new(3, 3, 1)
        C = M:col(2)
        assert.equal(1, C:get(1, 1))
      end
      assert.equal("calling 'get' on bad self (matrix has been freed: the matrix it views was closed)",
        error_of(function() return C:get(1, 1) end))
    end)
  end)

  describe("T() and copy()", function()
    it("T returns the transposed copy", function()
      local t = random_rows(37, 45, 11) -- crosses the 32-element transpose tiles
      local M = matrix.from(t)
      local T = M:T()
      assert.same({ 45, 37 }, { T:shape() })
      for i = 1, 37 do
        for j = 1, 45 do assert.equal(t[i][j], T:get(j, i)) end
      end
      T:set(1, 1, 123)
      assert.equal(t[1][1], M:get(1, 1))
      assert.same({ 0, 2 }, { matrix.new(2, 0):T():shape() })
    end)

    it("copy returns an independent matrix with the same values", function()
      local M = matrix.from(random_rows(5, 4, 5))
      local C = M:copy()
      assert.same(M:totable(), C:totable())
      C:set(1, 1, 99)
      assert.not_equal(99, M:get(1, 1))
      local V = M:col(2):copy()
      V:set(1, 1, 77)
      assert.not_equal(77, M:get(1, 2))
    end)
  end)

  describe("* (product and scaling)", function()
    it("multiplies matrices like a triple loop (37 x 23 by 23 x 11)", function()
      local a, b = random_rows(37, 23, 101), random_rows(23, 11, 202)
      local P = matrix.from(a) * matrix.from(b)
      assert.same({ 37, 11 }, { P:shape() })
      local want = {}
      for i = 1, 37 do
        want[i] = {}
        for j = 1, 11 do
          local s = 0
          for k = 1, 23 do s = s + a[i][k] * b[k][j] end
          want[i][j] = s
        end
      end
      -- float32 accumulation over 23 terms of size up to 100: relative ~1e-6 of the scale.
      assert_matrix_equals(want, P, 1e-4)
    end)

    it("multiplies through views and gives zeros for an empty inner dimension", function()
      local M = matrix.from { { 1, 2 }, { 3, 4 } }
      assert.same({ { 10 }, { 22 } }, (M * M:col(2)):totable())
      local Z = matrix.new(2, 0) * matrix.new(0, 3)
      assert.same({ { 0, 0, 0 }, { 0, 0, 0 } }, Z:totable())
      assert.same({ 0, 5 }, { (matrix.new(0, 4) * matrix.new(4, 5)):shape() })
    end)

    it("scales by a number on either side", function()
      local t = random_rows(3, 4, 9)
      local M = matrix.from(t)
      for _, S in ipairs({ M * 2.5, 2.5 * M }) do
        for i = 1, 3 do
          for j = 1, 4 do assert.equal(f32(t[i][j] * 2.5), S:get(i, j)) end
        end
      end
      assert.equal(t[1][1], M:get(1, 1))
    end)

    it("names both shapes when they do not match, and the operands otherwise", function()
      assert.equal("cannot multiply a 2 x 3 matrix by a 2 x 3 matrix",
        error_of(function() return matrix.new(2, 3) * matrix.new(2, 3) end))
      assert.equal("cannot multiply a Matrix by a string",
        error_of(function() return matrix.new(2, 3) * "2" end))
      assert.equal("cannot multiply a table by a Matrix",
        error_of(function() return {} * matrix.new(2, 3) end))
      assert.equal("cannot multiply a Matrix by 1e+300: it is outside float32's range",
        error_of(function() return matrix.new(2, 3) * 1e300 end))
    end)
  end)

  describe("+, -, unary - and /", function()
    local a, b = random_rows(6, 5, 31), random_rows(6, 5, 32)
    local A, B = matrix.from(a), matrix.from(b)

    it("work element by element like plain Lua", function()
      local sum, diff, neg, quot = A + B, A - B, -A, A / 3
      for i = 1, 6 do
        for j = 1, 5 do
          assert.equal(f32(a[i][j] + b[i][j]), sum:get(i, j))
          assert.equal(f32(a[i][j] - b[i][j]), diff:get(i, j))
          assert.equal(-a[i][j], neg:get(i, j))
          assert.equal(f32(a[i][j] / 3), quot:get(i, j))
        end
      end
      assert.same(a, A:totable())
    end)

    it("divide by zero as IEEE does", function()
      local Q = matrix.from({ { 1, -1, 0 } }) / 0
      assert.equal(huge, Q:get(1, 1))
      assert.equal(-huge, Q:get(1, 2))
      assert.is_true(Q:get(1, 3) ~= Q:get(1, 3))
    end)

    it("name both shapes when they differ, and the operands otherwise", function()
      local C = matrix.new(5, 6)
      assert.equal("cannot add a 6 x 5 matrix and a 5 x 6 matrix",
        error_of(function() return A + C end))
      assert.equal("cannot subtract a 5 x 6 matrix from a 6 x 5 matrix",
        error_of(function() return A - C end))
      assert.equal("cannot add a Matrix and a number", error_of(function() return A + 1 end))
      assert.equal("cannot add a number and a Matrix", error_of(function() return 1 + A end))
      assert.equal("cannot subtract a number from a Matrix",
        error_of(function() return A - 1 end))
      assert.equal("cannot divide a number by a Matrix", error_of(function() return 1 / A end))
      assert.equal("cannot divide a Matrix by a Matrix", error_of(function() return A / A end))
      assert.equal("cannot divide a Matrix by 1e+300: it is outside float32's range",
        error_of(function() return A / 1e300 end))
    end)
  end)

  describe("hadamard()", function()
    it("multiplies element by element", function()
      local a, b = random_rows(4, 7, 41), random_rows(4, 7, 42)
      local H = matrix.from(a):hadamard(matrix.from(b))
      for i = 1, 4 do
        for j = 1, 7 do assert.equal(f32(a[i][j] * b[i][j]), H:get(i, j)) end
      end
    end)

    it("rejects another shape", function()
      assert.equal("bad argument #1 to 'hadamard' (shape 2 x 3 differs from the matrix's 3 x 2)",
        error_of(function() return matrix.new(3, 2):hadamard(matrix.new(2, 3)) end))
      assert.equal("bad argument #1 to 'hadamard' (tessera.Matrix expected, got number)",
        error_of(function() return matrix.new(3, 2):hadamard(2) end))
    end)
  end)

  describe("fill() and scale()", function()
    it("work in place and return the matrix itself", function()
      local M = matrix.new(3, 3)
      assert.is_true(rawequal(M, M:fill(0.3)))
      assert.equal(f32(0.3), M:get(3, 3))
      assert.is_true(rawequal(M, M:scale(-2)))
      assert.equal(f32(f32(0.3) * -2), M:get(2, 1))
      assert.equal("bad argument #1 to 'fill' (value 1e+39 is outside float32's range)",
        error_of(function() return M:fill(1e39) end))
      assert.equal("bad argument #1 to 'scale' (number expected, got string)",
        error_of(function() return M:scale("x") end))
    end)
  end)

  describe("isfinite()", function()
    it("returns true, or false and the first NaN/Inf in column order", function()
      local M = matrix.new(3, 4, 1)
      assert.same({ true }, { M:isfinite() })
      M:set(1, 3, huge)
      M:set(2, 2, -huge)
      assert.same({ false, 2, 2, -huge }, { M:isfinite() })
      M:set(3, 1, 0 / 0)
      local ok, i, j, v = M:isfinite()
      assert.same({ false, 3, 1 }, { ok, i, j })
      assert.is_true(v ~= v)
      assert.same({ true }, { matrix.new(0, 0):isfinite() })
    end)
  end)

  describe("save() and load() with .npy", function()
    local base
    before_each(function() base = os.tmpname() end)
    after_each(function() os.remove(base) end)

    it("round-trips float32 exactly, including views and empty matrices", function()
      local path = base .. ".npy"
      finally(function() os.remove(path) end)
      local t = random_rows(13, 7, 77)
      matrix.from(t):save(path)
      assert.same(t, matrix.load(path):totable())
      matrix.from(t):col(4):save(path)
      local C = matrix.load(path)
      assert.same({ 13, 1 }, { C:shape() })
      for i = 1, 13 do assert.equal(t[i][4], C:get(i, 1)) end
      matrix.new(0, 3):save(path)
      assert.same({ 0, 3 }, { matrix.load(path):shape() })
    end)

    it("writes a version 1.0 float32 Fortran-order file with 64-byte aligned data", function()
      local path = base .. ".npy"
      finally(function() os.remove(path) end)
      matrix.from({ { 1, 2, 3 }, { 4, 5, 6 } }):save(path)
      local bytes = read_file(path)
      assert.equal("\x93NUMPY\1\0", bytes:sub(1, 8))
      local hlen = sunpack("<I2", bytes, 9)
      assert.equal(0, (10 + hlen) % 64)
      assert.equal("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
        bytes:sub(11, 10 + hlen):match("^(.-)%s*$"))
      assert.equal(f4_data({ 1, 4, 2, 5, 3, 6 }), bytes:sub(11 + hlen))
    end)

    it("is read back by NumPy", function()
      local path = base .. ".npy"
      finally(function() os.remove(path) end)
      local t = random_rows(9, 6, 55)
      matrix.from(t):save(path)
      local out = python([[
import sys, numpy as np
a = np.load(sys.argv[1])
print(a.dtype, a.shape, a.flags["F_CONTIGUOUS"])
for row in a:
    print(",".join("%.9g" % v for v in row))
]], path)
      local lines = {}
      for line in out:gmatch("[^\n]+") do lines[#lines + 1] = line end
      assert.equal("float32 (9, 6) True", lines[1])
      for i = 1, 9 do
        local j = 0
        for v in lines[i + 1]:gmatch("[^,]+") do
          j = j + 1
          assert.equal(t[i][j], f32(tonumber(v))) -- %.9g is exact for float32
        end
        assert.equal(6, j)
      end
    end)

    it("reads files written by NumPy: f4/f8, both orders, both byte orders, 1-d, ints, versions 2 and 3", function()
      local dir, cleanup = temp_dir()
      finally(cleanup)
      python([[
import sys, os, numpy as np
d = sys.argv[1]
a = np.arange(12, dtype=np.float64).reshape(3, 4) * 0.37 - 1.5
np.save(os.path.join(d, "f4c.npy"), a.astype("<f4"))
np.save(os.path.join(d, "f4f.npy"), np.asfortranarray(a.astype("<f4")))
np.save(os.path.join(d, "f8c.npy"), a)
np.save(os.path.join(d, "f8f.npy"), np.asfortranarray(a))
np.save(os.path.join(d, "bf4.npy"), a.astype(">f4"))
np.save(os.path.join(d, "bf8f.npy"), np.asfortranarray(a.astype(">f8")))
np.save(os.path.join(d, "one.npy"), np.arange(5, dtype="<f4") * 0.5)
np.save(os.path.join(d, "i4.npy"), (np.arange(12).reshape(3, 4) - 5).astype("<i4"))
np.save(os.path.join(d, "i8.npy"), (np.arange(12).reshape(3, 4) - 5).astype("<i8"))
np.save(os.path.join(d, "u1.npy"), (np.arange(12).reshape(3, 4) * 20).astype("|u1"))
for v in (2, 3):
    with open(os.path.join(d, "v%d.npy" % v), "wb") as f:
        np.lib.format.write_array(f, a.astype("<f4"), version=(v, 0))
]], dir)
      local want = {}
      for i = 1, 3 do
        want[i] = {}
        for j = 1, 4 do want[i][j] = f32(((i - 1) * 4 + (j - 1)) * 0.37 - 1.5) end
      end
      for _, name in ipairs({ "f4c", "f4f", "f8c", "f8f", "bf4", "bf8f", "v2", "v3" }) do
        local ok, err = pcall(assert_matrix_equals, want, matrix.load(dir .. "/" .. name .. ".npy"))
        assert(ok, name .. ": " .. tostring(err))
      end
      local one = matrix.load(dir .. "/one.npy")
      assert.same({ 5, 1 }, { one:shape() })
      assert.same({ { 0 }, { 0.5 }, { 1 }, { 1.5 }, { 2 } }, one:totable())
      local ints = {}
      for i = 1, 3 do
        ints[i] = {}
        for j = 1, 4 do ints[i][j] = (i - 1) * 4 + (j - 1) - 5 end
      end
      assert.same(ints, matrix.load(dir .. "/i4.npy"):totable())
      assert.same(ints, matrix.load(dir .. "/i8.npy"):totable())
      local bytes = matrix.load(dir .. "/u1.npy")
      assert.equal(220, bytes:get(3, 4))
      assert.equal(20, bytes:get(1, 2))
    end)

    it("rejects f8 values outside float32's range, 0-d and 3-d arrays, naming them", function()
      local dir, cleanup = temp_dir()
      finally(cleanup)
      python([[
import sys, os, numpy as np
d = sys.argv[1]
a = np.zeros((2, 3)); a[1, 2] = 1e300
np.save(os.path.join(d, "big.npy"), a)
np.save(os.path.join(d, "zero_d.npy"), np.float32(3))
np.save(os.path.join(d, "three_d.npy"), np.zeros((2, 3, 4), dtype="<f4"))
np.save(os.path.join(d, "half.npy"), np.zeros((2, 2), dtype="<f2"))
np.save(os.path.join(d, "rec.npy"), np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")]))
]], dir)
      local function load_error(name)
        local path = dir .. "/" .. name .. ".npy"
        local msg = error_of(function() return matrix.load(path) end)
        local prefix = "tessera.matrix.load: '" .. path .. "': "
        assert.equal(prefix, msg:sub(1, #prefix))
        return msg:sub(#prefix + 1)
      end
      assert.equal("value 1e+300 at row 2, column 3 does not fit in float32", load_error("big"))
      assert.equal("a 0-d array (shape ()) is not a matrix; only 1-d and 2-d arrays load",
        load_error("zero_d"))
      assert.equal("a 3-d array (shape (2, 3, 4)) is not a matrix; only 1-d and 2-d arrays load",
        load_error("three_d"))
      assert.equal("unsupported dtype '<f2' (supported: f4, f8, i1, i2, i4, i8, u1, u2, u4, u8)",
        load_error("half"))
      assert.equal("structured dtypes are not supported (a matrix needs one number per element)",
        load_error("rec"))
    end)

    describe("malformed files", function()
      local good = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }",
        f4_data({ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 }))
      local header_end = 10 + sunpack("<I2", good, 9)

      -- The error loading these bytes, after the "tessera.matrix.load: 'path': " prefix.
      local function load_bytes(bytes)
        local path = os.tmpname() .. ".npy"
        local ok, msg = pcall(function()
          write_file(path, bytes)
          return error_of(function() return matrix.load(path) end)
        end)
        os.remove(path)
        os.remove(path:sub(1, -5))
        assert(ok, msg)
        local prefix = "tessera.matrix.load: '" .. path .. "': "
        assert.equal(prefix, msg:sub(1, #prefix))
        return msg:sub(#prefix + 1)
      end

      it("the crafted valid file loads (C order)", function()
        local path = base .. ".npy"
        finally(function() os.remove(path) end)
        write_file(path, good)
        assert.same({ { 1, 2, 3, 4 }, { 5, 6, 7, 8 }, { 9, 10, 11, 12 } },
          matrix.load(path):totable())
      end)

      it("every truncation gives its error", function()
        assert.equal("not a .npy file (bad magic)", load_bytes(""))
        assert.equal("not a .npy file (bad magic)", load_bytes(good:sub(1, 3)))
        assert.equal("truncated preamble (the file has only 7 bytes)", load_bytes(good:sub(1, 7)))
        assert.equal("truncated preamble (the file has only 9 bytes)", load_bytes(good:sub(1, 9)))
        assert.equal(128, header_end)
        assert.equal("the header (118 bytes) runs past the end of the file (10 bytes)",
          load_bytes(good:sub(1, 10)))
        assert.equal("the header (118 bytes) runs past the end of the file (40 bytes)",
          load_bytes(good:sub(1, 40)))
        assert.equal("the data is truncated: shape (3, 4) of '<f4' needs 48 bytes, the file holds 0",
          load_bytes(good:sub(1, header_end)))
        assert.equal("the data is truncated: shape (3, 4) of '<f4' needs 48 bytes, the file holds 5",
          load_bytes(good:sub(1, header_end + 5)))
        assert.equal("the data is truncated: shape (3, 4) of '<f4' needs 48 bytes, the file holds 47",
          load_bytes(good:sub(1, #good - 1)))
      end)

      it("a corrupt magic, version or header gives its error", function()
        assert.equal("not a .npy file (bad magic)", load_bytes("\x93NUMPX" .. good:sub(7)))
        assert.equal("not a .npy file (bad magic)", load_bytes("1,2,3\n4,5,6\n"))
        assert.equal("unsupported .npy format version 4.0 (supported: 1.0, 2.0, 3.0)",
          load_bytes(good:sub(1, 6) .. "\4\0" .. good:sub(9)))
        assert.equal("bad header: unexpected or repeated key 'descx'",
          load_bytes((good:gsub("descr", "descx"))))
        assert.equal("bad header: unexpected or repeated key 'shape'",
          load_bytes(npy_bytes("{'descr': '<f4', 'shape': (1,), 'shape': (1,), }", "\0\0\0\0")))
        assert.equal("bad header: no 'fortran_order' key",
          load_bytes(npy_bytes("{'descr': '<f4', 'shape': (1,), }", "\0\0\0\0")))
        assert.equal("bad header: fortran_order must be True or False at offset 34 near 'Maybe, ?shape?:'",
          load_bytes(npy_bytes("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,), }", "")))
        assert.equal("bad header: expected '{' at offset 0 near '[?descr?]'",
          load_bytes(npy_bytes("['descr']", "")))
        assert.equal("bad header: expected ',' or ')' in the shape at offset 55 near ']'",
          load_bytes(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2]", "")))
        assert.equal("bad header: expected ',' or '}' at offset 16 near '?fortran_order?:'",
          load_bytes(npy_bytes("{'descr': '<f4' 'fortran_order': False, 'shape': (1,), }", "")))
        assert.equal("bad header: unexpected text after the dictionary at offset 58 near 'extra'",
          load_bytes(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } extra",
            "\0\0\0\0")))
        assert.equal("bad header: string too long at offset 26 near ''",
          load_bytes(npy_bytes("{'descr': '<f4", "")))
        assert.equal("bad header: unterminated string at offset 6 near ''",
          load_bytes("\x93NUMPY\1\0\6\0{'desc"))
        assert.equal("bad header: escapes in strings are not supported at offset 2 near '\\?x?:'",
          load_bytes("\x93NUMPY\1\0\7\0{'\\'x':"))
      end)

      it("a header claiming more data than the file holds gives its error", function()
        local claims_more = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (30, 4), }",
          f4_data({ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 }))
        assert.equal("the data is truncated: shape (30, 4) of '<f4' needs 480 bytes, the file holds 48",
          load_bytes(claims_more))
        local huge_v2 = "\x93NUMPY\2\0" .. spack("<I4", 0xfffffff0) .. "{}"
        assert.equal("the header (4294967280 bytes) runs past the end of the file (14 bytes)",
          load_bytes(huge_v2))
      end)

      it("a shape whose size overflows gives its error", function()
        assert.equal("shape (9223372036854775807, 3) is too large",
          load_bytes(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775807, 3), }", "")))
        assert.equal("shape (4611686018427387904, 4) is too large",
          load_bytes(npy_bytes("{'descr': '<f8', 'fortran_order': True, 'shape': (4611686018427387904, 4), }", "")))
        assert.equal("bad header: dimension too large at offset 69 near '8, 3), }'",
          load_bytes(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775808, 3), }", "")))
      end)
    end)
  end)

  describe("save() and load() with .csv", function()
    local base
    before_each(function() base = os.tmpname() end)
    after_each(function() os.remove(base) end)

    it("round-trips float32 exactly with %.9g", function()
      local path = base .. ".csv"
      finally(function() os.remove(path) end)
      local t = random_rows(11, 8, 99)
      t[1][1], t[2][2] = f32(1e-30), f32(-3.4e38)
      local M = matrix.from(t)
      M:save(path)
      assert.same(t, matrix.load(path):totable())
      local first = read_file(path):match("^[^\n]*")
      local fields = {}
      for v in first:gmatch("[^,]+") do fields[#fields + 1] = v end
      assert.equal(8, #fields)
      assert.equal(("%.9g"):format(t[1][2]), fields[2])
    end)

    it("reads a header, CRLF line ends, spaces and trailing blank lines", function()
      local path = base .. ".csv"
      finally(function() os.remove(path) end)
      write_file(path, "time, freq ,amp\r\n1, 2.5 ,-3\r\n 4e2,5,6\r\n\r\n  \n")
      assert.same({ { 1, 2.5, -3 }, { 400, 5, 6 } }, matrix.load(path):totable())
      write_file(path, "7")
      assert.same({ { 7 } }, matrix.load(path):totable())
    end)

    it("reads what NumPy's savetxt writes, and NumPy reads tessera's CSV", function()
      local path, path2 = base .. ".csv", base .. "2.csv"
      finally(function() os.remove(path); os.remove(path2) end)
      python([[
import sys, numpy as np
a = (np.arange(20, dtype=np.float64).reshape(4, 5) - 7) / 3
np.savetxt(sys.argv[1], a, delimiter=",", header="a,b,c,d,e", comments="")
]], path)
      local M = matrix.load(path)
      assert.same({ 4, 5 }, { M:shape() })
      for i = 1, 4 do
        for j = 1, 5 do assert.equal(f32(((i - 1) * 5 + (j - 1) - 7) / 3), M:get(i, j)) end
      end
      M:save(path2)
      local out = python([[
import sys, numpy as np
a = np.loadtxt(sys.argv[1], delimiter=",", dtype=np.float32)
b = ((np.arange(20, dtype=np.float64).reshape(4, 5) - 7) / 3).astype(np.float32)
print(a.shape, bool((a == b).all()))
]], path2)
      assert.equal("(4, 5) True\n", out)
    end)

    it("rejects bad CSV, naming the line and column", function()
      local path = base .. ".csv"
      finally(function() os.remove(path) end)
      local function csv_error(text)
        write_file(path, text)
        local msg = error_of(function() return matrix.load(path) end)
        local prefix = "tessera.matrix.load: '" .. path .. "': "
        assert.equal(prefix, msg:sub(1, #prefix))
        return msg:sub(#prefix + 1)
      end
      assert.equal("line 3 has 2 columns, expected 3 as on line 2", csv_error("a,b,c\n1,2,3\n4,5\n"))
      assert.equal("line 2 has 1 column, expected 2 as on line 1", csv_error("1,2\n3\n"))
      assert.equal("line 2, column 2: bad number 'x'", csv_error("1,2,3\n4,x,6\n"))
      assert.equal("line 1, column 3: bad number ''", csv_error("1,2,\n"))
      assert.equal("line 2, column 1: bad number '1.5.2'", csv_error("1\n1.5.2\n"))
      assert.equal("line 2 is blank (blank lines may only come at the end)", csv_error("1,2\n\n3,4\n"))
      assert.equal("line 1, column 2: 1e999 does not fit in float32", csv_error("1,1e999\n"))
      assert.equal("line 1, column 1: 1e39 does not fit in float32", csv_error("1e39\n"))
      assert.equal("the file is empty", csv_error(""))
      assert.equal("no data rows, only blank lines", csv_error("\n \n"))
      assert.equal("no data rows after the header", csv_error("a,b,c\n"))
      assert.equal("line 2, column 1: bad number '" .. ("9"):rep(40) .. "...'",
        csv_error("1\n" .. ("9"):rep(200) .. "\n"))
    end)

    it("refuses to save a matrix with no elements", function()
      local path = base .. ".csv"
      assert.equal("tessera.matrix.save: cannot save '" .. path .. "': a 0 x 3 matrix has no "
        .. "values to write as CSV (use .npy)",
        error_of(function() return matrix.new(0, 3):save(path) end))
      assert.is_false(exists(path))
    end)
  end)

  describe("load() and save() errors", function()
    it("reads an empty shape with 10^10 rows at once (a fuzzer's slow input)", function()
      local dir, cleanup = temp_dir()
      finally(cleanup)
      local header = "{'descr': '>f4', 'fortran_order': False, 'shape': (9999999993, 0), }"
      header = header .. string.rep(" ", 63 - (10 + #header) % 64) .. "\n"
      write_file(dir .. "/empty.npy", "\147NUMPY\1\0" .. spack("<I2", #header) .. header)
      local M = matrix.load(dir .. "/empty.npy")
      assert.same({ 9999999993, 0 }, { M:shape() })
      assert.is_true(M:isfinite())
    end)

    it("checks an empty shape with 10^11 columns at once (a fuzzer's slow input)", function()
      local dir, cleanup = temp_dir()
      finally(cleanup)
      local header = "{'descr': '|u1', 'fortran_order': False, 'shape': (0, 539999999999), }"
      header = header .. string.rep(" ", 63 - (10 + #header) % 64) .. "\n"
      write_file(dir .. "/wide.npy", "\147NUMPY\1\0" .. spack("<I2", #header) .. header)
      local M = matrix.load(dir .. "/wide.npy")
      assert.same({ 0, 539999999999 }, { M:shape() })
      assert.is_true(M:isfinite()) -- no entries: nothing to visit, column by column or not
    end)

    it("name the valid extensions", function()
      assert.equal("tessera.matrix.load: 'm.txt': unknown file extension (valid: .npy, .csv)",
        error_of(function() return matrix.load("m.txt") end))
      assert.equal("tessera.matrix.save: 'm': unknown file extension (valid: .npy, .csv)",
        error_of(function() return matrix.new(1, 1):save("m") end))
      assert.equal("bad argument #1 to 'load' (string expected, got no value)",
        error_of(function() return matrix.load() end))
    end)

    it("name a file that cannot be opened", function()
      local dir, cleanup = temp_dir()
      finally(cleanup)
      assert.equal("tessera.matrix.load: cannot open '" .. dir .. "/none.npy': No such file or directory",
        error_of(function() return matrix.load(dir .. "/none.npy") end))
      assert.equal("tessera.matrix.load: cannot open '" .. dir .. "/none.CSV': No such file or directory",
        error_of(function() return matrix.load(dir .. "/none.CSV") end))
      assert(os.execute("mkdir " .. shell_quote(dir .. "/d.npy")))
      assert.equal("tessera.matrix.load: cannot read '" .. dir .. "/d.npy': Is a directory",
        error_of(function() return matrix.load(dir .. "/d.npy") end))
    end)

    it("save to a missing folder fails cleanly and leaves nothing", function()
      local dir, cleanup = temp_dir()
      finally(cleanup)
      local M = matrix.new(2, 2, 1)
      for _, ext in ipairs({ ".npy", ".csv" }) do
        local path = dir .. "/missing/m" .. ext
        assert.equal("tessera.matrix.save: cannot write '" .. path .. "': No such file or directory",
          error_of(function() return M:save(path) end))
      end
      write_file(dir .. "/file", "x")
      local path = dir .. "/file/m.npy"
      assert.equal("tessera.matrix.save: cannot write '" .. path .. "': Not a directory",
        error_of(function() return M:save(path) end))
      assert.same({ "file" }, entries(dir))
    end)

    it("refuses NaN and Inf, naming the first, and leaves the old file untouched", function()
      local dir, cleanup = temp_dir()
      finally(cleanup)
      for _, ext in ipairs({ ".npy", ".csv" }) do
        local path = dir .. "/m" .. ext
        local M = matrix.new(3, 2, 1)
        M:save(path)
        local before = read_file(path)
        M:set(3, 1, 0 / 0)
        M:set(1, 2, huge)
        assert.equal("tessera.matrix.save: cannot save '" .. path .. "': the matrix holds nan "
          .. "at row 3, column 1 (NaN and Inf are never written)",
          error_of(function() return M:save(path) end))
        M:set(3, 1, 0)
        assert.equal("tessera.matrix.save: cannot save '" .. path .. "': the matrix holds inf "
          .. "at row 1, column 2 (NaN and Inf are never written)",
          error_of(function() return M:save(path) end))
        assert.equal(before, read_file(path))
        os.remove(path)
        assert.equal("tessera.matrix.save: cannot save '" .. path .. "': the matrix holds inf "
          .. "at row 1, column 2 (NaN and Inf are never written)",
          error_of(function() return M:save(path) end))
        assert.is_false(exists(path))
      end
      assert.same({}, entries(dir))
    end)

    it("replace an existing file whole", function()
      local dir, cleanup = temp_dir()
      finally(cleanup)
      local path = dir .. "/m.npy"
      matrix.new(100, 100, 2):save(path)
      matrix.new(1, 2, 3):save(path)
      assert.same({ { 3, 3 } }, matrix.load(path):totable())
      assert.same({ "m.npy" }, entries(dir))
    end)
  end)
end)
