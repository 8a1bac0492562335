-- tessera.recipe's checks of a layer's music-making keys: pitch (semitones, held or moving),
-- morph (its templates turning into another source's), pan and width, pattern (score edits
-- of its activations) and a MIDI file as H, with its notes. lua/tessera/recipe.lua calls this
-- module with its helpers and gets music.check (one layer).
local did_you_mean = require("tessera.args").did_you_mean
local automation = require "tessera.automation"
local score = require "tessera.score"

local format = string.format
local getmetatable, ipairs, math_type, pairs, pcall, tostring, type =
  getmetatable, ipairs, math.type, pairs, pcall, tostring, type

return function(h)
  local fail, describe, parse_selectors, confine = h.fail, h.describe, h.parse_selectors, h.confine
  local music = {}

  music.pitch_range = 48 -- semitones either way: four octaves
  local curves = { linear = { from = 0, to = 1 }, smooth = { from = 0, to = 1, shape = "smooth" } }

  local function automation_of(ctx, where, key, spec, lo, hi)
    local problem = automation.problem(spec, lo, hi)
    if problem then fail(ctx, where, "key '%s' %s", key, problem) end
    return spec
  end

  -- morph = { from = "a" (default: the layer's W), to = "b" | "b:2,1", curve = "linear" }
  local function check_morph(ctx, where, l, sources)
    local m = l.morph
    if type(m) ~= "table" or getmetatable(m) ~= nil then
      fail(ctx, where, "key 'morph' must be a table {to = 'source', curve = ...}, got %s",
        describe(m))
    end
    for key in pairs(m) do
      if key ~= "from" and key ~= "to" and key ~= "curve" then
        fail(ctx, where, "key 'morph' has %s (expected one of: from, to, curve)%s",
          type(key) == "string" and format("key '%s'", key) or "a key that is a " .. type(key),
          did_you_mean(key, { "from", "to", "curve" }))
      end
    end
    if (m.from == nil) == (l.W == nil) then
      fail(ctx, where, "key 'morph': give the templates it starts from once, as W or as from")
    end
    if m.to == nil then fail(ctx, where, "key 'morph': 'to' is missing (the source to turn into)") end
    if type(m.to) ~= "string" then
      fail(ctx, where, "key 'morph': 'to' must be a component selector like 'b' or 'b:2,1', got %s",
        describe(m.to))
    end
    local curve = m.curve == nil and "linear" or m.curve
    if type(curve) == "string" then
      if not curves[curve] then
        fail(ctx, where, "key 'morph': curve must be 'linear', 'smooth', a ramp {from =, to =} " ..
          "or a list of {seconds, position}, got %s%s", describe(curve),
          did_you_mean(curve, { "linear", "smooth" }))
      end
      curve = curves[curve]
    end
    return {
      from = m.from ~= nil and parse_selectors(ctx, where, "morph.from", m.from, sources) or nil,
      to = parse_selectors(ctx, where, "morph.to", m.to, sources)[1],
      curve = automation_of(ctx, where, "morph.curve", curve, 0, 1),
    }
  end

  -- Whether a layer's H names a MIDI file rather than components.
  function music.is_midi(H)
    return type(H) == "string" and H:lower():match("%.midi?$") ~= nil
  end

  -- notes = { [key] = position in W } (keys 0..127, positions 1..#W).
  local function check_notes(ctx, where, notes, count)
    if type(notes) ~= "table" or getmetatable(notes) ~= nil then
      fail(ctx, where, "key 'notes' must be a table {[key] = component}, got %s", describe(notes))
    end
    local map = {}
    for key, pos in pairs(notes) do
      if math_type(key) ~= "integer" or key < 0 or key > 127 then
        fail(ctx, where, "key 'notes': MIDI keys are integers in 0..127, got %s", describe(key))
      end
      if math_type(pos) ~= "integer" or pos < 1 or pos > count then
        fail(ctx, where, "key 'notes': key %d must map to a position in W (1..%d), got %s", key,
          count, describe(pos))
      end
      map[key] = pos
    end
    return map
  end

  -- The music keys of layer table l into the checked layer.
  function music.check(ctx, where, l, layer, sources)
    if music.is_midi(l.H) and not layer.fit then
      layer.midi = { file = confine(ctx, where, "H", l.H) }
      if l.notes ~= nil then
        local count = 0
        for _, sel in ipairs(layer.W or {}) do
          count = count + (sel.indices and #sel.indices or sources[sel.source].nmf.k)
        end
        layer.midi.notes = check_notes(ctx, where, l.notes, count)
      end
    elseif l.notes ~= nil then
      fail(ctx, where, "key 'notes' needs H = a MIDI file ('.mid')")
    end
    if l.pattern ~= nil then
      if type(l.pattern) ~= "table" or getmetatable(l.pattern) ~= nil then
        fail(ctx, where, "key 'pattern' must be a list of score edits like {'gate', 2}, got %s",
          describe(l.pattern))
      end
      local ok, plan = pcall(score.check, l.pattern, "key 'pattern'")
      if not ok then fail(ctx, where, "%s", tostring(plan)) end
      layer.pattern = plan
    end
    for _, key in ipairs { "pan", "width" } do
      local v, lo, hi = l[key], key == "pan" and -1 or 0, 1
      if v ~= nil and (type(v) ~= "number" or v ~= v or v < lo or v > hi) then
        fail(ctx, where, "key '%s' must be a number in %g..%g, got %s", key, lo, hi, describe(v))
      end
    end
    layer.pan, layer.width = l.pan or 0, l.width or 1
    if l.pitch ~= nil then
      layer.pitch = automation_of(ctx, where, "pitch", l.pitch, -music.pitch_range,
        music.pitch_range)
    end
    if l.morph ~= nil then
      if layer.fit then fail(ctx, where, "key 'morph' cannot be used with fit = true") end
      layer.morph = check_morph(ctx, where, l, sources)
      for _, sel in pairs { layer.morph.to, (layer.morph.from or {})[1] } do
        local T = sources[sel.source].nmf.T
        if T ~= nil and T > 1 then
          fail(ctx, where, "key 'morph': source '%s' is convolutive (T = %d); morph takes " ..
            "sources with T = 1", sel.source, T)
        end
      end
    end
  end

  return music
end
