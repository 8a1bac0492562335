-- tessera.mosaic.plan: what a render will do, worked out from the recipe before anything is
-- computed where it can be: each layer's template and activation selections (checked
-- against the sources' sample rate and STFT), the sources in use, the template sources in
-- a fixed order, the output's length, and for each template the activation rows that
-- drive it.
local core = require "tessera.core"
local recipe = require "tessera.recipe"

local ipairs, pairs = ipairs, pairs
local floor = math.floor
local sort = table.sort

local plan = {}

local fail = recipe.fail

-- Checks that a source shares the output's sample rate and STFT (its templates or frames
-- could not be combined otherwise).
local function check_geometry(rec, ctx, where, key, name)
  local src = rec.sources[name]
  for _, field in ipairs { "sr", "n_fft", "hop" } do
    if src[field] ~= rec[field] then
      fail(ctx, where, "key '%s': source '%s' has %s %d but the output has %d", key, name, field,
        src[field], rec[field])
    end
  end
end

-- The W and H selections of a layer, which pair one to one, or one with many.
local function pairs_of(ctx, layer, W, H)
  if H == nil then return W end
  if #W == #H then return W, H end
  if #H == 1 or #W == 1 then return W, H end
  fail(ctx, layer.where, "W selects %d components but H selects %d (give as many, or one)", #W, #H)
end

-- plan.layers(rec, ctx) -> steps: one {layer, W, H} per layer, its selections expanded to
-- lists of {source, index} and checked.
function plan.layers(rec, ctx)
  local k_of = function(name) return rec.sources[name].nmf.k end
  local steps = {}
  for _, layer in ipairs(rec.layers) do
    local W = recipe.expand(ctx, layer.where, "W", layer.W, k_of)
    for _, sel in ipairs(layer.W) do check_geometry(rec, ctx, layer.where, "W", sel.source) end
    local H
    if layer.fit then
      check_geometry(rec, ctx, layer.where, "target", layer.target)
    elseif layer.H then
      H = recipe.expand(ctx, layer.where, "H", layer.H, k_of)
      for _, sel in ipairs(layer.H) do check_geometry(rec, ctx, layer.where, "H", sel.source) end
    end
    if layer.morph then check_geometry(rec, ctx, layer.where, "morph", layer.morph.to.source) end
    local Wl, Hl = pairs_of(ctx, layer, W, H)
    steps[#steps + 1] = { layer = layer, W = Wl, H = Hl }
  end
  if rec.phase.source then check_geometry(rec, ctx, nil, "phase", rec.phase.source) end
  return steps
end

-- plan.used_sources(rec, steps) -> the names of the sources the layers and the phase use,
-- sorted.
function plan.used_sources(rec, steps)
  local used = { [rec.phase.source or rec.length_source] = true }
  for _, step in ipairs(steps) do
    for _, c in ipairs(step.W) do used[c.source] = true end
    for _, c in ipairs(step.H or {}) do used[c.source] = true end
    if step.layer.fit then used[step.layer.target] = true end
    if step.layer.morph then used[step.layer.morph.to.source] = true end
  end
  local names = {}
  for name in pairs(used) do names[#names + 1] = name end
  sort(names)
  return names
end

-- plan.template_sources(steps) -> the sources whose templates the layers use, sorted (the
-- order their products are summed in).
function plan.template_sources(steps)
  local names, seen = {}, {}
  for _, step in ipairs(steps) do
    for _, c in ipairs(step.W) do
      if not seen[c.source] then
        seen[c.source] = true
        names[#names + 1] = c.source
      end
    end
  end
  sort(names)
  return names
end

-- plan.output_length(rec, ctx, steps, sources) -> the output's length in samples: the
-- recipe's duration, else that of the length source (its audio when its phase is used,
-- else as its decomposition or fit recorded it).
function plan.output_length(rec, ctx, steps, sources)
  local length
  if rec.duration then
    length = floor(rec.duration * rec.sr + 0.5)
  elseif rec.phase.source then
    length = #sources:audio(rec.length_source)
  else
    local name = rec.length_source
    local found = false
    for _, step in ipairs(steps) do
      if step.layer.fit and step.layer.target == name then
        sources:fit(step.W[1].source, name)
        found = true
        break
      end
    end
    if not found then sources:model(name) end
    length = sources.lengths[name]
  end
  if length < rec.n_fft then
    fail(ctx, nil, "key 'duration': the output must last at least n_fft (%d) samples, got %d",
      rec.n_fft, length)
  end
  plan.check_output_size(rec, ctx, length)
  return length
end

-- The bytes a render of `length` samples holds at its peak, roughly: the output and the
-- phase source's audio (float32), the magnitude and the placed activations (float32) and
-- two complex spectrograms (the phase source's and the output's).
function plan.output_bytes(rec, length)
  local frames = length / rec.hop + 1
  local bins = rec.n_fft // 2 + 1
  return 4 * 3 * length + frames * bins * (4 * 2 + 8 * 2)
end

-- Refuses an output whose render would not fit in memory (the memory cap, or the machine),
-- before anything is allocated: "key 'duration': the output (36000 s at 22050 Hz) needs
-- 1.3 TB, more than ...".
function plan.check_output_size(rec, ctx, length)
  local what = string.format("the output (%.10g s at %d Hz)", length / rec.sr, rec.sr)
  local ok, why = core.util.memory_check(plan.output_bytes(rec, length), what)
  if not ok then fail(ctx, nil, "key 'duration': %s", why) end
end

-- plan.drivers(step, i, w, sources) -> the activations that drive template w (the i-th of
-- the step's W selection): a list of {model, index, length}, length naming the source
-- whose length a looped row repeats after (none for a MIDI file's rows: their own).
-- Computes (or takes from the cache) the models and fits they come from.
function plan.drivers(step, i, w, sources)
  local layer = step.layer
  if step.midi then -- a MIDI file's rows, one per template (render.lua's midi_rows)
    return { { model = { H = step.midi }, index = i } }
  elseif layer.fit then
    return { { model = sources:fit(w.source, layer.target), index = w.index, length = layer.target } }
  elseif step.H == nil then
    return { { model = sources:model(w.source), index = w.index, length = w.source } }
  end
  local hs = {}
  if #step.H == #step.W then
    hs[1] = step.H[i]
  elseif #step.H == 1 then
    hs[1] = step.H[1]
  else -- one template, several activations: their sum drives it
    hs = step.H
  end
  local list = {}
  for _, h in ipairs(hs) do
    list[#list + 1] = { model = sources:model(h.source), index = h.index, length = h.source }
  end
  return list
end

return plan
