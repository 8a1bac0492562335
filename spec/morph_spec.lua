-- tessera.morph and a recipe layer's `morph`: displacement interpolation between real
-- templates (the ends give the templates back, the centroid moves in a straight line, the
-- mass as (1 - t) |a| + t |b|), and renders whose ends are the plain renders and whose
-- centroid moves from one source's toward the other's.
local helpers = require "helpers"
local tessera = require "tessera"

local SAMPLES = helpers.samples
local SR, N_FFT = 22050, 2048

local function model(file, k)
  local a = tessera.audio.load(SAMPLES .. "/" .. file, { sr = SR, duration = 4 })
  local V = tessera.stft(a, { n_fft = N_FFT, hop = 512 }):magnitude()
  return tessera.nmf(V, { k = k, loss = "kl", max_iter = 60, progress = false })
end

-- 10 log10(|ref|^2 / |x - ref|^2) over the whole matrix.
local function snr(x, ref)
  local D = x - ref
  local e = D:hadamard(D):sum()
  if e == 0 then return math.huge end
  return 10 * math.log(ref:hadamard(ref):sum() / e, 10)
end

local function centroid(M, col)
  local n = M:shape()
  local c, m = 0, 0
  for i = 1, n do
    local v = M:get(i, col)
    c, m = c + (i - 1) * v, m + v
  end
  return c / m
end

describe("tessera.morph", function()
  local drone, rub = model("ambi_drone.flac", 3), model("ambi_glass_rub.flac", 3)
  local B = tessera.morph.partners(drone, rub)

  it("gives the templates back at its ends (SNR over 40 dB)", function()
    assert.is_true(snr(tessera.morph.templates(drone.W, B, 0), drone.W) > 40)
    assert.is_true(snr(tessera.morph.templates(drone.W, B, 1), B) > 40)
  end)

  it("moves each template's centroid in a straight line, its mass as (1 - t) |a| + t |b|", function()
    local n = drone.W:shape()
    local ones = tessera.matrix.new(1, n)
    ones:fill(1)
    for c = 1, 3 do
      local a, b = centroid(drone.W, c), centroid(B, c)
      local ma, mb = (ones * drone.W:col(c)):get(1, 1), (ones * B:col(c)):get(1, 1)
      for _, t in ipairs { 0.1, 0.3, 0.5, 0.7, 0.9 } do
        local M = tessera.morph.templates(drone.W, B, t)
        assert.near((1 - t) * a + t * b, centroid(M, c), 1e-3 * math.abs(b - a) + 1e-3)
        assert.near((1 - t) * ma + t * mb, (ones * M:col(c)):get(1, 1), 1e-4 * (ma + mb))
      end
    end
  end)

  it("slides a narrow peak along frequency instead of crossfading", function()
    local A, Bp = tessera.matrix.new(100, 1), tessera.matrix.new(100, 1)
    A:set(21, 1, 1) -- all the mass in bin 20 ...
    Bp:set(61, 1, 1) -- ... or in bin 60
    local M = tessera.morph.templates(A, Bp, 0.5)
    assert.near(1, M:get(41, 1), 1e-6) -- halfway: bin 40, and nothing at either end
    assert.equal(0, M:get(21, 1))
    assert.equal(0, M:get(61, 1))
  end)

  it("pairs templates by nmf.match, keeping unpaired ones as they are", function()
    local one = model("ambi_glass_rub.flac", 1)
    local P = tessera.morph.partners(drone, one)
    local pairs_ = tessera.nmf.match(drone, one, { by = "W" })
    for c = 1, 3 do
      local src, col = drone.W, c
      if pairs_[1].a == c then src, col = one.W, 1 end
      assert.equal(0, (P:col(c) - src:col(col)):max())
    end
  end)

  it("refuses what it cannot morph, naming it", function()
    local A = tessera.matrix.new(4, 2)
    assert.has_error(function() tessera.morph.templates(A, tessera.matrix.new(4, 3), 0.5) end,
      "bad argument #2 to 'templates' (B is 4 x 3, expected 4 x 2)")
    assert.has_error(function() tessera.morph.templates(A, A, 1.5) end,
      "bad argument #3 to 'templates' (t must be in [0, 1], got 1.5)")
    local neg = tessera.matrix.new(4, 2)
    neg:set(2, 1, -1)
    assert.has_error(function() tessera.morph.templates(neg, A, 0.5) end,
      "tessera.morph: A has a negative entry (-1 at row 2, column 1)")
    assert.has_error(function() tessera.morph.layer(A, A, tessera.matrix.new(2, 5), { 0, 0 }) end,
      "bad argument #4 to 'layer' (t has 2 values for 5 frames)")
    assert.has_error(function() tessera.morph.partners(drone, "rub") end,
      "bad argument #2 to 'partners' (Model expected, got string)")
  end)
end)

