-- Specs of tessera.eval: SDR, SIR, SAR and onset F-measures against mir_eval 0.7 (Debian's
-- python3-mir-eval, through /usr/bin/python3 and spec/support/eval_mir.py) on real stems
-- with filtering, noise, gain changes and leakage, estimates given in every order; SI-SDR,
-- SD-SDR and the spectral convergence against closed forms; every bad input's message.
local tessera = require "tessera"
local core = require "tessera.core"
local json = require "tessera.json"
local helpers = require "helpers"

local eval = require "tessera.eval"
local audio = core.audio
local abs, huge, log, pi, sin = math.abs, math.huge, math.log, math.pi, math.sin
local fmt = string.format

local SAMPLES = helpers.samples .. "/"
local SR = 22050
local STEMS = { SAMPLES .. "loop_amen.flac", SAMPLES .. "bass_voxy_c.flac",
                SAMPLES .. "ambi_choir.flac" }

local function load(path, seconds)
  return audio.load(path, { sr = SR, duration = seconds })
end

local noise = helpers.noise

-- sum over k of gains[k] * signals[k], then a short FIR (taps: {delay, gain}), a slow gain
-- wobble of the given depth and noise of the given level: an estimate with every kind of
-- error BSS Eval tells apart.
local function estimate(signals, gains, taps, wobble, noise_level, seed)
  local n = #signals[1]
  local tables = {}
  for k, a in ipairs(signals) do tables[k] = a:totable() end
  local mix = {}
  for t = 1, n do
    local v = 0
    for k, x in ipairs(tables) do v = v + gains[k] * x[t] end
    mix[t] = v
  end
  local out, nz = {}, noise(n, seed)
  for t = 1, n do
    local v = 0
    for _, tap in ipairs(taps) do
      local s = mix[t - tap[1]]
      if s then v = v + tap[2] * s end
    end
    v = v * (1 + wobble * sin(2 * pi * 3 * t / SR))
    out[t] = v + noise_level * nz[t]
  end
  return audio.from(out, SR)
end

local function python_reference(cases)
  local dir = helpers.tmpdir()
  local path = dir .. "/cases.json"
  helpers.write_file(path, json.encode(cases))
  local out, ok = helpers.run("/usr/bin/python3 " .. helpers.shell_quote(helpers.root
    .. "/spec/support/eval_mir.py") .. " " .. helpers.shell_quote(path) .. " 2>&1")
  helpers.rmtree(dir)
  assert(ok, out)
  return json.decode(out)
end

local function number(v)
  if v == "inf" then return huge elseif v == "-inf" then return -huge end
  return v
end

-- The largest |tessera - mir_eval| over every score of every case, for the report below.
local worst = 0

