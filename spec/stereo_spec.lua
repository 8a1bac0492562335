-- tessera.stereo: a stereo mix of two real loops panned apart, decomposed with shared
-- templates and per-channel activations; its components' Wiener audio adds back to each
-- channel, and the components of each loop sound on that loop's side.
local helpers = require "helpers"
local tessera = require "tessera"

local SR = 22050

-- loop_amen mostly left, ambi_choir mostly right (gains 0.9 and 0.15), 4 s; and the two.
local function panned_mix()
  local a = tessera.audio.load(helpers.samples .. "/loop_amen.flac", { sr = SR, duration = 4 })
  local b = tessera.audio.load(helpers.samples .. "/ambi_choir.flac", { sr = SR, duration = 4 })
  local n = math.min(#a, #b)
  a, b = a:slice(1, n), b:slice(1, n)
  local left, right = a:gain(0.9):mix(b:gain(0.15)), a:gain(0.15):mix(b:gain(0.9))
  return tessera.audio.join(left, right), a, b
end

describe("tessera.stereo", function()
  local mix, amen, choir = panned_mix()
  local m = tessera.stereo.decompose(mix, { k = 6, loss = "kl", max_iter = 150, seed = 1 })

  it("shares the templates and keeps each channel's activations", function()
    assert.equal(2, m.channels)
    local n, k = m.W:shape()
    assert.same({ 1025, 6 }, { n, k })
    assert.same({ 6, 2 * m.frames }, { m.H:shape() })
    local left = tessera.stereo.activations(m, 1)
    assert.equal(m.H:get(3, 5), left:get(3, 5))
    assert.equal(m.H:get(3, m.frames + 5), tessera.stereo.activations(m, 2):get(3, 5))
  end)

  it("gives components whose Wiener audio adds back to the mix within 1e-6 per channel", function()
    local sum = tessera.stereo.audio(m)
    assert.equal(2, sum.channels)
    for c = 1, 2 do
      local d = 0
      local x, y = sum:channel(c), mix:channel(c)
      for i = 1, #y do d = math.max(d, math.abs(x:get(i) - y:get(i))) end
      assert.is_true(d < 1e-6, ("channel %d: %g"):format(c, d))
    end
  end)

  it("finds each loop in its own channel", function()
    local pan = tessera.stereo.pan(m)
    local left, right = {}, {}
    for i, v in ipairs(pan) do
      if v < 0 then left[#left + 1] = i else right[#right + 1] = i end
    end
    assert.is_true(#left > 0 and #right > 0)
    -- Each side's components, summed and made mono, resemble that side's loop more.
    local function side(list)
      local y = tessera.stereo.audio(m, list)
      return y:channel(1):mix(y:channel(2))
    end
    local l, r = side(left), side(right)
    local sdr = tessera.eval.si_sdr
    assert.is_true(sdr(l, amen) > sdr(l, choir) + 10)
    assert.is_true(sdr(r, choir) > sdr(r, amen) + 10)
    for _, i in ipairs(left) do assert.is_true(pan[i] < -0.5, pan[i]) end
    for _, i in ipairs(right) do assert.is_true(pan[i] > 0.5, pan[i]) end
  end)

  it("refuses what is not stereo, naming it", function()
    assert.has_error(function() tessera.stereo.decompose(amen, { k = 2 }) end,
      "bad argument #1 to 'decompose' (stereo audio expected, got 1 channel)")
    assert.has_error(function() tessera.stereo.pan({ W = m.W }) end,
      "bad argument #1 to 'pan' (a stereo model (from tessera.stereo.decompose) expected)")
    assert.has_error(function() tessera.stereo.activations(m, 3) end,
      "bad argument #2 to 'activations' (channel must be 1 or 2, got 3)")
  end)
end)

describe("Audio channels and Matrix columns", function()
  it("splits and joins channels, and views and joins columns", function()
    local a = tessera.audio.load(helpers.samples .. "/loop_amen.flac", { mono = false })
    local j = tessera.audio.join(a:channel(1), a:channel(2))
    assert.equal(2, j.channels)
    for _, i in ipairs { 1, 1000, #a } do
      assert.equal(a:get(i, 2), j:get(i, 2))
      assert.equal(a:get(i, 1), a:channel(1):get(i))
    end
    local M = tessera.matrix.from { { 1, 2, 3 }, { 4, 5, 6 } }
    assert.same({ { 2, 3 }, { 5, 6 } }, M:cols(2, 3):totable())
    assert.same({ { 1, 2, 3, 1 }, { 4, 5, 6, 4 } }, tessera.matrix.hcat(M, M:cols(1)):totable())
    assert.has_error(function() M:cols(3, 2) end,
      "bad argument #2 to 'cols' (last column 2 comes before the first, 3)")
    assert.has_error(function() tessera.audio.join(a:channel(1), a:channel(1):slice(1, 10)) end,
      "bad argument #2 to 'join' (10 frames at 44100 Hz, the first 77321 frames at 44100 Hz)")
  end)
end)

describe("a stereo recipe", function()
  local tmp = helpers.cache_per_test()
  before_each(tmp.setup)
  after_each(tmp.teardown)

  local function render(t, opts)
    opts = opts or {}
    opts.base, opts.cache_dir = tmp.dir, tmp.dir .. "/cache"
    if opts.write == nil then opts.write = false end
    return tessera.mosaic.render(t, opts)
  end

  local function channel_energy(y, c)
    local x = y:channel(c)
    return x:rms() ^ 2
  end

  it("keeps a stereo source's image: each output channel resembles its own input channel", function()
    local mix = panned_mix()
    mix:save(tmp.dir .. "/mix.wav")
    local y, s = render { phase = "mix",
                          sources = { mix = { file = tmp.dir .. "/mix.wav", stereo = true, k = 6 } },
                          layers = { { W = "mix" } } }
    assert.equal(2, y.channels)
    assert.equal(2, s.channels)
    local sdr = tessera.eval.si_sdr
    local left, right = mix:channel(1):slice(1, #y), mix:channel(2):slice(1, #y)
    assert.is_true(sdr(y:channel(1), left) > sdr(y:channel(1), right) + 3)
    assert.is_true(sdr(y:channel(2), right) > sdr(y:channel(2), left) + 3)
    -- width 0: the image folded to the middle, both channels' magnitudes the same (their
    -- phases stay each channel's own).
    local _, narrow = render { phase = "mix",
                               sources = { mix = { file = tmp.dir .. "/mix.wav", stereo = true, k = 6 } },
                               layers = { { W = "mix", width = 0 } } }
    local D = narrow.magnitudes[1] - narrow.magnitudes[2]
    assert.equal(0, math.max(D:max(), -D:min()))
    D = s.magnitudes[1] - s.magnitudes[2]
    assert.is_true(math.max(D:max(), -D:min()) > 0.1 * s.magnitudes[1]:max())
  end)

  it("pans a mono layer with the equal-power law", function()
    local src = { amen = { file = helpers.samples .. "/loop_amen.flac", duration = 1.5, k = 3 } }
    -- At a gain that keeps every render below clipping (normalize = false scales those down).
    local hard = render { sources = src, normalize = false, layers = { { W = "amen", pan = -1, gain = 0.3 } } }
    assert.equal(2, hard.channels)
    assert.equal(0, hard:channel(2):peak())
    local centre = render { sources = src, normalize = false, channels = 2, layers = { { W = "amen", gain = 0.3 } } }
    local mono = render { sources = src, normalize = false, layers = { { W = "amen", gain = 0.3 } } }
    assert.equal(1, mono.channels)
    assert.near(channel_energy(centre, 1), channel_energy(centre, 2), 1e-9)
    assert.near(channel_energy(mono, 1), channel_energy(centre, 1), 1e-6 * channel_energy(mono, 1))
    -- Left at full power is twice the centre's (sqrt 2 in amplitude); half-left splits cos/sin.
    assert.near(2 * channel_energy(mono, 1), channel_energy(hard, 1), 1e-5 * channel_energy(mono, 1))
    local half = render { sources = src, normalize = false, layers = { { W = "amen", pan = -0.5, gain = 0.3 } } }
    local gl, gr = math.cos(math.pi / 8), math.sin(math.pi / 8)
    assert.near(gl * gl / (gr * gr), channel_energy(half, 1) / channel_energy(half, 2), 1e-4)
  end)

  it("writes the chosen rate and sample format", function()
    local src = { amen = { file = helpers.samples .. "/loop_amen.flac", duration = 1, k = 2 } }
    local y, s = render({ duration = 1, rate = 44100, format = "pcm16", sources = src,
                          layers = { { W = "amen" } } }, { write = true, out = tmp.dir .. "/o.wav" })
    assert.equal(44100, y.sr)
    assert.equal(44100, #y)
    assert.equal(44100, s.sr)
    local f = assert(io.open(tmp.dir .. "/o.wav", "rb"))
    local size = f:seek("end")
    f:close()
    assert.is_true(size >= 2 * 44100 and size < 2 * 44100 + 200, size) -- 16-bit mono samples
    local back = tessera.audio.load(tmp.dir .. "/o.wav", { mono = false })
    assert.equal(44100, back.sr)
  end)

  it("refuses outputs and keys it cannot honour, naming them", function()
    local src = { amen = { file = helpers.samples .. "/loop_amen.flac", duration = 1, k = 2 } }
    local function message(t)
      t.sources = t.sources or src
      t.layers = t.layers or { { W = "amen" } }
      return helpers.error_message(function() render(t) end)
    end
    assert.equal("tessera.mosaic: recipe: key 'channels' must be 1 or 2, got number 3", message { channels = 3 })
    assert.equal("tessera.mosaic: recipe: key 'format' must be 'float', 'pcm16' or 'pcm24', got string 'mp3'",
      message { format = "mp3" })
    assert.equal("tessera.mosaic: recipe: key 'rate' must be an integer in 1000..768000 (Hz) or " ..
      "'source', got number 10",
      message { rate = 10 })
    assert.equal("tessera.mosaic: recipe: layer 1: key 'pan' must be a number in -1..1, got number 2",
      message { layers = { { W = "amen", pan = 2 } } })
    assert.equal("tessera.mosaic: recipe: layer 1: key 'width' must be a number in 0..1, got number 1.5",
      message { layers = { { W = "amen", width = 1.5 } } })
    assert.equal("tessera.mosaic: recipe: source 'amen': key 'stereo': the file has 1 channel, not 2",
      message { sources = { amen = { file = helpers.samples .. "/drum_heavy_kick.flac", stereo = true, k = 2 } } })
  end)
end)

describe("decompose --stereo", function()
  it("writes stereo components that add up to the file and prints their pans", function()
    local dir = helpers.tmpdir()
    finally(function() helpers.rmtree(dir) end)
    local mix = panned_mix()
    mix:save(dir .. "/mix.wav")
    local out, ok = helpers.run(("%s/bin/tessera decompose %s -k 4 --iter 60 --method wiener --stereo -o %s 2>&1")
      :format(helpers.root, dir .. "/mix.wav", dir .. "/out"))
    assert.is_truthy(ok, out)
    assert.truthy(out:find("stereo) into 4 components", 1, true), out)
    local pans = out:match("pan %(%-1 left, 1 right%): ([^\n]+)")
    assert.truthy(pans, out)
    local left, right = 0, 0
    for v in pans:gmatch("%d+: ([%+%-][%d.]+)") do
      if tonumber(v) < -0.5 then left = left + 1 elseif tonumber(v) > 0.5 then right = right + 1 end
    end
    assert.is_true(left > 0 and right > 0, pans)
    local sum = tessera.audio.load(dir .. "/out/sum.wav", { mono = false })
    assert.equal(2, sum.channels)
    for c = 1, 2 do
      local x, y = sum:channel(c), mix:channel(c)
      local d = 0
      for i = 1, #y, 7 do d = math.max(d, math.abs(x:get(i) - y:get(i))) end
      assert.is_true(d < 1e-6, d)
    end
    -- --rate and --format shape the files written.
    out, ok = helpers.run(("%s/bin/tessera decompose %s -k 2 --iter 5 --stereo --rate 44100 --format pcm16 "
      .. "-o %s 2>&1"):format(helpers.root, dir .. "/mix.wav", dir .. "/pcm"))
    assert.is_truthy(ok, out)
    local c1 = tessera.audio.load(dir .. "/pcm/component_1.wav", { mono = false })
    assert.same({ 44100, 2 }, { c1.sr, c1.channels })
    local f = assert(io.open(dir .. "/pcm/component_1.wav", "rb"))
    local size = f:seek("end")
    f:close()
    assert.is_true(size < 2 * 2 * #c1 + 200, size) -- 16-bit stereo samples
    out = helpers.run(("%s/bin/tessera decompose %s -k 2 --rate 10 -o %s 2>&1"):format(helpers.root,
      dir .. "/mix.wav", dir .. "/r"))
    assert.equal("tessera: decompose: --rate must be an integer in 1000..768000 (Hz), got 10\n", out)
    -- Without --stereo the file is decomposed as its mix, and decompose says so.
    out = helpers.run(("%s/bin/tessera decompose %s -k 2 --iter 5 -o %s 2>&1")
      :format(helpers.root, dir .. "/mix.wav", dir .. "/mono"))
    assert.truthy(out:find("has 2 channels, decomposed as their mix (--stereo keeps two)", 1, true), out)
  end)
end)