describe("a recipe layer's morph", function()
  local tmp = helpers.cache_per_test()
  before_each(tmp.setup)
  after_each(tmp.teardown)

  local function render(t)
    local _, s = tessera.mosaic.render(t, { write = false, base = tmp.dir, cache_dir = tmp.dir .. "/cache" })
    return s.magnitude
  end

  local function sources(b)
    return { a = { file = SAMPLES .. "/ambi_drone.flac", duration = 6, k = 3 },
             b = { file = SAMPLES .. "/" .. b, duration = 6, k = 3 } }
  end

  it("renders its ends as the plain renders (SNR over 40 dB)", function()
    local src = sources "ambi_glass_rub.flac"
    local start = render { duration = 4, sources = src, layers = {
      { morph = { from = "a", to = "b:2,3,1", curve = { from = 0, to = 0 } }, H = "a" } } }
    local plain_a = render { duration = 4, sources = src, layers = { { W = "a", H = "a" } } }
    assert.is_true(snr(start, plain_a) > 40)
    local finish = render { duration = 4, sources = src, layers = {
      { W = "a", morph = { to = "b:2,3,1", curve = { from = 1, to = 1 } }, H = "a" } } }
    local plain_b = render { duration = 4, sources = src, layers = { { W = "b:2,3,1", H = "a" } } }
    assert.is_true(snr(finish, plain_b) > 40)
  end)

  for _, b in ipairs { "ambi_glass_rub.flac", "ambi_lunar_land.flac" } do
    it("moves the rendered centroid monotonically from ambi_drone's toward " .. b .. "'s", function()
      local V = render { duration = 6, sources = sources(b), phase = "a",
                         layers = { { morph = { from = "a", to = "b" }, H = "a" } } }
      local n, p = V:shape()
      local last = -math.huge
      for w = 1, 8 do
        local c, m = 0, 0
        for j = (w - 1) * p // 8 + 1, w * p // 8 do
          for i = 1, n do
            local v = V:get(i, j)
            c, m = c + i * v, m + v
          end
        end
        assert.is_true(c / m > last, ("window %d: centroid %.1f after %.1f"):format(w, c / m, last))
        last = c / m
      end
    end)
  end

  it("refuses a morph it cannot render, naming the layer and the key", function()
    local src = sources "ambi_glass_rub.flac"
    local function message(layer)
      return helpers.error_message(function() render { duration = 1, sources = src, layers = { layer } } end)
    end
    assert.equal("tessera.mosaic: recipe: layer 1: key 'morph': 'to' is missing (the source to turn into)",
      message { W = "a", morph = {} })
    assert.equal("tessera.mosaic: recipe: layer 1: key 'morph': give the templates it starts from " ..
      "once, as W or as from", message { W = "a", morph = { from = "a", to = "b" } })
    assert.equal("tessera.mosaic: recipe: layer 1: key 'morph' has key 'speed' (expected one of: " ..
      "from, to, curve)", message { W = "a", morph = { to = "b", speed = 2 } })
    assert.equal("tessera.mosaic: recipe: layer 1: key 'morph': curve must be 'linear', 'smooth', " ..
      "a ramp {from =, to =} or a list of {seconds, position}, got string 'fast'",
      message { W = "a", morph = { to = "b", curve = "fast" } })
    assert.equal("tessera.mosaic: recipe: layer 1: key 'morph.curve' breakpoint 1: its value must " ..
      "be in 0..1", message { W = "a", morph = { to = "b", curve = { { 0, 2 } } } })
    assert.equal("tessera.mosaic: recipe: layer 1: key 'morph.to': no source named 'c' (sources: a, b)",
      message { W = "a", morph = { to = "c" } })
    src.b.T = 4
    assert.equal("tessera.mosaic: recipe: layer 1: key 'morph': source 'b' is convolutive (T = 4); " ..
      "morph takes sources with T = 1", message { W = "a", morph = { to = "b" } })
  end)
end)