-- Checks tessera's results (one per estimate) against mir_eval's (one per reference).
local function same_as_mir_eval(results, expected, tol)
  assert.equal(#expected.perm, #results)
  for j, i0 in ipairs(expected.perm) do
    local r = results[i0 + 1]
    assert.equal(j, r.reference, fmt("estimate %d: reference", i0 + 1))
    for _, key in ipairs({ "sdr", "sir", "sar" }) do
      local want, got = number(expected[key][j]), r[key]
      if want == huge or got == huge then
        assert.equal(want, got)
      else
        local diff = abs(want - got)
        if diff > worst then worst = diff end
        if diff > tol then
          error(fmt("reference %d, %s: mir_eval %.6f dB, tessera %.6f dB", j, key, want, got), 2)
        end
      end
    end
  end
end

-- Every ordering of 1..n.
local function permutations(n)
  local out = {}
  local function build(prefix, rest)
    if #rest == 0 then out[#out + 1] = prefix return end
    for k, v in ipairs(rest) do
      local p, r = { table.unpack(prefix) }, { table.unpack(rest) }
      p[#p + 1] = v
      table.remove(r, k)
      build(p, r)
    end
  end
  local all = {}
  for i = 1, n do all[i] = i end
  build({}, all)
  return out
end

describe("tessera.eval", function()
  local dir, refs, refs2, ests2, ests3, ref_paths, est_paths = nil, {}, {}, {}, {}, {}, {}

  setup(function()
    dir = helpers.tmpdir()
    for i, path in ipairs(STEMS) do refs[i] = load(path, 1.0) end
    local n = #refs[1]
    for i = 2, #refs do
      assert.equal(n, #refs[i], "the stems last at least a second")
    end
    local d, b, p = refs[1], refs[2], refs[3]
    refs2 = { d, b }
    ests2 = {
      estimate({ d, b }, { 1, 0.12 }, { { 0, 0.7 }, { 3, 0.2 } }, 0.1, 0.002, 1),
      estimate({ d, b }, { 0.08, 1 }, { { 0, 1 } }, 0.3, 0.004, 2),
    }
    ests3 = {
      estimate({ d, b, p }, { 1, 0.08, 0.03 }, { { 0, 0.7 }, { 3, 0.2 } }, 0.1, 0.002, 3),
      estimate({ d, b, p }, { 0.1, 1, 0.02 }, { { 0, 1 } }, 0.3, 0.004, 4),
      estimate({ d, b, p }, { 0.05, 0.05, 0.9 }, { { 0, 0.5 }, { 1, 0.5 } }, 0, 0.01, 5),
    }
    for i, a in ipairs(refs) do
      ref_paths[i] = fmt("%s/ref%d.wav", dir, i)
      a:save(ref_paths[i], { subtype = "float" })
    end
    for i, a in ipairs(ests3) do
      est_paths[i] = fmt("%s/est%d.wav", dir, i)
      a:save(est_paths[i], { subtype = "float" })
    end
    for i, a in ipairs(ests2) do
      est_paths[3 + i] = fmt("%s/est2_%d.wav", dir, i)
      a:save(est_paths[3 + i], { subtype = "float" })
    end
  end)

  teardown(function()
    helpers.rmtree(dir)
  end)

  describe("bss()", function()
    it("gives mir_eval's SDR, SIR and SAR within 0.01 dB for 2 and 3 real stems, in every "
      .. "order of the estimates", function()
      local cases, ours = {}, {}
      for _, order in ipairs(permutations(2)) do
        local paths, objects = {}, {}
        for k, i in ipairs(order) do paths[k], objects[k] = est_paths[3 + i], ests2[i] end
        cases[#cases + 1] = { est = paths, ref = { ref_paths[1], ref_paths[2] } }
        ours[#ours + 1] = eval.bss(objects, refs2)
      end
      for _, order in ipairs(permutations(3)) do
        local paths = {}
        for k, i in ipairs(order) do paths[k] = est_paths[i] end
        cases[#cases + 1] = { est = paths, ref = ref_paths }
        ours[#ours + 1] = eval.bss(paths, ref_paths) -- through the files this time
      end
      local expected = python_reference({ bss = cases })
      assert.equal(#cases, #expected.bss)
      for c = 1, #cases do same_as_mir_eval(ours[c], expected.bss[c], 0.01) end
      -- The pairings found are the true ones, whatever the order.
      for c, order in ipairs(permutations(3)) do
        for k, i in ipairs(order) do assert.equal(i, ours[2 + c][k].reference) end
      end
      print(fmt("\n  tessera.eval.bss vs mir_eval: largest difference %.2e dB", worst))
    end)

    it("returns every pair's scores, the diagonal the paired ones", function()
      local results, scores = eval.bss(ests2, refs2)
      for i = 1, 2 do
        assert.equal(i, results[i].reference)
        assert.equal(scores.sdr[i][i], results[i].sdr)
        assert.equal(scores.sir[i][i], results[i].sir)
        assert.is_true(scores.sir[i][3 - i] < results[i].sir)
      end
    end)

    it("pairs fewer estimates than references with the right ones", function()
      local results = eval.bss({ ests3[3], ests3[1] }, refs)
      assert.equal(2, #results)
      assert.equal(3, results[1].reference)
      assert.equal(1, results[2].reference)
    end)

    it("forgives a short filter: a delayed, scaled copy of the reference scores high",
      function()
        -- Only the 5 samples pushed past the end are lost: about 44 dB.
        local results = eval.bss({ estimate({ refs[2] }, { 1 }, { { 5, 0.5 } }, 0, 0, 1) },
          { refs[2] })
        assert.is_true(results[1].sdr > 40, tostring(results[1].sdr))
        assert.equal(huge, results[1].sir) -- one reference: nothing can interfere
        assert.is_true(results[1].sar > 40)
        -- The same with noise: the noise is an artifact, not a distortion of the filter.
        local noisy = eval.bss({ estimate({ refs[2] }, { 1 }, { { 5, 0.5 } }, 0, 0.01, 1) },
          { refs[2] })
        assert.is_true(noisy[1].sar < results[1].sar - 10)
      end)
  end)

  describe("si_sdr()", function()
    it("equals its closed form computed plainly in Lua within 1e-6 dB", function()
      for _, zero_mean in ipairs({ true, false }) do
        local y, s = ests2[1]:totable(), refs[1]:totable()
        local n, my, ms = #y, 0, 0
        if zero_mean then
          for t = 1, n do my, ms = my + y[t], ms + s[t] end
          my, ms = my / n, ms / n
        end
        local ys, ss = 0, 0
        for t = 1, n do
          ys = ys + (y[t] - my) * (s[t] - ms)
          ss = ss + (s[t] - ms) ^ 2
        end
        local alpha, target, res, plain = ys / ss, 0, 0, 0
        for t = 1, n do
          local a, b = y[t] - my, s[t] - ms
          target = target + (alpha * b) ^ 2
          res = res + (alpha * b - a) ^ 2
          plain = plain + (b - a) ^ 2
        end
        local si, sd = eval.si_sdr(ests2[1], refs[1], { zero_mean = zero_mean })
        assert.near(10 * log(target / res, 10), si, 1e-6)
        assert.near(10 * log(target / plain, 10), sd, 1e-6)
      end
    end)

    it("follows the paper on known signals: scale ignored by SI-SDR, counted by SD-SDR",
      function()
        -- s a sine over whole periods, y = 2 s + 0.5 c with c the orthogonal cosine: alpha = 2,
        -- SI-SDR = 10 log10(4 / 0.25), SD-SDR = 10 log10(4 / (1 + 0.25)).
        local s, y = {}, {}
        for t = 0, 22049 do
          local w = 2 * pi * 441 * t / SR
          s[t + 1], y[t + 1] = sin(w), 2 * sin(w) + 0.5 * math.cos(w)
        end
        local si, sd = eval.si_sdr(audio.from(y, SR), audio.from(s, SR))
        assert.near(10 * log(4 / 0.25, 10), si, 1e-4)
        assert.near(10 * log(4 / 1.25, 10), sd, 1e-4)
        -- An exact multiple: no error left for SI-SDR; SD-SDR counts the scale.
        local half = {}
        for t = 1, #s do half[t] = s[t] * 0.5 end
        si, sd = eval.si_sdr(audio.from(half, SR), audio.from(s, SR))
        assert.equal(huge, si)
        assert.near(10 * log(0.25 / 0.25, 10), sd, 1e-9)
      end)

    it("removes the means by default, as the paper assumes", function()
      local s, y = refs[2]:totable(), {}
      for t = 1, #s do y[t] = s[t] + 0.25 end
      local shifted = audio.from(y, SR)
      -- Equal but for the float rounding of the shifted samples.
      assert.is_true(eval.si_sdr(shifted, refs[2]) > 100)
      assert.is_true(eval.si_sdr(shifted, refs[2], { zero_mean = false }) < 40)
    end)
  end)

  describe("spectral_convergence()", function()
    it("is 0 for the reference itself and 0.5 for it at half gain", function()
      assert.equal(0, eval.spectral_convergence(refs[1], refs[1]))
      assert.near(0.5, eval.spectral_convergence(refs[1]:gain(0.5), refs[1]), 1e-6)
      assert.near(0.5, eval.spectral_convergence(refs[1]:gain(1.5), refs[1],
        { n_fft = 1024, hop = 256 }), 1e-6)
    end)
  end)

  describe("separation()", function()
    it("gives every metric of each estimate against the reference it is paired with",
      function()
        local rows = eval.separation({ est_paths[5], est_paths[4] }, { ref_paths[1], ref_paths[2] })
        local bss = eval.bss({ est_paths[5], est_paths[4] }, { ref_paths[1], ref_paths[2] })
        assert.equal(2, rows[1].reference)
        assert.equal(1, rows[2].reference)
        assert.equal(est_paths[5], rows[1].path_estimate)
        assert.equal(ref_paths[2], rows[1].path_reference)
        for i = 1, 2 do
          assert.equal(bss[i].sdr, rows[i].sdr)
          local si, sd = eval.si_sdr(est_paths[6 - i], ref_paths[rows[i].reference])
          assert.equal(si, rows[i].si_sdr)
          assert.equal(sd, rows[i].sd_sdr)
          assert.equal(eval.spectral_convergence(est_paths[6 - i], ref_paths[rows[i].reference]),
            rows[i].spectral_convergence)
        end
      end)
  end)

  describe("onsets()", function()
    it("equals mir_eval.onset.f_measure, edge cases included", function()
      local random_est, random_ref, t1, t2 = {}, {}, 0, 0
      local nz1, nz2 = noise(60, 7), noise(60, 8)
      for i = 1, 60 do
        t1, t2 = t1 + 0.05 + 0.05 * abs(nz1[i]), t2 + 0.05 + 0.05 * abs(nz2[i])
        random_est[i], random_ref[i] = t1, t2
      end
      local cases = {
        { est = { 0.1, 0.5, 1.0 }, ref = { 0.12, 0.48, 1.2 }, window = 0.05 },
        { est = {}, ref = { 0.5 }, window = 0.05 },
        { est = { 0.5 }, ref = {}, window = 0.05 },
        { est = {}, ref = {}, window = 0.05 },
        { est = { 0.5, 0.5, 0.5 }, ref = { 0.5, 0.52 }, window = 0.05 },   -- duplicates
        { est = { 1.05, 2.0 }, ref = { 1.0, 2.05 }, window = 0.05 },       -- on the window's edge
        { est = { 1.0500001 }, ref = { 1.0 }, window = 0.05 },              -- just outside
        { est = { 0.10, 0.12 }, ref = { 0.07, 0.11 }, window = 0.03 },      -- greedy would lose one
        { est = { 0.2, 0.3 }, ref = { 0.25 }, window = 0 },
        { est = random_est, ref = random_ref, window = 0.05 },
        { est = random_est, ref = random_ref, window = 0.02 },
      }
      local expected = python_reference({ onsets = cases }).onsets
      for c, case in ipairs(cases) do
        local f, p, r = eval.onsets(case.est, case.ref, { window = case.window })
        assert.near(expected[c].f, f, 1e-12, "case " .. c)
        assert.near(expected[c].p, p, 1e-12, "case " .. c)
        assert.near(expected[c].r, r, 1e-12, "case " .. c)
      end
      -- The maximum matching pairs both in the case a greedy pass gets wrong.
      assert.same({ 1, 1, 1 }, { eval.onsets({ 0.10, 0.12 }, { 0.07, 0.11 }, { window = 0.03 }) })
    end)
  end)

  describe("bad input", function()
    local function message(fn, ...)
      local ok, err = pcall(fn, ...)
      assert.is_false(ok)
      return (tostring(err):gsub("^[^:]+:%d+: ", ""))
    end

    it("names the signal and the value", function()
      local short = refs[1]:slice(1, 1000)
      local silent = audio.new(#refs[1], SR)
      local nan = refs[2]:copy()
      nan:set(17, 0 / 0)
      local stereo = audio.new(#refs[1], SR, 2)
      local other_rate = audio.from(refs[1]:totable(), 44100)
      assert.equal("tessera.eval.bss: the list of estimates is empty", message(eval.bss, {}, refs))
      assert.equal("tessera.eval.bss: the list of references is empty",
        message(eval.bss, refs, {}))
      assert.equal("tessera.eval.bss: 3 estimates but 2 references (each estimate needs a "
        .. "reference of its own)", message(eval.bss, ests3, refs2))
      assert.equal(fmt("tessera.eval.bss: estimate 1 has 1000 samples but reference 1 has %d "
        .. "(the signals must have the same length)", #refs[1]), message(eval.bss, { short }, refs))
      assert.equal("tessera.eval.bss: reference 2 is silent (every sample is zero)",
        message(eval.bss, { ests2[1] }, { refs[1], silent }))
      assert.equal("tessera.eval.bss: estimate 2 is silent (every sample is zero)",
        message(eval.bss, { ests2[1], silent }, refs2))
      assert.equal("tessera.eval.bss: estimate 1 holds NaN at sample 17",
        message(eval.bss, { nan }, refs2))
      assert.equal(fmt("tessera.eval.bss: reference 2 ('%s') is at 22050 Hz but reference 1 "
        .. "at 44100 Hz (resample one of them)", ref_paths[2]),
        message(eval.bss, { ests2[1] }, { other_rate, ref_paths[2] }))
      assert.equal("tessera.eval.bss: estimate 1 has 2 channels (tessera.eval compares mono "
        .. "signals: mix it down with a:mono())", message(eval.bss, { stereo }, refs2))
      assert.equal("bad argument #1 to 'bss' (estimate 2 must be an Audio or a file path, got "
        .. "Matrix)", message(eval.bss, { refs[1], core.matrix.new(2, 2) }, refs2))
      assert.equal(fmt("tessera.audio.load: cannot open '%s/none.wav': No such file or "
        .. "directory", dir), message(eval.bss, { dir .. "/none.wav" }, refs2))
      assert.equal("bad argument #3 to 'bss' (unknown option 'flen' (valid: filter_length))",
        message(eval.bss, ests2, refs2, { flen = 3 }))
      assert.equal("bad argument #3 to 'si_sdr' (unknown option 'zeromean' (valid: zero_mean); "
        .. "did you mean 'zero_mean'?)",
        message(eval.si_sdr, ests2[1], refs[1], { zeromean = true }))
      assert.equal("bad argument #2 to 'onsets' (reference onsets must be in increasing order: "
        .. "onset 2 (0.1 s) comes after 0.2 s)", message(eval.onsets, {}, { 0.2, 0.1 }))
      assert.equal("bad argument #1 to 'onsets' (estimated onset 1 must be a finite number, "
        .. "got NaN)", message(eval.onsets, { 0 / 0 }, {}))
      assert.equal("bad argument #3 to 'onsets' (window must be a finite number >= 0, got -1)",
        message(eval.onsets, {}, {}, { window = -1 }))
    end)
  end)

  it("says how much memory a BSS Eval of many references would need, before taking it",
    function()
      local many = {}
      for i = 1, 40 do
        local x = {}
        for k = 1, 1000 do x[k] = sin(k * i * 0.01) + 0.001 * k end
        many[i] = audio.from(x, 8000)
      end
      local ok, err = pcall(require("tessera.memory").capped, 10000000, eval.bss, { many[1] }, many)
      assert.is_false(ok)
      assert.equal("tessera.eval.bss: the 20480 x 20480 Gram matrix of BSS Eval needs 3.36 GB, "
        .. "more than its memory budget (10.0 MB)", (tostring(err):gsub("^[^:]+:%d+: ", "")))
    end)

  it("is reachable as tessera.eval", function()
    assert.equal(eval, tessera.eval)
  end)
end)
