-- tessera.core.matrix.place: activation rows stretched, shifted, looped and scaled in one
-- C call, against the plain Lua that mosaic rendering used before (the reference), on the
-- activations of a real decomposition.
local tessera = require "tessera"
local matrix = tessera.matrix

-- The reference: the value of act (a list) at fractional frame x (0-based), interpolated.
local function sample(act, x, loop)
  local i = math.floor(x)
  local frac = x - i
  local v0 = act[i + 1]
  if frac == 0 then return v0 end
  local v1 = act[i + 2]
  if v1 == nil then v1 = loop and act[1] or v0 end
  return v0 + (v1 - v0) * frac
end

-- The reference placement: adds p's row onto out_row (a list of frames) in double.
local function place_lua(out_row, p)
  local act = p.H:row(p.row):totable()[1]
  local last = #act - 1
  local stretch, gain, shift = p.stretch or 1, p.gain or 1, p.shift or 0
  local period = p.period or #act
  for t = 0, #out_row - 1 do
    local x = (t - shift) / stretch
    if p.loop then
      x = x % period
      if x > last then x = last end
      out_row[t + 1] = out_row[t + 1] + gain * sample(act, x, true)
    elseif x >= 0 and x <= last then
      out_row[t + 1] = out_row[t + 1] + gain * sample(act, x, false)
    end
  end
end

local function reference(rows, frames, list)
  local out = {}
  for j = 1, rows do
    out[j] = {}
    for t = 1, frames do out[j][t] = 0.0 end
  end
  for _, p in ipairs(list) do place_lua(out[p.to], p) end
  return matrix.from(out)
end

local function assert_same_matrix(want, got)
  local r, c = want:shape()
  local r2, c2 = got:shape()
  assert.same({ r, c }, { r2, c2 })
  for i = 1, r do
    for j = 1, c do
      local a, b = want:get(i, j), got:get(i, j)
      if a ~= b then error(("(%d, %d): got %.9g, expected %.9g"):format(i, j, b, a)) end
    end
  end
end

describe("tessera.core.matrix", function()
  describe("place()", function()
    local H, H2
    setup(function()
      local a = tessera.audio.load("/usr/share/sonic-pi/samples/loop_amen.flac",
                                   { sr = 22050, mono = true })
      local V = tessera.stft(a, { magnitude = true })
      H = tessera.nmf(V, { k = 4, loss = "kl", max_iter = 40, progress = false }).H
      local b = tessera.audio.load("/usr/share/sonic-pi/samples/loop_tabla.flac",
                                   { sr = 22050, mono = true, duration = 2 })
      H2 = tessera.nmf(tessera.stft(b, { magnitude = true }),
                       { k = 3, loss = "kl", max_iter = 40, progress = false }).H
    end)

    it("places rows as the Lua reference does, to the last bit", function()
      local _, p = H:shape()
      local cases = {
        { { H = H, row = 1, to = 1 } },
        { { H = H, row = 2, to = 1, gain = 0.6, stretch = 2 } },
        { { H = H, row = 3, to = 2, gain = 0.5, shift = 18.84, loop = true, period = p - 0.37 } },
        { { H = H, row = 4, to = 3, stretch = 0.75, shift = -7.5, loop = true, period = p + 3.2 } },
        { { H = H, row = 1, to = 2, shift = 21.53, loop = false, gain = 0.3 },
          { H = H2, row = 2, to = 2, stretch = 1.3, loop = true },
          { H = H2, row = 3, to = 1, gain = 2, stretch = 0.5, shift = 3 },
          { H = H, row = 4, to = 2, gain = -1, loop = true, period = 17 } },
      }
      for _, list in ipairs(cases) do
        for _, frames in ipairs({ 1, p - 5, 2 * p + 11 }) do
          assert_same_matrix(reference(3, frames, list), matrix.place(3, frames, list))
        end
      end
    end)

    it("gives zeros where nothing is placed, and an empty list a zero matrix", function()
      local M = matrix.place(2, 5, {})
      assert.equal(0, M:sum())
      assert.same({ 2, 5 }, { M:shape() })
      local _, p = H:shape()
      local late = matrix.place(1, 10, { { H = H, row = 1, to = 1, shift = p + 100 } })
      assert.equal(0, late:sum())
    end)

    it("names the bad placement and value", function()
      local M = matrix.new(2, 8, 1)
      local function err(list, msg, rows)
        assert.has_error(function() matrix.place(rows or 2, 4, list) end,
          "bad argument #3 to 'place' (" .. msg .. ")")
      end
      err({ "x" }, "placement 1 must be a table, got string 'x'")
      err({ { H = M, row = 1, to = 1 }, { H = {}, row = 1, to = 1 } },
        "placement 2: H must be a Matrix, got table")
      err({ { H = M, to = 1 } }, "placement 1: row is missing")
      err({ { H = M, row = 1.5, to = 1 } }, "placement 1: row must be an integer, got number")
      err({ { H = M, row = 3, to = 1 } }, "placement 1: row must be in 1..2, got 3")
      err({ { H = M, row = 1, to = 0 } }, "placement 1: to must be in 1..2, got 0")
      err({ { H = M, row = 1, to = 2 } }, "placement 1: to must be in 1..1, got 2", 1)
      err({ { H = M, row = 1, to = 1, stretch = 0 } },
        "placement 1: stretch must be a positive number, got 0")
      err({ { H = M, row = 1, to = 1, stretch = "2" } },
        "placement 1: stretch must be a number, got string '2'")
      err({ { H = M, row = 1, to = 1, gain = 0 / 0 } }, "placement 1: gain must be finite, got nan")
      err({ { H = M, row = 1, to = 1, shift = math.huge } },
        "placement 1: shift must be finite, got inf")
      err({ { H = M, row = 1, to = 1, loop = true, period = -3 } },
        "placement 1: period must be a positive number, got -3")
      err({ { H = M, row = 1, to = 1, loop = 1 } },
        "placement 1: loop must be a boolean, got number")
      err({ { H = M, row = 1, to = 1, speed = 2 } },
        "placement 1: unknown key 'speed' (valid: H, row, to, gain, stretch, shift, loop, period)")
      err({ { H = matrix.new(2, 0), row = 1, to = 1 } }, "placement 1: its matrix has no frames")
      assert.has_error(function() matrix.place(-1, 4, {}) end,
        "bad argument #1 to 'place' (rows must be >= 0, got -1)")
      assert.has_error(function() matrix.place(1, -4, {}) end,
        "bad argument #2 to 'place' (frames must be >= 0, got -4)")
    end)
  end)
end)
