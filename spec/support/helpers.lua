-- Shared spec helpers: temporary paths, shell quoting, the repo root, reading files.
local fs = require "tessera.fs"

local helpers = {}

local here = debug.getinfo(1, "S").source:match("^@(.*)/spec/support/[^/]+$")
helpers.root = here or "."

helpers.shell_quote = fs.shell_quote

-- A rows x cols Matrix of uniform values on [lo, lo + 1) (lo: 0) from math.random seeded
-- with seed.
function helpers.random_matrix(rows, cols, seed, lo)
  math.randomseed(seed)
  local t = {}
  for i = 1, rows do
    t[i] = {}
    for j = 1, cols do t[i][j] = (lo or 0) + math.random() end
  end
  return require("tessera").matrix.from(t)
end

-- The Pearson correlation of two lists of numbers of one length, written plainly (the
-- independent reference for nmf.match, nmf.group and the report's tables).
function helpers.pearson(x, y)
  local n, mx, my = #x, 0, 0
  for t = 1, n do mx, my = mx + x[t], my + y[t] end
  mx, my = mx / n, my / n
  local sxy, sxx, syy = 0, 0, 0
  for t = 1, n do
    sxy = sxy + (x[t] - mx) * (y[t] - my)
    sxx, syy = sxx + (x[t] - mx) ^ 2, syy + (y[t] - my) ^ 2
  end
  return sxy / math.sqrt(sxx * syy)
end

-- A reproducible pseudo-random signal of n samples in [-1, 1) (a 32-bit LCG from seed,
-- default 12345, so specs do not depend on math.random's generator).
function helpers.noise(n, seed)
  local state, x = seed or 12345, {}
  for i = 1, n do
    state = (1103515245 * state + 12345) % 2147483648
    x[i] = state / 1073741824 - 1
  end
  return x
end

-- The error fn(...) raises (asserting that it does), without the "file.lua:line: " a Lua
-- error starts with, so that specs compare the message itself.
function helpers.error_message(fn, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok, "expected an error")
  return (tostring(err):gsub("^[^:\n]+%.lua:%d+: ", ""))
end

-- A fresh temporary folder; remove it with helpers.rmtree in a finally block.
function helpers.tmpdir()
  local path = os.tmpname()
  os.remove(path)
  assert(fs.mkdir_p(path))
  return path
end

function helpers.rmtree(path)
  if path and path:match("^/tmp/") then fs.remove_tree(path) end
end

helpers.read_file = fs.read_file

-- Writes text to path (made or replaced).
function helpers.write_file(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

function helpers.exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

-- Lists the names in a folder (one level).
function helpers.listdir(path)
  return fs.list(path) or {}
end

-- Runs a shell command; returns its stdout, and true/false for its exit status.
function helpers.run(cmd)
  local p = io.popen(cmd)
  local out = p:read("a")
  local ok, _, code = p:close()
  return out, ok, code
end

-- Runs /usr/bin/python3 on a script text (Debian's python, which has numpy and sklearn).
function helpers.python(script)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(script)
  f:close()
  local out, ok, code = helpers.run("/usr/bin/python3 " .. helpers.shell_quote(path) .. " 2>&1")
  os.remove(path)
  return out, ok, code
end

-- The kernel paths this CPU runs (generic, avx2, avx512): what csrc/simd.c asks of it for
-- each, so that a spec can run each in a child process capped by TESSERA_SIMD.
function helpers.cpu_paths()
  local f = io.open("/proc/cpuinfo")
  local info = f and f:read("*a") or ""
  if f then f:close() end
  local flags = {}
  for flag in (info:match("\nflags%s*:([^\n]*)") or ""):gmatch("%S+") do flags[flag] = true end
  local paths = { "generic" }
  if flags.avx2 and flags.fma then
    paths[#paths + 1] = "avx2"
    if flags.avx512f and flags.avx512vl then paths[#paths + 1] = "avx512" end
  end
  return paths
end

helpers.samples = "/usr/share/sonic-pi/samples"

-- Points tessera.cache at dir; returns what puts it back, for finally().
function helpers.use_cache(dir)
  local cache = require "tessera.cache"
  local saved = cache.root
  cache.root = dir
  return function() cache.root = saved end
end

-- The largest |a[i] - b[i]| of two signals (Audio or anything with # and get) of one length.
function helpers.max_diff(a, b)
  assert(#a == #b, ("lengths %d and %d differ"):format(#a, #b))
  local d = 0
  for i = 1, #a do d = math.max(d, math.abs(a:get(i) - b:get(i))) end
  return d
end

-- A fresh folder with its own tessera cache for each test: before_each(t.setup) and
-- after_each(t.teardown) with the table this returns; t.dir is the folder during a test.
function helpers.cache_per_test()
  local t = {}
  function t.setup()
    t.dir = helpers.tmpdir()
    t.restore = helpers.use_cache(t.dir .. "/cache")
  end
  function t.teardown()
    t.restore()
    helpers.rmtree(t.dir)
  end
  return t
end

-- The sources (tessera.mosaic.sources) of recipe table t, checked with dir as its folder.
function helpers.recipe_sources(t, dir)
  local rec = require("tessera.recipe").check(t, { name = "t", dir = dir })
  return require("tessera.mosaic.sources").new(rec, { nmf = 0 })
end

-- Opens a tessera report (index.html) in headless Chromium with its #selfcheck script, which
-- waits for every image and audio element; returns the decoded result
-- {images = {{src=, width=}}, audio = {{src=, duration=}}}, or nil and what Chromium printed.
function helpers.browser_selfcheck(index)
  local profile = helpers.tmpdir()
  local out = helpers.run(string.format(
    "chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run " ..
    "--disable-background-networking --disable-component-update --disable-sync " ..
    "--user-data-dir=%s --virtual-time-budget=30000 --dump-dom %s 2>/dev/null",
    helpers.shell_quote(profile), helpers.shell_quote("file://" .. index .. "#selfcheck")))
  helpers.rmtree(profile)
  local json = out:match('<pre id="selfcheck">(.-)</pre>')
  if not json then return nil, out:sub(1, 300) end
  return require("cjson").decode(json)
end

-- The axes boxes of a gnuplot SVG: its closed rectangular border paths, {x1, y1, x2, y2}.
function helpers.svg_boxes(svg)
  local boxes = {}
  for x1, y1, y2, x2 in svg:gmatch("d='M([%d.]+),([%d.]+) L[%d.]+,([%d.]+) L([%d.]+),[%d.]+ L[%d.]+,[%d.]+ "
                                   .. "L[%d.]+,[%d.]+ Z") do
    local b = { x1 = tonumber(x1), y1 = tonumber(y1), x2 = tonumber(x2), y2 = tonumber(y2) }
    local seen = false
    for _, o in ipairs(boxes) do
      seen = seen or (o.x1 == b.x1 and o.y1 == b.y1 and o.x2 == b.x2 and o.y2 == b.y2)
    end
    if not seen then boxes[#boxes + 1] = b end
  end
  return boxes
end

-- Every place a gnuplot SVG writes a text (its group's translate): a list of {x =, y =}.
function helpers.svg_text_positions(svg, text)
  local escaped = text:gsub("&", "&amp;"):gsub("<", "&lt;"):gsub("%p", "%%%0")
  local found = {}
  for x, y in svg:gmatch('<g transform="translate%(([%d.]+),([%d.]+)%)"[^>]*>%s*<text>' .. escaped .. "</text>") do
    found[#found + 1] = { x = tonumber(x), y = tonumber(y) }
  end
  return found
end

-- Where a gnuplot SVG first writes a text: x, y, or nil.
function helpers.svg_text_at(svg, text)
  local first = helpers.svg_text_positions(svg, text)[1]
  if first then return first.x, first.y end
  return nil
end

return helpers
