-- tessera.recipe's checks of a layer's music-making keys: pitch (semitones, held or moving),
-- morph (its templates turning into another source's), pan and width. lua/tessera/recipe.lua calls this
-- module with its helpers and gets music.check (one layer).
local automation = require "tessera.automation"

local format = string.format
local getmetatable, ipairs, pairs, type = getmetatable, ipairs, pairs, type

return function(h)
  local fail, describe, parse_selectors = h.fail, h.describe, h.parse_selectors
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
        fail(ctx, where, "key 'morph' has %s (expected one of: from, to, curve)",
          type(key) == "string" and format("key '%s'", key) or "a key that is a " .. type(key))
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
          "or a list of {seconds, position}, got %s", describe(curve))
      end
      curve = curves[curve]
    end
    return {
      from = m.from ~= nil and parse_selectors(ctx, where, "morph.from", m.from, sources) or nil,
      to = parse_selectors(ctx, where, "morph.to", m.to, sources)[1],
      curve = automation_of(ctx, where, "morph.curve", curve, 0, 1),
    }
  end

  -- The music keys of layer table l into the checked layer.
  function music.check(ctx, where, l, layer, sources)
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
