-- Specs for tessera.mixture (known mixtures from real sounds) and `tessera mix`: the mix is
-- the sum of its stems, each stem sounds exactly at its onsets, a real one-shot is found
-- where it was put, seeds make files bit-identical, sources are resampled and mixed down,
-- the folder is written whole, and every bad input gets a message naming it.
local tessera = require "tessera"
local helpers = require "helpers"
local mixture = require "tessera.mixture"

local audio = tessera.audio
local SAMPLES = helpers.samples .. "/"
local SNARE = SAMPLES .. "drum_snare_hard.flac"
local KICK = SAMPLES .. "drum_bass_hard.flac"
local HAT = SAMPLES .. "drum_cymbal_closed.flac"
local BIN = helpers.root .. "/bin/tessera"
local q = helpers.shell_quote

-- A one-sample click at 1000 Hz.
local function click()
  return audio.from({ 1 }, 1000)
end

-- The 0-based indices of the nonzero samples of a.
local function nonzero(a)
  local at = {}
  for i, v in ipairs(a:totable()) do
    if v ~= 0 then at[#at + 1] = i - 1 end
  end
  return at
end

local function max_abs_diff(a, b)
  local x, y = a:totable(), b:totable()
  assert.equal(#x, #y)
  local d = 0
  for i = 1, #x do d = math.max(d, math.abs(x[i] - y[i])) end
  return d
end

local function drums(seed)
  return {
    sr = 22050, duration = 2, seed = seed or 1, bpm = 120,
    stems = {
      { name = "kick", file = KICK, pattern = "x...x...|x.x.x..." },
      { name = "snare", file = SNARE, onsets = { 0.5, 1.5 }, db = -3 },
      { name = "hat", file = HAT, every = 0.25, offset = 0.125, gain = 0.5, jitter = 0.005,
        gain_jitter = 2 },
    },
  }
end

-- Messages the error specs asserted: docs/bad-input.md's K rows must be among them.
local asserted = {}

local function errors(spec, msg)
  assert.has_error(function() mixture(spec) end, msg)
  asserted[msg] = true
end

describe("tessera.mixture", function()
  describe("mixture{}", function()
    it("makes a mix that is exactly the sum of its stems, scaled together when it would clip", function()
      local m = tessera.mixture(drums())
      assert.equal(3, #m.stems)
      assert.same({ "kick", "snare", "hat" }, m.names)
      assert.equal(m.stems[2], m.by_name.snare)
      assert.equal(44100, #m.mix)
      assert.equal(22050, m.sr)
      local sum = m.stems[1].audio:mix(m.stems[2].audio):mix(m.stems[3].audio)
      assert.equal(0, max_abs_diff(m.mix, sum))
      -- The kick alone peaks at 1, so the mix would clip: everything got one factor.
      assert.is_true(m.peak > 1, tostring(m.peak))
      assert.near(0.99 / m.peak, m.scale, 1e-12)
      assert.near(0.99, m.mix:peak(), 1e-6)
      local spec = drums()
      spec.normalize = false
      local raw = tessera.mixture(spec)
      assert.equal(1, raw.scale)
      assert.equal(m.peak, raw.mix:peak())
      for i = 1, 3 do
        local x, y = m.stems[i].audio:totable(), raw.stems[i].audio:totable()
        for j = 1, #x, 101 do assert.near(y[j] * m.scale, x[j], 1e-7) end
      end
    end)

    it("puts a click's energy exactly at each onset's sample, and nowhere else", function()
      local m = tessera.mixture {
        sr = 1000, duration = 1,
        stems = {
          { name = "list", audio = click(), onsets = { 0.1, 0.25, 0.5004, 0.999 } },
          { name = "steps", audio = click(), pattern = "x.x. x...", step = 0.05, offset = 0.01 },
          { name = "pulse", audio = click(), every = 0.3, offset = 0.15, gain = 0.5 },
        },
      }
      assert.same({ 100, 250, 500, 999 }, nonzero(m.by_name.list.audio))
      -- 8 steps of 50 ms (the space is for the eye), repeated: hits at steps 0, 2, 4.
      assert.same({ 10, 110, 210, 410, 510, 610, 810, 910 }, nonzero(m.by_name.steps.audio))
      assert.same({ 150, 450, 750 }, nonzero(m.by_name.pulse.audio))
      assert.equal(0.5, m.by_name.pulse.audio:get(151))
      assert.equal(1, m.scale)
      local once = tessera.mixture {
        sr = 1000, duration = 1,
        stems = { { name = "once", audio = click(), pattern = "x.x", step = 0.1, loop = false } },
      }
      assert.same({ 0, 200 }, nonzero(once.stems[1].audio))
    end)

    it("finds a real one-shot at its onset in the mix (cross-correlation peak)", function()
      local onset = 0.3
      local m = tessera.mixture {
        sr = 22050, duration = 1, seed = 3,
        stems = {
          { name = "snare", file = SNARE, onsets = { onset } },
          { name = "kick", file = KICK, onsets = { 0.05, 0.7 }, db = -6 },
          { name = "hat", file = HAT, every = 0.2, gain = 0.3, jitter = 0.01 },
        },
      }
      local y = m.mix:totable()
      local src = audio.load(SNARE, { sr = 22050 }):totable()
      local best, best_lag = -math.huge, nil
      for lag = 0, #y - 512 do
        local s = 0
        for j = 1, 512 do s = s + y[lag + j] * src[j] end
        if s > best then best, best_lag = s, lag end
      end
      assert.equal(math.floor(onset * 22050 + 0.5), best_lag)
      -- And the snare's stem is the resampled one-shot itself, from its onset on.
      local stem = m.by_name.snare.audio
      for j = 1, #src, 997 do assert.near(src[j] * m.scale, stem:get(6615 + j), 1e-7) end
      assert.equal(0, stem:get(6615))
    end)

    it("writes the requested onsets, and jitter moves them reproducibly", function()
      local m = tessera.mixture(drums(7))
      local snare = m.by_name.snare.onsets
      assert.same({ 0.5, 1.5 }, { snare[1].time, snare[2].time })
      assert.same({ 11025, 33075 }, { snare[1].sample, snare[2].sample })
      assert.near(10 ^ (-3 / 20) * m.scale, snare[1].gain, 1e-12)
      local kick = {}
      for i, o in ipairs(m.by_name.kick.onsets) do kick[i] = o.time end
      assert.same({ 0, 0.5, 1, 1.25, 1.5 }, kick)
      local hat = m.by_name.hat.onsets
      assert.equal(8, #hat)
      local moved = 0
      for i, o in ipairs(hat) do
        local t = 0.125 + (i - 1) * 0.25
        assert.is_true(math.abs(o.time - t) <= 0.005, o.time)
        if o.time ~= t then moved = moved + 1 end
        local db = 20 * math.log(o.gain / (0.5 * m.scale), 10)
        assert.is_true(math.abs(db) <= 2 + 1e-9, db)
      end
      assert.equal(8, moved)
      local again = tessera.mixture(drums(7))
      local other = tessera.mixture(drums(8))
      assert.equal(0, max_abs_diff(m.mix, again.mix))
      assert.same(m.by_name.hat.onsets, again.by_name.hat.onsets)
      assert.are_not.same(m.by_name.hat.onsets, other.by_name.hat.onsets)
      -- The kick and snare have no jitter: a new seed does not move them.
      for i, o in ipairs(m.by_name.kick.onsets) do
        assert.same({ o.time, o.sample }, { other.by_name.kick.onsets[i].time, other.by_name.kick.onsets[i].sample })
      end
    end)

    it("resamples a 44.1 kHz source into a 22.05 kHz mix keeping its duration and pitch", function()
      local dir = helpers.tmpdir()
      finally(function() helpers.rmtree(dir) end)
      local n, f = 44100, 441 -- one second of 441 Hz
      local x = {}
      for i = 1, n do x[i] = 0.5 * math.sin(2 * math.pi * f * (i - 1) / 44100) end
      audio.from(x, 44100):save(dir .. "/sine.wav")
      local m = tessera.mixture { sr = 22050, duration = 2,
        stems = { { name = "sine", file = dir .. "/sine.wav", onsets = { 0.5 } } } }
      local y = m.stems[1].audio:totable()
      local first, last, crossings = nil, nil, 0
      for i = 1, #y do
        if math.abs(y[i]) > 1e-3 then
          first = first or i
          last = i
        end
        if i > 1 and y[i - 1] < 0 and y[i] >= 0 then crossings = crossings + 1 end
      end
      assert.is_true(math.abs((last - first) / 22050 - 1) < 0.002, (last - first) / 22050)
      assert.is_true(math.abs(first - 1 - 11025) <= 2, first)
      assert.is_true(math.abs(crossings - f) <= 1, crossings)
    end)

    it("mixes a stereo source down to mono (the mean of its channels)", function()
      local stereo = audio.from({ { 1, 1 }, { 0.5, 0.5 } }, 1000)
      local m = tessera.mixture { sr = 1000, duration = 0.01,
        stems = { { name = "s", audio = stereo, onsets = { 0.002 } } } }
      assert.same({ 0, 0, 0.75, 0.75, 0, 0, 0, 0, 0, 0 }, m.mix:totable())
    end)

    it("normalizes to a peak on request, or never", function()
      local spec = drums()
      spec.normalize = 0.5
      local m = tessera.mixture(spec)
      assert.near(0.5, m.mix:peak(), 1e-6)
      assert.near(0.5 / m.peak, m.scale, 1e-12)
      spec.normalize = false
      m = tessera.mixture(spec)
      assert.equal(1, m.scale)
      assert.is_true(m.mix:peak() > 1)
      local quiet = tessera.mixture { sr = 1000, duration = 0.1,
        stems = { { name = "c", audio = click(), onsets = { 0 }, gain = 0.25 } } }
      assert.equal(1, quiet.scale)
      assert.equal(0.25, quiet.mix:peak())
    end)

    it("cuts a sound that runs past the end", function()
      local long = audio.from({ 1, 1, 1, 1, 1 }, 1000)
      local m = tessera.mixture { sr = 1000, duration = 0.004,
        stems = { { name = "l", audio = long, onsets = { 0.002 } } } }
      assert.same({ 0, 0, 1, 1 }, m.mix:totable())
    end)
  end)

  describe("errors", function()
    local function one(stem, top)
      local spec = { sr = 1000, duration = 1, stems = { stem } }
      for k, v in pairs(top or {}) do spec[k] = v end
      return spec
    end

    it("names the key and the value", function()
      errors(one({ name = "k", file = "/nonexistent/kick.wav", onsets = { 0 } }),
        "tessera.mixture: stem 'k': key 'file': tessera.audio.load: cannot open '/nonexistent/kick.wav': "
        .. "No such file or directory")
      errors(one({ name = "k", audio = click(), onsets = { 0.5, 1.2 } }),
        "tessera.mixture: stem 'k': onset 2 (1.2 s) is beyond the mix's end (1 s)")
      errors(one({ name = "k", audio = click(), onsets = { 0 }, gain = -1 }),
        "tessera.mixture: stem 'k': key 'gain' must be a number >= 0 (a linear factor), got number -1")
      errors(one({ name = "k", audio = click(), onsets = { 0 }, gain = 1, db = -3 }),
        "tessera.mixture: stem 'k': give 'gain' (linear) or 'db', not both")
      errors(one({ name = "k", audio = click(), onsets = { 0 } }, { duration = -2 }),
        "tessera.mixture: key 'duration' must be a number > 0 (seconds), got number -2")
      errors(one({ name = "k", audio = click(), onsets = { 0 } }, { duration = 0.0001 }),
        "tessera.mixture: key 'duration': 0.0001 s at 1000 Hz is less than one sample")
      errors({ sr = 1000, stems = {} }, "tessera.mixture: key 'duration' (seconds) is missing")
      errors({ sr = 1000, duration = 1, stems = {} },
        "tessera.mixture: key 'stems' is empty (a mixture needs a stem)")
      errors(one({ name = "k", audio = click(), onsets = { 0 }, gian = 2 }),
        "tessera.mixture: stem 'k': unknown key 'gian' (valid: " .. table.concat(mixture.stem_keys, ", ")
          .. "); did you mean 'gain'?")
      errors(one({ name = "k", audio = click(), onsets = { 0 } }, { tempo = 3 }),
        "tessera.mixture: unknown key 'tempo' (valid: " .. table.concat(mixture.keys, ", ") .. ")")
      errors(one({ name = "k", audio = click(), onsets = {} }),
        "tessera.mixture: stem 'k': key 'onsets' is empty (a stem needs at least one onset)")
      errors(one({ name = "k", audio = click(), onsets = { 0, -1 } }),
        "tessera.mixture: stem 'k': onset 2 must be a number of seconds >= 0, got number -1")
      errors(one({ name = "k", audio = click(), pattern = "....", step = 0.1 }),
        "tessera.mixture: stem 'k': no onset falls inside the mix (1 s)")
      errors(one({ name = "k", audio = audio.new(0, 1000), onsets = { 0 } }),
        "tessera.mixture: stem 'k': the source 'audio' has no samples")
      errors(one({ name = "k", audio = click() }),
        "tessera.mixture: stem 'k': give exactly one of 'onsets', 'pattern' or 'every' (got none)")
      errors(one({ name = "k", audio = click(), onsets = { 0 }, every = 1 }),
        "tessera.mixture: stem 'k': give exactly one of 'onsets', 'pattern' or 'every' (got onsets, every)")
      errors(one({ audio = click(), onsets = { 0 } }),
        "tessera.mixture: stem 1: key 'name' is needed for a stem made from audio")
      errors({ sr = 1000, duration = 1, stems = { { name = "a", audio = click(), onsets = { 0 } },
                                                  { name = "a", audio = click(), onsets = { 0 } } } },
        "tessera.mixture: stem 2: name 'a' is used by stem 1 too")
      errors(one({ name = "../x", audio = click(), onsets = { 0 } }),
        "tessera.mixture: stem 1: key 'name' must be a word of letters, digits, '_', '-' and '.' "
        .. "(a file name), got string '../x'")
      errors(one({ name = "k", audio = click(), every = 0 }),
        "tessera.mixture: stem 'k': key 'every' must be a number > 0 (seconds), got number 0")
    end)

    it("points at the position of a bad pattern character", function()
      errors(one({ name = "k", audio = click(), pattern = "x..o", step = 0.1 }),
        "tessera.mixture: stem 'k': key 'pattern': unexpected 'o' at position 4 of 'x..o' "
        .. "(x is a hit; '.' or '-' a rest; '|' and spaces separate)")
      errors(one({ name = "k", audio = click(), pattern = " | ", step = 0.1 }),
        "tessera.mixture: stem 'k': key 'pattern': ' | ' has no steps "
        .. "(x is a hit; '.' or '-' a rest; '|' and spaces separate)")
      errors(one({ name = "k", audio = click(), pattern = "x..." }),
        "tessera.mixture: stem 'k': a pattern needs 'step' (seconds) or 'bpm' (here or at the top)")
      errors(one({ name = "k", audio = click(), onsets = { 0 }, step = 0.1 }),
        "tessera.mixture: stem 'k': key 'step' goes with 'pattern'")
    end)
  end)

  it("lists its errors in docs/bad-input.md (the K rows), each as asserted above", function()
    local doc = assert(helpers.read_file(helpers.root .. "/docs/bad-input.md"))
    local n = 0
    for line in doc:gmatch("\n(| K%d+ |[^\n]*)") do
      local msg = line:match("| `([^`]*)` |$")
      assert.truthy(msg and asserted[msg:gsub("\\|", "|")], line)
      n = n + 1
    end
    assert.is_true(n >= 12, tostring(n))
  end)

  describe("write()", function()
    it("writes mix.wav, stems/*.wav, onsets/*.csv and mixture.json that read back exactly", function()
      local dir = helpers.tmpdir()
      finally(function() helpers.rmtree(dir) end)
      local m = tessera.mixture(drums())
      local out = dir .. "/mix1"
      assert.equal(out, mixture.write(m, out))
      assert.same({ "mix.wav", "mixture.json", "onsets", "stems" }, helpers.listdir(out))
      assert.same({ "hat.wav", "kick.wav", "snare.wav" }, helpers.listdir(out .. "/stems"))
      local stems = {}
      for i, name in ipairs(m.names) do stems[i] = audio.load(out .. "/stems/" .. name .. ".wav", { sr = 22050 }) end
      local mix = audio.load(out .. "/mix.wav", { sr = 22050 })
      assert.equal(0, max_abs_diff(mix, stems[1]:mix(stems[2]):mix(stems[3])))
      assert.equal(0, max_abs_diff(mix, m.mix))
      local csv = helpers.read_file(out .. "/onsets/snare.csv")
      local rows = {}
      for t, n, g in csv:gmatch("\n([^,\n]+),([^,\n]+),([^,\n]+)") do
        rows[#rows + 1] = { tonumber(t), tonumber(n), tonumber(g) }
      end
      assert.equal("time,sample,gain\n", csv:match("^[^\n]*\n"))
      assert.same({ { 0.5, 11025, m.by_name.snare.onsets[1].gain },
                    { 1.5, 33075, m.by_name.snare.onsets[2].gain } }, rows)
      local meta = require("tessera.json").decode(helpers.read_file(out .. "/mixture.json"))
      assert.equal(m.scale, meta.scale)
      assert.equal(44100, meta.frames)
      -- Written again over itself: replaced, with no temporaries left beside it.
      mixture.write(m, out)
      assert.same({ "mix1" }, helpers.listdir(dir))
    end)

    it("refuses to replace a folder that is not a mixture", function()
      local dir = helpers.tmpdir()
      finally(function() helpers.rmtree(dir) end)
      helpers.write_file(dir .. "/notes.txt", "mine")
      local m = tessera.mixture { sr = 1000, duration = 0.1,
        stems = { { name = "c", audio = click(), onsets = { 0 } } } }
      assert.has_error(function() mixture.write(m, dir) end,
        "tessera.mixture: '" .. dir .. "' exists and does not hold a mixture (no mixture.json): not replacing it")
      assert.same({ "notes.txt" }, helpers.listdir(dir))
    end)
  end)

  describe("bin/tessera mix", function()
    local function recipe(dir, body)
      helpers.write_file(dir .. "/r.lua", body)
      return dir .. "/r.lua"
    end
    local DRUMS = [[
return {
  duration = 2, sr = 22050, seed = 1, bpm = 120, normalize = false,
  stems = {
    { name = "kick", file = "/usr/share/sonic-pi/samples/drum_bass_hard.flac", pattern = "x...x...|x.x.x..." },
    { name = "hat", file = "/usr/share/sonic-pi/samples/drum_cymbal_closed.flac", every = 0.25, jitter = 0.01 },
  },
}]]

    it("writes the folder, bit-identical for the same seed and different for another", function()
      local dir = helpers.tmpdir()
      finally(function() helpers.rmtree(dir) end)
      local r = recipe(dir, DRUMS)
      for _, run in ipairs({ { "a", "" }, { "b", "" }, { "c", " --seed 2" } }) do
        local out, ok = helpers.run(q(BIN) .. " mix " .. q(r) .. " -o " .. q(dir .. "/" .. run[1]) .. run[2] .. " 2>&1")
        assert.is_true(ok, out)
        assert.truthy(out:match("^wrote .*/" .. run[1]
          .. ": 2%.00 s at 22050 Hz, 2 stems %(onsets: kick 5, hat 8%)"), out)
      end
      for _, f in ipairs({ "mix.wav", "stems/kick.wav", "stems/hat.wav", "onsets/kick.csv", "onsets/hat.csv",
                           "mixture.json" }) do
        assert.equal(helpers.read_file(dir .. "/a/" .. f), helpers.read_file(dir .. "/b/" .. f), f)
      end
      assert.are_not.equal(helpers.read_file(dir .. "/a/onsets/hat.csv"), helpers.read_file(dir .. "/c/onsets/hat.csv"))
      assert.are_not.equal(helpers.read_file(dir .. "/a/mix.wav"), helpers.read_file(dir .. "/c/mix.wav"))
      assert.equal(helpers.read_file(dir .. "/a/stems/kick.wav"), helpers.read_file(dir .. "/c/stems/kick.wav"))
    end)

    it("fails with one line and writes nothing on a bad recipe", function()
      local dir = helpers.tmpdir()
      finally(function() helpers.rmtree(dir) end)
      local r = recipe(dir,
        [[return { duration = 1, stems = { { name = "k", file = "none.wav", pattern = "x.y", bpm = 90 } } }]])
      local out, ok = helpers.run(q(BIN) .. " mix " .. q(r) .. " -o " .. q(dir .. "/out") .. " 2>&1")
      assert.is_falsy(ok)
      assert.equal("tessera: tessera.mixture: stem 'k': key 'pattern': unexpected 'y' at position 3 of 'x.y' "
        .. "(x is a hit; '.' or '-' a rest; '|' and spaces separate)\n", out)
      r = recipe(dir, [[return { duration = 1, stems = { { name = "k", file = "none.wav", every = 0.5 } } }]])
      out, ok = helpers.run(q(BIN) .. " mix " .. q(r) .. " -o " .. q(dir .. "/out") .. " 2>&1")
      assert.is_falsy(ok)
      assert.equal("tessera: tessera.mixture: stem 'k': key 'file': tessera.audio.load: cannot open '"
        .. dir .. "/none.wav': No such file or directory\n", out)
      r = recipe(dir, [[return { duration = 1, stems = { { name = "k", file = "/etc/passwd", every = 0.5 } } }]])
      out, ok = helpers.run(q(BIN) .. " mix " .. q(r) .. " -o " .. q(dir .. "/out") .. " 2>&1")
      assert.is_falsy(ok)
      assert.equal("tessera: tessera.mixture: stem 'k': key 'file': '/etc/passwd' is outside the folders a "
        .. "recipe may read (its own, /usr/share/sonic-pi/samples and those given with --allow)\n", out)
      r = recipe(dir, [[os.execute("touch x") return {}]])
      out, ok = helpers.run(q(BIN) .. " mix " .. q(r) .. " -o " .. q(dir .. "/out") .. " 2>&1")
      assert.is_falsy(ok)
      assert.truthy(out:match("attempt to call a nil value %(field 'execute'%)"), out)
      assert.same({ "r.lua" }, helpers.listdir(dir))
    end)

    it("documents the recipe in its help", function()
      local out, ok = helpers.run(q(BIN) .. " help mix")
      assert.is_true(ok)
      assert.truthy(out:find("pattern = \"x...x...|x.x.x...\"", 1, true), out)
      assert.truthy(out:find("normalize", 1, true), out)
    end)
  end)
end)
