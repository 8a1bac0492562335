-- examples/paper.lua: reproduces "Music Creation through Non-negative Matrix
-- Factorization" (Kaur, Joshi, Wesley) end to end on real music and writes one HTML report:
-- every figure of the study, every component as sound, a mosaic of the two clips, recipes
-- that make music (examples/paper_music.lua: pitch, morph, patterns, stereo, MIDI, PGHI),
-- and what
-- the study could not show (loss curves, a table of losses, component matching, periods),
-- and which method separates a known mixture best (examples/paper_separation.lua).
--
--   bin/tessera examples/paper.lua [CLIP1 CLIP2 [OUTDIR]]
--
-- The study used two 10-second Ballroom clips ("I Like It 2", "Latin Jam 2"); by default two
-- sonic-pi-samples loops stand in, tiled to 10 s. Decompositions go through tessera's cache,
-- so a second run only redraws. The last line printed is the path of the report.
local tessera = require "tessera"
local cache = require "tessera.cache"

local util = tessera.core.util
local fmt = string.format

local SAMPLES = "/usr/share/sonic-pi/samples/"
local SR, N_FFT, HOP, SECONDS, K = 22050, 2048, 512, 10, 4
local MU_ITERATIONS = 1000 -- the study's n_iter

local clip_paths = {
  arg and arg[1] or SAMPLES .. "loop_amen_full.flac",
  arg and arg[2] or SAMPLES .. "loop_garzul.flac",
}
local outdir = arg and arg[3] or "out/paper"

local started = util.now()
local interactive = os.execute("test -t 2") -- progress only when stderr is a terminal

local function progress(text)
  if interactive then io.stderr:write(fmt("\r\27[K[%5.1f s] %s", util.now() - started, text)) end
end

-- The three methods of the study's figures 2-5, and the study's own published code.
local methods = {
  { id = "cd", name = "Coordinate descent", short = "CD",
    about = "scikit-learn's default solver (the study's \"state of the art\"), nndsvda init",
    opts = { loss = "euclidean", solver = "cd", init = "nndsvda", max_iter = 200, tol = 1e-4 } },
  { id = "euclidean", name = "Euclidean MU", short = "EU",
    about = "Lee-Seung multiplicative updates for ||V - WH||^2, H then W, uniform init",
    opts = { loss = "euclidean", solver = "mu", order = "HW", init = "uniform", seed = 0,
             max_iter = MU_ITERATIONS, tol = 0 } },
  { id = "kl", name = "KL MU", short = "KL",
    about = "Lee-Seung multiplicative updates for D(V || WH), H then W, uniform init",
    opts = { loss = "kl", solver = "mu", order = "HW", init = "uniform", seed = 0,
             max_iter = MU_ITERATIONS, tol = 0 } },
}

local study_code = {
  id = "study", name = "The study's Euclidean code", short = "ST",
  about = "both factors updated from the previous iterate, as the published Python does",
  opts = { loss = "euclidean", solver = "mu", order = "simultaneous", init = "uniform", seed = 0,
           max_iter = MU_ITERATIONS, tol = 0, every = 1 },
}
local alternating = {
  id = "alternating", name = "Lee-Seung alternating", short = "HW",
  about = "the same start, H then W",
  opts = { loss = "euclidean", solver = "mu", order = "HW", init = "uniform", seed = 0,
           max_iter = MU_ITERATIONS, tol = 0, every = 1 },
}

local function copy(t)
  local c = {}
  for key, v in pairs(t) do c[key] = v end
  return c
end

local function basename(path)
  return (path:match("([^/]+)$") or path):gsub("%.%w+$", "")
end

-- A clip: 10 s of mono audio at 22050 Hz, its STFT and magnitude.
local function load_clip(path)
  local a = tessera.audio.load(path, { sr = SR })
  local source_seconds = a:duration() -- a loop shorter than 10 s repeats with this period
  a = a:tile(SR * SECONDS)
  local S = tessera.stft(a, { n_fft = N_FFT, hop = HOP })
  return { path = path, name = basename(path), audio = a, S = S, V = S:magnitude(),
           digest = util.sha256_file(path), source_seconds = source_seconds }
