-- Specs of "Let it Bee" cross-synthesis: the three constraints on small known matrices
-- against formulas written plainly in Lua, the fit against the paper's algorithm written
-- in numpy, the direction in which each constraint moves the activations of real loops,
-- the complex synthesis, and tessera.mosaic.crosssynth / `tessera crosssynth` end to end
-- (length, finiteness, and the output's spectrogram closer to the target's than the
-- source's own is).
local tessera = require "tessera"
local core = require "tessera.core"
local helpers = require "helpers"

local crosssynth = core.crosssynth
local matrix = core.matrix
local abs, max, sqrt = math.abs, math.max, math.sqrt

local SAMPLES = helpers.samples .. "/"
local TABLA, MIKA = SAMPLES .. "loop_tabla.flac", SAMPLES .. "loop_mika.flac"
local GARZUL, AMEN_FULL = SAMPLES .. "loop_garzul.flac", SAMPLES .. "loop_amen_full.flac"
local BIN = helpers.root .. "/bin/tessera"

local function load(path, seconds)
  return core.audio.load(path, { sr = 22050, mono = true, duration = seconds })
end

local function magnitude(a)
  return core.stft(a):magnitude()
end

-- A rows x cols list of lists from a deterministic generator (no ties among entries).
local function random_rows(rows, cols, seed)
  local state = seed
  local t = {}
  for i = 1, rows do
    t[i] = {}
    for j = 1, cols do
      state = (state * 1103515245 + 12345) % 2147483648
      t[i][j] = 0.05 + state / 2147483648
    end
  end
  return t
end

local function near_tables(expected, actual, tol)
  assert.equal(#expected, #actual)
  for i = 1, #expected do
    assert.equal(#expected[i], #actual[i])
    for j = 1, #expected[i] do
      local e, a = expected[i][j], actual[i][j]
      if abs(e - a) > tol * max(1, abs(e)) then
        error(string.format("entry (%d, %d): expected %.9g, got %.9g", i, j, e, a), 2)
      end
    end
  end
end

-- Pearson correlation of two same-shaped matrices, over every entry.
local function correlation(A, B)
  local a, b = A:totable(), B:totable()
  local n, sa, sb, saa, sbb, sab = 0, 0, 0, 0, 0, 0
  for i = 1, #a do
    local ra, rb = a[i], b[i]
    for j = 1, #ra do
      local x, y = ra[j], rb[j]
      n = n + 1
      sa, sb = sa + x, sb + y
      saa, sbb, sab = saa + x * x, sbb + y * y, sab + x * y
    end
  end
  local cov = sab / n - (sa / n) * (sb / n)
  return cov / sqrt((saa / n - (sa / n) ^ 2) * (sbb / n - (sb / n) ^ 2))
end

-- The constraints written plainly from the paper, ties to the earlier frame / lower row.
local function reference_constrain(H, r, p, c, d)
  local M, N = #H, #H[1]
  local R = {}
  for m = 1, M do
    R[m] = {}
    for t = 1, N do
      local v, keep = H[m][t], true
      for j = math.max(1, t - r), math.min(N, t + r) do
        if (j < t and H[m][j] >= v) or (j > t and H[m][j] > v) then keep = false end
      end
      R[m][t] = keep and v or d * v
    end
  end
  for t = 1, N do
    local order = {}
    for m = 1, M do order[m] = m end
    table.sort(order, function(x, y)
      if R[x][t] ~= R[y][t] then return R[x][t] > R[y][t] end
      return x < y
    end)
    for rank = p + 1, M do
      local m = order[rank]
      R[m][t] = d * R[m][t]
    end
  end
  local C = {}
  for m = 1, M do
    C[m] = {}
    for t = 1, N do
      local s = 0
      for i = -c, c do
        if R[m + i] and R[m + i][t + i] then s = s + R[m + i][t + i] end
      end
      C[m][t] = s
    end
  end
  return C
end

describe("tessera.crosssynth", function()
  describe("core.crosssynth.constrain()", function()
    it("repetition: keeps the maximum of each row within r frames, damps the others", function()
      local H = matrix.from { { 1, 3, 2, 0, 5, 4 }, { 2, 2, 1, 1, 0, 7 } }
      local R = crosssynth.constrain(H, { r = 1, p = 2, c = 0, damping = 0 })
      -- Equal maxima: the earlier one stays.
      assert.same({ { 0, 3, 0, 0, 5, 0 }, { 2, 0, 0, 0, 0, 7 } }, R:totable())
      R = crosssynth.constrain(H, { r = 1, p = 2, c = 0, damping = 0.5 })
      assert.same({ { 0.5, 3, 1, 0, 5, 2 }, { 2, 1, 0.5, 0.5, 0, 7 } }, R:totable())
      -- r = 0: every entry is the maximum of its own neighbourhood.
      assert.same(H:totable(), crosssynth.constrain(H, { r = 0, p = 2, c = 0 }):totable())
    end)

    it("polyphony: keeps the p largest entries of each column, damps the others", function()
      local H = matrix.from { { 1 }, { 4 }, { 2 }, { 4 }, { 3 } }
      assert.same({ { 0 }, { 4 }, { 0 }, { 4 }, { 0 } },
        crosssynth.constrain(H, { r = 0, p = 2, c = 0 }):totable())
      assert.same({ { 0.25 }, { 4 }, { 0.5 }, { 4 }, { 3 } },
        crosssynth.constrain(H, { r = 0, p = 3, c = 0, damping = 0.25 }):totable())
      -- Equal entries at the threshold: the lower rows stay, never more than p.
      local T = matrix.from { { 4 }, { 4 }, { 4 } }
      assert.same({ { 4 }, { 4 }, { 0 } }, crosssynth.constrain(T, { r = 0, p = 2, c = 0 }):totable())
      -- p >= the number of rows: nothing to restrict.
      assert.same(H:totable(), crosssynth.constrain(H, { r = 0, p = 5, c = 0 }):totable())
    end)

    it("continuity: sums along diagonals of 2c + 1 entries", function()
      local H = matrix.from { { 1, 0, 0, 0 }, { 0, 2, 0, 0 }, { 0, 0, 3, 0 }, { 0, 0, 0, 0 } }
      local C = crosssynth.constrain(H, { r = 0, p = 4, c = 1 })
      -- The diagonal run spreads along itself (and one step past its end), nowhere else.
      assert.same({ { 3, 0, 0, 0 }, { 0, 6, 0, 0 }, { 0, 0, 5, 0 }, { 0, 0, 0, 3 } }, C:totable())
      local rows = random_rows(9, 13, 7)
      near_tables(reference_constrain(rows, 0, 9, 2, 0),
        crosssynth.constrain(matrix.from(rows), { r = 0, p = 9, c = 2 }):totable(), 1e-6)
    end)

    it("applies the three in the paper's order, as written plainly", function()
      local rows = random_rows(12, 17, 3)
      for _, o in ipairs { { r = 3, p = 10, c = 3, damping = 0.35 }, { r = 1, p = 2, c = 1, damping = 0 },
                           { r = 5, p = 4, c = 0, damping = 0.9 } } do
        near_tables(reference_constrain(rows, o.r, o.p, o.c, o.damping),
          crosssynth.constrain(matrix.from(rows), o):totable(), 1e-5)
      end
      -- Damping 1 without continuity leaves H as it is.
      near_tables(rows, crosssynth.constrain(matrix.from(rows), { r = 3, p = 2, c = 0, damping = 1 }):totable(), 1e-7)
    end)

    it("refuses bad parameters", function()
      local H = matrix.new(2, 2)
      assert.has_error(function() crosssynth.constrain(H, { damping = 1.5 }) end,
        "bad argument #2 to 'constrain' (damping must be in [0, 1], got 1.5)")
      assert.has_error(function() crosssynth.constrain(H, { r = -1 }) end,
        "bad argument #2 to 'constrain' (r must be >= 0, got -1)")
      assert.has_error(function() crosssynth.constrain(H, { p = 0 }) end,
        "bad argument #2 to 'constrain' (p must be >= 1, got 0)")
      assert.has_error(function() crosssynth.constrain(H, { c = 2 ^ 40 }) end,
        "bad argument #2 to 'constrain' (c must be at most 2147483647, got 1099511627776)")
      assert.has_error(function() crosssynth.constrain(H, { width = 3 }) end,
        "bad argument #2 to 'constrain' (unknown option 'width' (valid: r, p, c, damping))")
      assert.has_error(function() crosssynth.constrain("H") end,
        "bad argument #1 to 'constrain' (tessera.Matrix expected, got string)")
    end)
  end)

  describe("core.crosssynth.fit()", function()
    it("follows the paper's algorithm (written in numpy) from the same start", function()
      local dir = helpers.tmpdir()
      finally(function() helpers.rmtree(dir) end)
      local W = matrix.from(random_rows(24, 15, 11))
      local V = matrix.from(random_rows(24, 19, 5))
      local H0 = crosssynth.fit(W, V, { iter = 0, seed = 42 })
      W:save(dir .. "/W.npy")
      V:save(dir .. "/V.npy")
      H0:save(dir .. "/H0.npy")
      local cases = { { iter = 20, r = 3, p = 10, c = 3 }, { iter = 7, r = 1, p = 4, c = 2 },
                      { iter = 12, r = 0, p = 15, c = 0 } }
      local script = { "import numpy as np",
        "W = np.load('" .. dir .. "/W.npy').astype(np.float64)",
        "V = np.load('" .. dir .. "/V.npy').astype(np.float64)",
        "H0 = np.load('" .. dir .. "/H0.npy').astype(np.float64)",
        [[
def letitbee(W, V, H, L, r, p, c):
    M, N = H.shape
    for l in range(L):
        d = 1 - (l + 1) / L
        R = H.copy()
        for m in range(M):
            for t in range(N):
                lo, hi = max(0, t - r), min(N, t + r + 1)
                before, after = H[m, lo:t], H[m, t + 1:hi]
                if (before >= H[m, t]).any() or (after > H[m, t]).any():
                    R[m, t] *= d
        for t in range(N):
            order = sorted(range(M), key=lambda m: (-R[m, t], m))
            for m in order[p:]:
                R[m, t] *= d
        C = np.zeros_like(R)
        for i in range(-c, c + 1):
            for m in range(M):
                for t in range(N):
                    if 0 <= m + i < M and 0 <= t + i < N:
                        C[m, t] += R[m + i, t + i]
        WC = W @ C
        WC[WC < np.finfo(np.float32).tiny] = np.finfo(np.float32).eps
        H = C * (W.T @ (V / WC)) / W.sum(axis=0)[:, None]
    return H
]] }
      for i, o in ipairs(cases) do
        script[#script + 1] = string.format("np.save('%s/H%d.npy', letitbee(W, V, H0, %d, %d, %d, %d))",
          dir, i, o.iter, o.r, o.p, o.c)
      end
      local out, ok = helpers.python(table.concat(script, "\n"))
      assert.is_true(ok, out)
      for i, o in ipairs(cases) do
        local H = crosssynth.fit(W, V, { iter = o.iter, r = o.r, p = o.p, c = o.c, seed = 42 })
        local ref = matrix.load(dir .. "/H" .. i .. ".npy")
        local h, e = H:totable(), ref:totable()
        local scale = ref:max()
        for m = 1, #e do
          for t = 1, #e[1] do
            assert.is_true(abs(h[m][t] - e[m][t]) <= 1e-3 * scale,
              string.format("case %d, entry (%d, %d): numpy %.7g, tessera %.7g", i, m, t, e[m][t], h[m][t]))
          end
        end
      end
    end)

    it("finds a target made of the source's own frames, in its order", function()
      -- The target plays the source's frames 11..20, 1..10, 21..30: runs along diagonals.
      local W = matrix.from(random_rows(64, 30, 19))
      local order = {}
      for t = 1, 10 do order[t] = t + 10 end
      for t = 11, 20 do order[t] = t - 10 end
      for t = 21, 30 do order[t] = t end
      local Wt = W:totable()
      local Vt = {}
      for f = 1, 64 do
        Vt[f] = {}
        for t = 1, 30 do Vt[f][t] = Wt[f][order[t]] end
      end
      local H = crosssynth.fit(W, matrix.from(Vt), { iter = 40 }):totable()
      local found = 0
      for t = 1, 30 do
        local best, at = -1, nil
        for m = 1, 30 do
          if H[m][t] > best then best, at = H[m][t], m end
        end
        if at == order[t] then found = found + 1 end
      end
      assert.is_true(found >= 27, "the right source frame is the strongest in " .. found .. " of 30")
    end)

    local W, V, M, N
    local function fit_real(o)
      if W == nil then
        W = magnitude(load(TABLA, 5))
        V = magnitude(load(MIKA, 5))
        M, N = select(2, W:shape()), select(2, V:shape())
      end
      local H, divergence = crosssynth.fit(W, V, o)
      return H:totable(), divergence
    end

    it("polyphony restriction: at most p source frames per target frame", function()
      local free = fit_real { r = 0, p = 100000, c = 0 }
      local held = fit_real { r = 0, p = 5, c = 0 }
      local most_free, most_held = 0, 0
      for t = 1, N do
        local a, b = 0, 0
        for m = 1, M do
          if free[m][t] > 0 then a = a + 1 end
          if held[m][t] > 0 then b = b + 1 end
        end
        most_free, most_held = max(most_free, a), max(most_held, b)
      end
      assert.is_true(most_held <= 5, "a frame has " .. most_held .. " active source frames")
      assert.is_true(most_free > 50, "unrestricted: at most " .. most_free .. " per frame")
    end)

    it("repetition restriction: a source frame recurs no sooner than r + 1 frames later", function()
      local function closest(H)
        local gap = math.huge
        for m = 1, M do
          local last
          for t = 1, N do
            if H[m][t] > 0 then
              if last then gap = math.min(gap, t - last) end
              last = t
            end
          end
        end
        return gap
      end
      assert.is_true(closest(fit_real { r = 3, p = 100000, c = 0 }) > 3)
      assert.equal(1, closest(fit_real { r = 0, p = 100000, c = 0 }))
    end)

    it("continuity enhancement: activations line up along diagonals", function()
      -- sum H[m][t] H[m+1][t+1] / sum H[m][t]^2: how much each activation carries on
      -- into the next source frame at the next target frame.
      local function diagonal(H)
        local num, den = 0, 0
        for m = 1, M - 1 do
          for t = 1, N - 1 do
            num = num + H[m][t] * H[m + 1][t + 1]
            den = den + H[m][t] * H[m][t]
          end
        end
        return num / den
      end
      local with, without = diagonal(fit_real { c = 3 }), diagonal(fit_real { c = 0 })
      assert.is_true(with > 0.5 and with > 4 * without,
        string.format("diagonal score %.3f with c = 3, %.3f without", with, without))
    end)

    it("lowers the divergence as it iterates (no constraints: plain KL updates)", function()
      local plain = { r = 0, p = 100000, c = 0 }
      local last = math.huge
      for _, iter in ipairs { 0, 1, 5, 20 } do
        plain.iter = iter
        local _, d = fit_real(plain)
        assert.is_true(d < last, string.format("divergence %.6g after %d iterations", d, iter))
        last = d
      end
    end)

    it("is deterministic for a seed and differs between seeds", function()
      local W1 = matrix.from(random_rows(16, 9, 1))
      local V1 = matrix.from(random_rows(16, 7, 2))
      local a = crosssynth.fit(W1, V1, { seed = 3 }):totable()
      assert.same(a, crosssynth.fit(W1, V1, { seed = 3 }):totable())
      assert.are_not.same(a, crosssynth.fit(W1, V1, { seed = 4 }):totable())
    end)

    it("gives a silent source frame no activation", function()
      local rows = random_rows(8, 5, 9)
      for f = 1, 8 do rows[f][2] = 0 end
      local H = crosssynth.fit(matrix.from(rows), matrix.from(random_rows(8, 6, 4)), { r = 0, c = 0 })
      for t = 1, 6 do assert.equal(0, H:get(2, t)) end
      assert.is_true(H:isfinite())
    end)

    it("refuses bad matrices and options", function()
      local W1, V1 = matrix.new(4, 3), matrix.new(4, 5)
      assert.has_error(function() crosssynth.fit(W1, matrix.new(5, 5)) end,
        "bad argument #2 to 'fit' (V has 5 rows but W has 4 (the source and the target need " ..
        "the same STFT size))")
      local Wn = matrix.new(4, 3)
      Wn:set(3, 2, -0.25)
      assert.has_error(function() crosssynth.fit(Wn, V1) end,
        "tessera.crosssynth.fit: W has a negative entry (-0.25 at row 3, column 2)")
      local Vn = matrix.new(4, 5)
      Vn:set(2, 4, 0 / 0)
      assert.has_error(function() crosssynth.fit(W1, Vn) end,
        "tessera.crosssynth.fit: V has a NaN entry (at row 2, column 4)")
      assert.has_error(function() crosssynth.fit(matrix.new(4, 0), V1) end,
        "tessera.crosssynth.fit: the source has no frames")
      assert.has_error(function() crosssynth.fit(W1, V1, { iter = -1 }) end,
        "bad argument #3 to 'fit' (iter must be in 0..100000, got -1)")
      assert.has_error(function() crosssynth.fit(W1, V1, { iter = 2.5 }) end,
        "bad argument #3 to 'fit' (iter must be an integer, got 2.5)")
      assert.has_error(function() crosssynth.fit(W1, V1, { k = 2 }) end,
        "bad argument #3 to 'fit' (unknown option 'k' (valid: iter, r, p, c, seed))")
    end)
  end)

  describe("core.crosssynth.apply()", function()
    it("combines the source's complex frames with the weights of H", function()
      local a = load(TABLA, 0.5)
      local S = core.stft(a, { n_fft = 256, hop = 64 })
      local bins, M = S:shape()
      local Ht = random_rows(M, 6, 13)
      local Y = crosssynth.apply(S, matrix.from(Ht))
      local yb, yf = Y:shape()
      assert.same({ bins, 6 }, { yb, yf })
      for _, b in ipairs { 1, 7, bins } do
        for t = 1, 6 do
          local re, im = 0, 0
          for m = 1, M do
            local sr, si = S:get(b, m)
            re, im = re + sr * Ht[m][t], im + si * Ht[m][t]
          end
          local yr, yi = Y:get(b, t)
          local tol = 1e-4 * max(1, abs(re) + abs(im))
          assert.is_true(abs(yr - re) <= tol and abs(yi - im) <= tol)
        end
      end
      -- The default length is the shortest signal with 6 frames; length picks another.
      assert.equal(5 * 64, #Y:istft())
      assert.equal(5 * 64 + 10, #crosssynth.apply(S, matrix.from(Ht), { length = 5 * 64 + 10 }):istft())
    end)

    it("refuses an H that does not fit the spectrogram", function()
      local S = core.stft(load(TABLA, 0.5), { n_fft = 256, hop = 64 })
      local _, M = S:shape()
      assert.has_error(function() crosssynth.apply(S, matrix.new(M + 1, 3)) end,
        string.format("bad argument #2 to 'apply' (H has %d rows but the spectrogram has %d frames)", M + 1, M))
      assert.has_error(function() crosssynth.apply(S, matrix.new(M, 3), { length = 1000 }) end,
        "bad argument #3 to 'apply' (length 1000 does not give 3 frames with n_fft 256 and hop 64)")
    end)
  end)

  describe("tessera.mosaic.crosssynth()", function()
    it("re-plays the target with the source's sounds: its spectrogram follows the target's", function()
      for _, pair in ipairs { { TABLA, MIKA }, { GARZUL, AMEN_FULL } } do
        local source, target = load(pair[1], 10), load(pair[2], 10)
        local y, info = tessera.mosaic.crosssynth { source = source, target = target }
        assert.equal(#target, #y)
        assert.equal(22050, y.sr)
        local peak = y:peak()
        assert.is_true(peak == peak and abs(peak - 0.99) < 1e-4, "peak " .. peak)
        assert.is_true(y:rms() > 0.01)
        local V = magnitude(target)
        local own = magnitude(#source >= #target and source:slice(1, #target) or source:tile(#target))
        local r_out, r_src = correlation(magnitude(y), V), correlation(own, V)
        assert.is_true(r_out > r_src + 0.2 and r_out > 2 * r_src,
          string.format("%s on %s: correlation with the target %.3f, the source's own %.3f",
            pair[1], pair[2], r_out, r_src))
        assert.equal(select(2, core.stft(source):shape()), info.source_frames)
        assert.equal(select(2, V:shape()), info.target_frames)
        assert.same({ info.source_frames, info.target_frames }, { info.H:shape() })
        assert.same({ 20, 3, 10, 3 }, { info.iter, info.r, info.p, info.c })
      end
    end)

    it("takes files, excerpts and Audio of any rate or channels, and writes the output", function()
      local dir = helpers.tmpdir()
      finally(function() helpers.rmtree(dir) end)
      local out = dir .. "/mosaic.wav"
      local y, info = tessera.mosaic.crosssynth {
        source = { file = TABLA, offset = 1, duration = 3 }, target = { file = MIKA, duration = 2 },
        out = out, normalize = 0.5 }
      assert.equal(44100, #y)
      assert.is_true(abs(y:peak() - 0.5) < 1e-4)
      assert.equal(out, info.out)
      assert.same({ "mosaic.wav" }, helpers.listdir(dir)) -- no temporary file left behind
      local back = core.audio.load(out)
      assert.equal(#y, #back)
      -- A stereo 44.1 kHz Audio is mixed down and resampled to sr.
      local stereo = core.audio.load(MIKA, { duration = 2, mono = false })
      assert.equal(2, stereo.channels)
      local y2 = tessera.mosaic.crosssynth { source = y, target = stereo, sr = 11025, normalize = false }
      assert.equal(22050, #y2)
      assert.equal(11025, y2.sr)
    end)

    it("refuses bad options with a message naming them", function()
      local cs = tessera.mosaic.crosssynth
      assert.has_error(function() cs { source = TABLA, target = MIKA, polyphony = 3 } end,
        "tessera.crosssynth: unknown option 'polyphony' (valid: source, target, out, iter, r, " ..
        "p, c, seed, sr, n_fft, hop, window, normalize)")
      assert.has_error(function() cs { target = MIKA } end,
        "tessera.crosssynth: source is missing (a file name, an Audio or {file=, offset=, duration=})")
      assert.has_error(function() cs { source = TABLA, target = 3 } end,
        "tessera.crosssynth: target must be a file name, an Audio or {file=, offset=, duration=}, got 3")
      assert.has_error(function() cs { source = { file = TABLA, start = 1 }, target = MIKA } end,
        "tessera.crosssynth: source: unknown key 'start' (valid: file, offset, duration)")
      assert.has_error(function() cs { source = TABLA, target = MIKA, out = "x.mp3" } end,
        "tessera.crosssynth: out must be a .wav or .flac file name, got 'x.mp3'")
      assert.has_error(function() cs { source = TABLA, target = MIKA, iter = 1.5 } end,
        "tessera.crosssynth: iter must be an integer, got 1.5")
      assert.has_error(function() cs { source = TABLA, target = MIKA, p = 0 } end,
        "tessera.crosssynth: p must be >= 1, got 0")
      assert.has_error(function() cs { source = TABLA, target = MIKA, window = "kaiser" } end,
        "tessera.crosssynth: window must be 'hann', 'hamming' or 'rect', got 'kaiser'")
      assert.has_error(function() cs { source = TABLA, target = MIKA, normalize = -1 } end,
        "tessera.crosssynth: normalize must be a boolean or a peak > 0, got -1")
      assert.has_error(function() cs { source = TABLA, target = { file = MIKA, duration = 0.04 } } end,
        "tessera.crosssynth: the target is shorter than one STFT frame (882 samples, n_fft 2048)")
      assert.has_error(function() cs { source = "/nonexistent.wav", target = MIKA } end,
        "tessera.audio.load: cannot open '/nonexistent.wav': No such file or directory")
      assert.has_error(function() cs "x" end, "bad argument #1 to 'crosssynth' (table expected, got string)")
    end)
  end)

  describe("bin/tessera crosssynth", function()
    it("writes the output and prints one line", function()
      local dir = helpers.tmpdir()
      finally(function() helpers.rmtree(dir) end)
      local out = dir .. "/x.wav"
      local q = helpers.shell_quote
      local text, ok = helpers.run(table.concat({ q(BIN), "crosssynth", q(TABLA), q(MIKA), "-o", q(out),
        "--target-duration", "2", "--iter", "10", "-p", "5" }, " ") .. " 2>&1")
      assert.is_true(ok, text)
      assert.matches("^wrote " .. out:gsub("%p", "%%%0") .. ": .* played with the sounds of .*, 2%.00 s at " ..
        "22050 Hz; %d+ x 87 activations, 10 iterations %(r 3, p 5, c 3%), KL [%d.e+]+; [%d.]+ s\n$", text)
      assert.equal(44100, #core.audio.load(out))
      text, ok = helpers.run(table.concat({ q(BIN), "crosssynth", q(TABLA), q(MIKA), "-o", q(out),
        "--polyphony", "0" }, " ") .. " 2>&1")
      assert.is_falsy(ok)
      assert.equal("tessera: tessera.crosssynth: p must be >= 1, got 0\n", text)
    end)
  end)
end)
