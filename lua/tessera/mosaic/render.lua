-- tessera.mosaic.render: one render of a checked recipe, as a list of steps: plan the
-- layers, place each template source's activation rows (one C call per source), multiply
-- by its templates and sum, give the magnitude a phase, set the level, write the file.
local core = require "tessera.core"
local cache = require "tessera.cache"
local fs = require "tessera.fs"
local recipe = require "tessera.recipe"
local plan = require "tessera.mosaic.plan"
local sources_of = require "tessera.mosaic.sources"

local ipairs, pairs, pcall, tostring = ipairs, pairs, pcall, tostring

local audio, matrix = core.audio, core.matrix
-- Through its module, which adds frame_count to core.spectrogram (not loaded otherwise).
local spectrogram = require "tessera.spectrogram"

local render = {}

local fail = recipe.fail

-- Where each activation row goes: per template source, a list of placements (see
-- tessera.core.matrix.place) into the rows of that source's templates. Returns them and
-- how many template and activation pairs there are.
local function placements_of(rec, steps, template_sources, sources)
  local frames_per_second = rec.sr / rec.hop
  local placements = {}
  for _, name in ipairs(template_sources) do placements[name] = {} end
  local components = 0
  for _, step in ipairs(steps) do
    local layer = step.layer
    for i, w in ipairs(step.W) do
      local list = placements[w.source]
      for _, h in ipairs(plan.drivers(step, i, w, sources)) do
        local H = h.model.H
        local _, frames = H:shape()
        local length = sources.lengths[h.length]
        list[#list + 1] = { H = H, row = h.index, to = w.index, gain = layer.gain,
                            stretch = layer.stretch, shift = layer.shift * frames_per_second,
                            loop = layer.loop, period = length and length / rec.hop or frames }
        components = components + 1
      end
    end
  end
  return placements, components
end

-- The magnitude: one product W * (placed activations) per template source, summed (for a
-- convolutive source, T = ..., its templates convolved with them).
local function magnitude(rec, template_sources, placements, frames, sources)
  local V
  for _, name in ipairs(template_sources) do
    local H = matrix.place(rec.sources[name].nmf.k, frames, placements[name])
    local m = sources:model(name)
    local part = m.T and core.nmf.convolve(m.W, H, m.T) or m.W * H
    V = V and V + part or part
  end
  return V
end

-- The audio of magnitude V, length samples long: with a source's phase (its audio cut or
-- tiled to the length), or Griffin-Lim's.
local function with_phase(rec, V, length, sources)
  local stft_opts = { n_fft = rec.n_fft, hop = rec.hop, window = rec.window }
  if rec.phase.source then
    local a = sources:audio(rec.phase.source)
    a = #a >= length and a:slice(1, length) or a:tile(length)
    local S = core.stft(a, stft_opts)
    return spectrogram.from_polar(V, S:phase(), S):istft()
  end
  local g = rec.phase.griffinlim
  local like = core.stft(audio.new(length, rec.sr), stft_opts)
  return core.griffinlim(V, like, { iter = g.iter, momentum = g.momentum, seed = g.seed,
                                    init = g.init })
end

-- The level: normalised to a peak, or left alone unless it would clip. Returns the audio,
-- its peak before and the scale applied.
local function level(rec, y)
  local peak = y:peak()
  local scale = 1
  if rec.normalize and peak > 0 then
    scale = rec.normalize / peak
  elseif not rec.normalize and peak > 1 then
    scale = 0.99 / peak
  end
  if scale ~= 1 then y = y:gain(scale) end
  return y, peak, scale
end

-- Writes the output unless opts.write is false; returns the path written, or nil.
local function write(rec, ctx, y, opts)
  local out = opts.out and fs.resolve(opts.out) or rec.out
  if opts.write == false or not out then return nil end
  local ok, err = pcall(y.save, y, out)
  if not ok then fail(ctx, nil, "cannot write the output: %s", tostring(err)) end
  return out
end

local function copy_stats()
  local s = {}
  for k, v in pairs(cache.stats) do s[k] = v end
  return s
end

-- render.render(rec, opts) -> Audio, summary (see mosaic.render).
function render.render(rec, opts)
  local t0 = core.util.now()
  local before = copy_stats()
  local stats = { nmf = 0 }
  local ctx = { name = rec.name }
  local sources = sources_of.new(rec, stats)

  local steps = plan.layers(rec, ctx) -- everything that can be checked without computing
  local template_sources = plan.template_sources(steps)
  local length = plan.output_length(rec, ctx, steps, sources)
  local frames = spectrogram.frame_count(length, { n_fft = rec.n_fft, hop = rec.hop })
  local placements, components = placements_of(rec, steps, template_sources, sources)
  local V = magnitude(rec, template_sources, placements, frames, sources)
  local y, peak, scale = level(rec, with_phase(rec, V, length, sources))
  local out = write(rec, ctx, y, opts)

  local after = cache.stats
  return y, {
    recipe = rec.name,
    out = opts.write ~= false and out or nil,
    sr = rec.sr,
    samples = #y,
    duration = #y / rec.sr,
    layers = #rec.layers,
    components = components,
    sources = plan.count_sources(rec, steps),
    phase = rec.phase.source or "griffinlim",
    nmf = stats.nmf,
    cache = { hits = after.hits - before.hits, misses = after.misses - before.misses,
              corrupt = after.corrupt - before.corrupt, writes = after.writes - before.writes },
    peak = peak,
    scale = scale,
    seconds = core.util.now() - t0,
    magnitude = V,
  }
end

return render