end

local decompositions = { computed = 0, cached = 0 }

-- A fit through the cache: the key is the clip's content, the STFT and the options.
local function decompose(clip, opts)
  local parts = { "examples/paper", tessera.version, clip.digest, SR, SECONDS, N_FFT, HOP, opts }
  local model, hit = cache.model(parts, function()
    local o = copy(opts)
    o.progress = false
    return tessera.nmf(clip.V, o)
  end)
  if hit then
    decompositions.cached = decompositions.cached + 1
  else
    decompositions.computed = decompositions.computed + 1
  end
  return model
end

-- How many times a per-iteration loss went up by more than one part in a million (float32
-- factors move the loss by a few parts in a billion at a plateau; that is not an increase
-- of the algorithm's making). Also returns the largest relative rise.
local RISE = 1e-6
local function count_increases(history)
  local ups, largest = 0, 0
  for i = 2, #history do
    local rise = (history[i].loss - history[i - 1].loss) / history[i - 1].loss
    if rise > RISE then ups = ups + 1 end
    if rise > largest then largest = rise end
  end
  return ups, largest
end

local function history_series(m, label)
  local its, losses = {}, {}
  for i, h in ipairs(m.history) do
    its[i], losses[i] = h.iteration, h.loss
  end
  return { label = label, iterations = its, loss = losses }
end

local function frobenius(V)
  return math.sqrt(V:hadamard(V):sum())
end

local function median(list)
  local s = {}
  for i, v in ipairs(list) do s[i] = v end
  table.sort(s)
  local n = #s
  if n == 0 then return nil end
  return n % 2 == 1 and s[(n + 1) // 2] or (s[n // 2] + s[n // 2 + 1]) / 2
end

-- Lists as prose: "a", "a and b", "a, b and c".
local function listed(items)
  if #items <= 1 then return items[1] or "" end
  return table.concat(items, ", ", 1, #items - 1) .. " and " .. items[#items]
end

-- The factors every number below is computed from, saved beside the report
-- (OUTDIR/factors/NAME/W.npy, H.npy, model.json) so that anyone can recompute them.
local function keep(model, name)
  model:save(fmt("%s/factors/%s", outdir, name))
  return model
end

-- ---------------------------------------------------------------------------------------

progress("loading clips")
local clips = { load_clip(clip_paths[1]), load_clip(clip_paths[2]) }

local report = tessera.report.new(outdir, { title = "Music creation through NMF, reproduced" })
report:paragraph(fmt(
  "This report reproduces the study \"Music Creation through Non-negative Matrix Factorization\" " ..
  "with tessera %s. Each clip is 10 s of mono audio at %d Hz; V is the magnitude of its STFT " ..
  "(periodic Hann window, n_fft %d, hop %d): %d frequency bins by %d frames. V is factored as " ..
  "W H with k = %d components by three methods: coordinate descent (scikit-learn's default, the " ..
  "study's \"state of the art\"), Lee-Seung multiplicative updates for the Euclidean distance, and " ..
  "for the Kullback-Leibler divergence (%d iterations, as in the study).",
  tessera.version, SR, N_FFT, HOP, select(1, clips[1].V:shape()), select(2, clips[1].V:shape()), K,
  MU_ITERATIONS))

report:heading("The clips")
report:table((function()
  local rows = {}
  for i, c in ipairs(clips) do
    rows[i] = { fmt("clip %d", i), c.name, c.path, c.audio:duration(), c.audio:peak(), c.audio:rms() }
  end
  return rows
end)(), { header = { "", "name", "file", "seconds", "peak", "RMS" } })
report:figure({
  title = "Spectrograms (dB)",
  panels = { tessera.plot.spectrogram_panel(clips[1].S, { title = clips[1].name, logy = true }),
             tessera.plot.spectrogram_panel(clips[2].S, { title = clips[2].name, logy = true }) },
}, { name = "spectrograms", caption = "Magnitude spectrograms of the two clips, log frequency." })
report:players({ { audio = clips[1].audio, name = clips[1].name, method = "original" },
                 { audio = clips[2].audio, name = clips[2].name, method = "original" } })

-- Figure 1: H for k = 4 and k = 6, coordinate descent, clip 1. ---------------------------
progress("figure 1: k = 4 and k = 6")
local k_models = {}
for _, k in ipairs({ 4, 6 }) do
  local opts = copy(methods[1].opts)
  opts.k = k
  k_models[k] = keep(decompose(clips[1], opts), fmt("%s-cd-k%d", clips[1].name, k))
end
report:heading("Figure 1: four or six components")
report:paragraph(fmt(
  "H of %s by coordinate descent with k = 4 and k = 6. The study chose k = 4 and saw a k = 4 " ..
  "row's values \"spread across the 3rd and 4th rows\" of k = 6 \"at the same time sections\". " ..
  "Below, that is measured rather than seen.", clips[1].name))
report:figure({
  title = fmt("H, coordinate descent, %s", clips[1].name),
  layout = { 2, 1 }, width = 900, height = 620,
  panels = { tessera.plot.H_panel(k_models[4].H, { sr = SR, hop = HOP, title = "k = 4" }),
             tessera.plot.H_panel(k_models[6].H, { sr = SR, hop = HOP, title = "k = 6" }) },
}, { name = "figure1-k4-k6", caption = "Figure 1: activations for 4 and 6 components." })

-- One-to-one (Hungarian) pairs leave two k = 6 rows out; grouping gives every k = 6 row to
-- the k = 4 row it correlates with best, and compares the group's summed loudness.
local match46 = tessera.nmf.match(k_models[4], k_models[6])
local groups46 = tessera.nmf.group(k_models[6], k_models[4])
local group_rows, split, better, group_panels = {}, {}, {}, {}
local frame_seconds = {}
for j = 1, k_models[4].p do frame_seconds[j] = (j - 1) * HOP / SR end
for i, g in ipairs(groups46) do
  local pair = match46[i]
  local members = #g.members > 0 and table.concat(g.members, "+") or "none"
  group_rows[i] = { i, pair.b, pair.corr, members, g.corr or "-" }
  if #g.members >= 2 then
    split[#split + 1] = fmt("row %d takes rows %s", i, listed(g.members))
    if g.corr > pair.corr then
      better[#better + 1] = fmt("row %d (%.2f against %.2f)", i, g.corr, pair.corr)
    end
  end
  local series = {}
  if #g.members >= 2 then -- the one-to-one partner alone, underneath, to compare with the sum
    series[1] = { x = frame_seconds, y = tessera.nmf.envelope(k_models[6], pair.b),
                  label = fmt("k = 6, row %d alone", pair.b), color = "#b0b0b0" }
  end
  series[#series + 1] = { x = frame_seconds, y = tessera.nmf.envelope(k_models[4], i),
                          label = fmt("k = 4, row %d", i), color = "#9400d3" }
  if #g.members > 0 then
    series[#series + 1] = { x = frame_seconds, y = tessera.nmf.envelope(k_models[6], g.members),
                            label = fmt("k = 6, rows %s", members), color = "#009e73" }
  end
  group_panels[i] = tessera.plot.lines_panel(series, {
    title = fmt("k = 4 row %d", i), xlabel = "time (s)", ylabel = "loudness" })
end
report:table(group_rows, {
  header = { "k = 4 row", "one-to-one k = 6 row", "correlation", "k = 6 rows grouped",
             "correlation of their sum" },
  caption = "One-to-one: the Hungarian pairing of H rows. Grouped: every k = 6 row goes to " ..
            "the k = 4 row its H correlates with best; their sum is weighted by the L1 norms " ..
            "of their W columns (tessera.nmf.group)." })
local verdict
if #split == 0 then
  verdict = "No k = 4 row takes two k = 6 rows: here k = 6 does not spread a component of k = 4 " ..
            "over two rows, it adds rows of its own."
elseif #better == #split then
  verdict = fmt("Each split row is matched better by the sum of its k = 6 rows than by its " ..
                "one-to-one partner: %s. Here, as in the study, k = 6 spreads %s over two or " ..
                "more rows.", listed(better), #split == 1 and "one component of k = 4" or
                fmt("%d components of k = 4", #split))
else
  verdict = fmt("The sum correlates better than the one-to-one partner for %d of these %d " ..
                "rows%s; for the others the sum correlates no better than the partner alone.",
                #better, #split, #better > 0 and (": " .. listed(better)) or "")
end
report:paragraph(fmt("Given every k = 6 row, %d of the %d k = 4 rows take two or more: %s. %s",
  #split, #groups46, #split > 0 and table.concat(split, "; ") or "none", verdict))
report:figure({ title = fmt("Loudness over time (||W_i||_1 H_i), %s", clips[1].name),
                layout = { 2, 2 }, width = 1000, height = 640, panels = group_panels },
  { name = "figure1-groups", caption = "Each k = 4 component against the sum of the k = 6 " ..
    "components grouped with it: their share of the spectrogram, summed over frequency." })

-- Figures 2-5: three methods, two clips. -----------------------------------------------
local results = {} -- results[clip][method id] = model
local figure_number = 2
for ci = 2, 1, -1 do -- the study shows Latin Jam 2 (clip 2) first
  local clip = clips[ci]
  results[ci] = {}
  for _, method in ipairs(methods) do
    progress(fmt("%s: %s", clip.name, method.name))
    local opts = copy(method.opts)
    opts.k = K
    results[ci][method.id] = keep(decompose(clip, opts), clip.name .. "-" .. method.id)
  end
  report:heading(fmt("Figures %d and %d: %s, three methods", figure_number, figure_number + 1, clip.name))
  local W_panels, H_panels = {}, {}
  for i, method in ipairs(methods) do
    local m = results[ci][method.id]
    W_panels[i] = tessera.plot.W_panel(m.W, { sr = SR, n_fft = N_FFT, title = method.name, logy = true })
    H_panels[i] = tessera.plot.H_panel(m.H, { sr = SR, hop = HOP, title = method.name })
  end
  report:figure({ title = fmt("W, %s", clip.name), panels = W_panels, height = 420 },
    { name = fmt("figure%d-W-%s", figure_number, clip.name),
      caption = fmt("Figure %d: W (spectral templates, one column per component; log frequency) " ..
                    "for %s.", figure_number, clip.name) })
  report:figure({ title = fmt("H, %s", clip.name), panels = H_panels, height = 300 },
    { name = fmt("figure%d-H-%s", figure_number + 1, clip.name),
      caption = fmt("Figure %d: H (activations over time, one row per component) for %s.",
                    figure_number + 1, clip.name) })
  figure_number = figure_number + 2

  -- Every component as sound, with the clip's own phase (the study's way).
  progress(fmt("%s: rendering components", clip.name))
  report:heading(fmt("Listening: %s", clip.name), 3)
  for _, method in ipairs(methods) do
    local m = results[ci][method.id]
    local items = {}
    for i = 1, K do
      items[#items + 1] = { audio = m:audio(i, clip.S), name = fmt("%s component %d", clip.name, i),
                            method = method.name }
    end
    items[#items + 1] = { audio = m:audio(nil, clip.S), name = fmt("%s, all components", clip.name),
                          method = method.name }
    report:players(items)
  end
end

-- What the study lacked. -----------------------------------------------------------------
report:heading("Losses, iterations and time")
local loss_rows = {}
for ci, clip in ipairs(clips) do
  local norm = frobenius(clip.V)
  for _, method in ipairs(methods) do
    local m = results[ci][method.id]
    local eu = tessera.nmf.loss(clip.V, m.W, m.H, "euclidean")
    local kl = tessera.nmf.loss(clip.V, m.W, m.H, "kl")
    loss_rows[#loss_rows + 1] = { clip.name, method.name, eu, math.sqrt(eu) / norm, kl,
                                  m.iterations, m.seconds }
  end
end
report:table(loss_rows, {
  header = { "clip", "method", "||V - WH||^2", "relative error", "D(V || WH)", "iterations", "seconds" },
  caption = "Both objectives measured on every method's result (seconds: the fit's own time, " ..
            "when it was computed rather than read from the cache)." })

local loss_panels = {}
for ci, clip in ipairs(clips) do
  local series = {}
  for _, method in ipairs(methods) do
    series[#series + 1] = history_series(results[ci][method.id], method.name)
  end
  loss_panels[ci] = tessera.plot.loss_panel(series, { title = clip.name .. " (each method's own objective)" })
end
report:figure({ title = "Loss curves", panels = loss_panels, height = 420 },
  { name = "loss-curves", caption = "The objective each method minimises, at every check (log scale)." })

progress("the study's own code")
report:heading("The study's published Euclidean code")
report:paragraph(
  "The study's Python computes H_new and W_new both from the previous iterate (W_new uses the old " ..
  "H). That is not Lee-Seung's algorithm, and its loss is not guaranteed to decrease. Here both " ..
  "versions start from the same uniform initialisation, and the loss is measured at every iteration.")
-- The study's loss jumps between two levels from one iteration to the next: drawn as one
-- line it fills a band. Even and odd iterations are drawn apart, and the last iterations
-- are drawn again, close up, with a dot at every iteration.
local ZOOM = 40
local COLOURS = { even = "#9400d3", odd = "#e69f00", lee_seung = "#009e73", every = "#505050" }
local function split_by_parity(m)
  local even = { label = "study's code, even iterations", iterations = {}, loss = {}, color = COLOURS.even }
  local odd = { label = "study's code, odd iterations", iterations = {}, loss = {}, color = COLOURS.odd }
  for _, h in ipairs(m.history) do
    local s = h.iteration % 2 == 0 and even or odd
    s.iterations[#s.iterations + 1], s.loss[#s.loss + 1] = h.iteration, h.loss
  end
  return even, odd
end
local function last_iterations(m, label, color)
  local x, y = {}, {}
  for i = math.max(1, #m.history - ZOOM + 1), #m.history do
    x[#x + 1], y[#y + 1] = m.history[i].iteration, m.history[i].loss
  end
  return { x = x, y = y, label = label, points = true, color = color }
end
-- The median over iterations i of one parity (1: odd, 0: even) of L(i) / L(i - 1): how
-- far an iteration moves the loss from the one before it (1: not at all).
local function median_ratio(history, parity)
  local ratios = {}
  for i = 2, #history do
    if history[i].iteration % 2 == parity then ratios[#ratios + 1] = history[i].loss / history[i - 1].loss end
  end
  return median(ratios)
end

local study_rows, study_panels, study_odd, study_even, lee_seung_ratios = {}, {}, {}, {}, {}
for ci, clip in ipairs(clips) do
  local opts_s, opts_a = copy(study_code.opts), copy(alternating.opts)
  opts_s.k, opts_a.k = K, K
  local ms = keep(decompose(clip, opts_s), clip.name .. "-study")
  local ma = keep(decompose(clip, opts_a), clip.name .. "-alternating")
  local ups_s, rise_s = count_increases(ms.history)
  local ups_a, rise_a = count_increases(ma.history)
  study_rows[#study_rows + 1] = { clip.name, study_code.name, ups_s, #ms.history - 1, rise_s, ms.loss }
  study_rows[#study_rows + 1] = { clip.name, alternating.name, ups_a, #ma.history - 1, rise_a, ma.loss }
  local even, odd = split_by_parity(ms)
  local lee_seung = history_series(ma, "Lee-Seung (H then W)")
  lee_seung.color = COLOURS.lee_seung
  study_panels[#study_panels + 1] = tessera.plot.loss_panel({ even, odd, lee_seung }, { title = clip.name })
  study_panels[#study_panels + 1] = tessera.plot.lines_panel(
    { last_iterations(ms, "study's code, every iteration", COLOURS.every),
      last_iterations(ma, "Lee-Seung (H then W)", COLOURS.lee_seung) },
    { title = fmt("%s, the last %d iterations", clip.name, ZOOM), xlabel = "iteration",
      ylabel = "loss", logy = true })
  study_odd[ci] = fmt("%.3g (%s)", median_ratio(ms.history, 1), clip.name)
  study_even[ci] = fmt("%.3g", median_ratio(ms.history, 0))
  lee_seung_ratios[ci] = fmt("%.6f", median_ratio(ma.history, 1))
end
report:table(study_rows, { header = { "clip", "updates", "iterations where the loss went up",
                                      "iterations compared", "largest rise (relative)",
                                      "final ||V - WH||^2" },
  caption = "A rise counts when it exceeds one part in a million; smaller ones are float32 rounding." })
report:paragraph(fmt(
  "The study's updates do not settle: an odd iteration multiplies the loss by a median of %s, " ..
  "and the even iteration after it by %s; Lee-Seung's odd iterations multiply it by %s. Even " ..
  "and odd iterations lie on two separate curves, so drawn as one line the loss fills the band " ..
  "between them; the close-ups show the zigzag.", listed(study_odd), listed(study_even),
  listed(lee_seung_ratios)))
report:figure({ title = "Euclidean loss per iteration", panels = study_panels, layout = { 2, 2 },
                width = 1000, height = 760 },
  { name = "study-code-loss", format = "svg",
    caption = "The study's simultaneous updates against Lee-Seung's alternating ones; right: " ..
              "every one of the last iterations." })

report:heading("Which component is which")
report:paragraph(
  "The study matched rows across methods by eye (\"the 3rd row in the State-of-the-Art approach ... " ..
  "the 1st row in the Euclidean graph\"). Here the rows are paired by the Hungarian algorithm on the " ..
  "correlation of H rows.")
local match_rows = {}
for ci, clip in ipairs(clips) do
  for _, pair in ipairs({ { 1, 2 }, { 1, 3 }, { 2, 3 } }) do
    local a, b = methods[pair[1]], methods[pair[2]]
    local matched = tessera.nmf.match(results[ci][a.id], results[ci][b.id])
    local text = {}
    for _, m in ipairs(matched) do text[#text + 1] = fmt("%d-%d (%.2f)", m.a, m.b, m.corr) end
    match_rows[#match_rows + 1] = { clip.name, a.name .. " / " .. b.name, table.concat(text, ", ") }
  end
end
report:table(match_rows, { header = { "clip", "methods", "row pairs (correlation)" } })

report:heading("The beat in H")
-- The study: "a high value at a steady cadence, approximately every 30 columns". A column
-- is a frame; with the same rate and hop (librosa's defaults) 30 frames are 0.70 s.
local STUDY_PERIOD, PERIOD_TOLERANCE = 30, 2
local function bpm_of(frames) return 60 * SR / (HOP * frames) end
report:paragraph(fmt(
  "The study saw \"a high value at a steady cadence, approximately every 30 columns\" in one row " ..
  "of each method's H for Latin Jam 2, and \"almost identical\" cadences across the methods. " ..
  "A column is a frame of %d samples at %d Hz, so 30 columns are %.2f s, a beat at %.0f BPM. For " ..
  "every row of H, the dominant period is the lag of the highest peak of its autocorrelation " ..
  "(tessera.analysis.period); each decomposition's tempo combines its rows " ..
  "(tessera.analysis.tempo). These clips are not the study's, so the question is whether the " ..
  "claim's form carries over: a row that repeats every 30 ± %d frames.",
  HOP, SR, STUDY_PERIOD * HOP / SR, bpm_of(STUDY_PERIOD), PERIOD_TOLERANCE))
local period_rows, tempo_rows, near_study, rows_counted = {}, {}, {}, 0
local periods = {} -- periods[ci][method id][row] = frames (nil: no peak)
for ci, clip in ipairs(clips) do
  periods[ci] = {}
  for _, method in ipairs(methods) do
    local m = results[ci][method.id]
    periods[ci][method.id] = {}
    for i = 1, K do
      -- tessera.analysis.period: the lag of the highest local peak of the row's
      -- autocorrelation (a row that never sounds has none).
      local row = m.H:row(i)
      local lag, seconds, r
      if row:max() > 0 then lag, seconds, r = tessera.analysis.period(row, SR, HOP) end
      periods[ci][method.id][i] = lag
      rows_counted = rows_counted + 1
      if lag and math.abs(lag - STUDY_PERIOD) <= PERIOD_TOLERANCE then
        near_study[#near_study + 1] = fmt("%s %s row %d (%d frames)", clip.name, method.short, i, lag)
      end
      period_rows[#period_rows + 1] = { clip.name, method.name, i, lag or "-", seconds or "-", r or "-" }
    end
    local t = tessera.analysis.tempo(m.H, SR, HOP)
    tempo_rows[#tempo_rows + 1] = { clip.name, method.name, t.bpm, t.frames, t.strength }
  end
end
report:table(period_rows, { header = { "clip", "method", "row", "period (frames)", "period (s)",
                                       "autocorrelation" } })

-- The most common row period of each clip, against the length of the loop it was tiled from.
local clip_text = {}
for ci, clip in ipairs(clips) do
  local count, mode = {}, nil
  for _, method in ipairs(methods) do
    for i = 1, K do
      local lag = periods[ci][method.id][i]
      if lag then
        count[lag] = (count[lag] or 0) + 1
        if not mode or count[lag] > count[mode] or (count[lag] == count[mode] and lag < mode) then
          mode = lag
        end
      end
    end
  end
  local tempos, beats = {}, {}
  for _, row in ipairs(tempo_rows) do
    if row[1] == clip.name then
      tempos[#tempos + 1], beats[#beats + 1] = fmt("%.0f", row[3]), fmt("%.1f", row[4])
    end
  end
  local loop_frames = clip.source_seconds * SR / HOP
  clip_text[ci] = fmt("in %s, %d of %d rows repeat every %d frames (%.2f s), %.2f times in the " ..
    "%.2f s loop it was tiled from; the three decompositions' tempos are %s BPM (a beat every " ..
    "%s frames)", clip.name, count[mode] or 0, #methods * K, mode or 0, (mode or 0) * HOP / SR,
    mode and loop_frames / mode or 0, clip.source_seconds, listed(tempos), listed(beats))
end
local beats_near = 0
for _, row in ipairs(tempo_rows) do
  if math.abs(row[4] - STUDY_PERIOD) <= PERIOD_TOLERANCE then beats_near = beats_near + 1 end
end
report:paragraph(fmt(
  "The study's \"every 30 columns\" holds for %d of %d rows (within ±%d frames)%s, and for " ..
  "the beat of %d of the %d decompositions' tempos. The most common periods: %s.",
  #near_study, rows_counted, PERIOD_TOLERANCE, #near_study > 0 and (": " .. listed(near_study)) or "",
  beats_near, #tempo_rows, table.concat(clip_text, "; ")))

-- The study's second claim: rows that correspond across methods share their cadence.
local pairs_same, pairs_all = 0, 0
for ci in ipairs(clips) do
  for _, pair in ipairs({ { 1, 2 }, { 1, 3 }, { 2, 3 } }) do
    local a, b = methods[pair[1]], methods[pair[2]]
    for _, m in ipairs(tessera.nmf.match(results[ci][a.id], results[ci][b.id])) do
      local pa, pb = periods[ci][a.id][m.a], periods[ci][b.id][m.b]
      pairs_all = pairs_all + 1
      if pa and pb and math.abs(pa - pb) <= PERIOD_TOLERANCE then pairs_same = pairs_same + 1 end
    end
  end
end
report:paragraph(fmt(
  "Of the %d row pairs matched across methods (\"Which component is which\", both clips), %d " ..
  "have the same period within ±%d frames.", pairs_all, pairs_same, PERIOD_TOLERANCE))
report:table(tempo_rows, { header = { "clip", "method", "tempo (BPM)", "beat (frames)", "strength" },
  caption = "tessera.analysis.tempo of each H: the rows' onsets, autocorrelated and weighted by " ..
            "energy, searched between 40 and 240 BPM with a prior for 120 BPM." })

-- A music mosaic: clip 2's timbre on clip 1's rhythm. -----------------------------------
progress("mosaic")
report:heading("A music mosaic")
local recipe_text = fmt([[
-- The spectral templates of %s played with the activations of %s.
return {
  sr = %d,
  duration = %d,
  sources = {
    rhythm = { file = %q, duration = %d, k = 4, loss = "kl", max_iter = 300 },
    timbre = { file = %q, duration = %d, k = 4, loss = "kl", max_iter = 300 },
  },
  phase = "rhythm",
  layers = {
    { name = "timbre on the rhythm", W = "timbre:1-4", H = "rhythm:1-4" },
    { name = "a trace of the original", W = "rhythm", H = "rhythm", gain = 0.3 },
  },
}
]], clips[2].name, clips[1].name, SR, SECONDS, clips[1].path, SECONDS, clips[2].path, SECONDS)
local recipe_path = outdir .. "/mosaic_recipe.lua"
do
  local f = assert(io.open(recipe_path, "w"))
  f:write(recipe_text)
  f:close()
end
local mosaic_audio, summary = tessera.mosaic.render(recipe_path, { write = false })
report:paragraph(fmt(
  "Each of the %d layers pairs W columns of one clip with H rows of another; the sum is given the " ..
  "phase of %s and inverted. The recipe:", summary.layers, clips[1].name))
report:code(recipe_text, { lang = "lua" })
report:players({ { audio = mosaic_audio, name = "mosaic", method = "recipe above" } })
report:figure({ panels = { tessera.plot.spectrogram_panel(summary.magnitude,
                             { sr = SR, n_fft = N_FFT, hop = HOP, title = "mosaic", logy = true }) } },
  { name = "mosaic-spectrogram", caption = "The mosaic's magnitude spectrogram (dB)." })

-- Making music: the example recipes of pitch, morph, stereo (its own file).
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
progress("making music")
dofile(here .. "/paper_music.lua")(report, { here = here, outdir = outdir, progress = progress })

-- Which method separates best: a known mixture in the first clip's rhythm (its own file).
local separation = dofile(here .. "/paper_separation.lua")
local clip1_tempos = {}
for _, row in ipairs(tempo_rows) do
  if row[1] == clips[1].name then clip1_tempos[#clip1_tempos + 1] = row[3] end
end
local separated = separation(report, { outdir = outdir, clip = clips[1].name, tempos = clip1_tempos,
                                       progress = progress })
decompositions.computed = decompositions.computed + separated.computed
decompositions.cached = decompositions.cached + separated.cached

report:heading("How this report was made")
report:paragraph(fmt(
  "%d decompositions computed, %d read from the cache (%s); %.1f s in all. Run again to redraw " ..
  "from the cache: bin/tessera examples/paper.lua [CLIP1 CLIP2 [OUTDIR]].",
  decompositions.computed, decompositions.cached, cache.dir(), util.now() - started))

local index = report:save()
if interactive then io.stderr:write("\r\27[K") end
print(fmt("%d decompositions computed, %d from the cache, %.1f s", decompositions.computed,
          decompositions.cached, util.now() - started))
print(index)
