-- tessera.recipe's checks of a recipe's output: its phase (a source, or Griffin-Lim and its
-- options), the output's length source, and its channels, rate and sample format.
-- lua/tessera/recipe.lua calls this module with its helpers and gets output.check.
local did_you_mean = require("tessera.args").did_you_mean

local ipairs, pairs, type = ipairs, pairs, type

return function(h)
  local fail, describe, check_table, check_keys, set_of = h.fail, h.describe, h.check_table,
    h.check_keys, h.set_of
  local integer, number, string_of, source_named = h.integer, h.number, h.string_of, h.source_named
  local output = {}

  local function nonneg(v) return v >= 0 end

  -- The output's channels, rate and sample format (top.channels, top.rate, top.format).
  local function channels_rate_format(ctx, t, top)
    local stereo = false
    for _, src in pairs(top.sources) do stereo = stereo or src.stereo end
    for _, layer in ipairs(top.layers) do stereo = stereo or layer.pan ~= 0 or layer.width ~= 1 end
    top.channels = integer(ctx, nil, t, "channels", stereo and 2 or 1,
      function(v) return v == 1 or v == 2 end, "1 or 2")
    if t.rate == "source" then
      top.rate = "source" -- the length source's file's own rate, read when rendering
    else
      top.rate = integer(ctx, nil, t, "rate", top.sr, function(v) return v >= 1000 and v <= 768000 end,
        "an integer in 1000..768000 (Hz) or 'source'")
    end
    top.format = t.format
    if top.format ~= nil and top.format ~= "float" and top.format ~= "pcm16" and top.format ~= "pcm24" then
      fail(ctx, nil, "key 'format' must be 'float', 'pcm16' or 'pcm24', got %s%s", describe(top.format),
        did_you_mean(top.format, { "float", "pcm16", "pcm24" }))
    end
    local out = top.out
    if top.format == "float" and out and out:lower():match("%.flac$") then
      fail(ctx, nil, "key 'format': FLAC holds no float samples; use 'pcm16' or 'pcm24'")
    end
  end

  -- output.check(ctx, t, top): the phase (top.phase), the length source (top.length_source),
  -- then channels, rate and format, once top's sources and layers are checked.
  function output.check(ctx, t, top)
    -- The phase: a source, or Griffin-Lim; default the first layer's rhythm source.
    local first = top.layers[1]
    local rhythm = first.fit and first.target or (first.H or first.W)[1].source
    local phase = t.phase
    if phase == nil then
      top.phase = { source = rhythm }
    elseif phase == "griffinlim" then
      top.phase = { griffinlim = { iter = 32, momentum = 0.99, seed = 0, init = "random" } }
    elseif type(phase) == "string" then
      if top.sources[phase] == nil then -- "grifinlim" is more likely Griffin-Lim than a source
        local names = {}
        for name in pairs(top.sources) do names[#names + 1] = name end
        table.sort(names)
        local sources = table.concat(names, ", ")
        names[#names + 1] = "griffinlim"
        fail(ctx, nil, "key 'phase': no source named '%s' (sources: %s; or 'griffinlim')%s", phase,
          sources, did_you_mean(phase, names))
      end
      source_named(ctx, nil, "phase", top.sources, phase)
      top.phase = { source = phase }
    else
      fail(ctx, nil, "key 'phase' must be a source name or 'griffinlim', got %s", describe(phase))
    end
    if t.griffinlim ~= nil then
      -- With a phase source, Griffin-Lim refines the render that phase gives (init "source").
      local from_source = top.phase.source ~= nil
      check_table(ctx, nil, "griffinlim", t.griffinlim)
      local g = t.griffinlim
      local where = "key 'griffinlim'"
      local keys = h.keys.griffinlim
      check_keys(ctx, where, g, keys, set_of(keys), "a griffinlim option")
      top.phase.griffinlim = {
        iter = integer(ctx, where, g, "iter", 32, nonneg, "an integer >= 0"),
        momentum = number(ctx, where, g, "momentum", 0.99, function(v) return v >= 0 and v <= 1 end,
          "a number in [0, 1]"),
        seed = integer(ctx, where, g, "seed", 0, nil, "an integer"),
        init = string_of(ctx, where, g, "init") or (from_source and "source" or "random"),
      }
      local init = top.phase.griffinlim.init
      if from_source and init ~= "source" then
        fail(ctx, where, "key 'init': with phase = '%s' Griffin-Lim starts from that source's phase " ..
          "(init 'source'), got %s", top.phase.source, describe(init))
      elseif not from_source and init ~= "random" and init ~= "pghi" then
        fail(ctx, where, "key 'init' must be 'random' or 'pghi', got %s%s", describe(init),
          did_you_mean(init, { "random", "pghi" }))
      end
      if init == "pghi" and top.window == "rect" then
        fail(ctx, where, "init 'pghi' needs a hann or hamming window, the recipe's is 'rect'")
      end
    end
    -- The output length's default: the phase source's, or the rhythm source's.
    top.length_source = top.phase.source or rhythm
    channels_rate_format(ctx, t, top)
  end

  return output
end
