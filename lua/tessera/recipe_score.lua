-- tessera.recipe's checks of a source's score-informed keys (templates, template_method,
-- templates_from, freeze_templates, activations_from, freeze_activations, onsets,
-- onset_before, onset_after, allowed_H): lua/tessera/recipe.lua calls this module with its helpers
-- and gets score.check (one source) and score.check_lent (the keys that name other sources,
-- once all are known).
local format = string.format
local did_you_mean = require("tessera.args").did_you_mean
local getmetatable, ipairs, tostring, type = getmetatable, ipairs, tostring, type

return function(h)
  local fail, describe, finite, names_of = h.fail, h.describe, h.finite, h.names_of
  local parse_selectors, expand = h.parse_selectors, h.expand
  local score = {}

  -- The score-informed keys of a source (templates, template_method, onsets, onset_before,
  -- onset_after) -> src.score, or nil. Template files are read under the rules of `file`.
  function score.check(ctx, where, s, src, confine)
    if s.templates == nil and s.onsets == nil and s.templates_from == nil and
       s.activations_from == nil and s.allowed_H == nil then
      for _, key in ipairs { "template_method", "freeze_templates", "onset_before", "onset_after" } do
        if s[key] ~= nil then fail(ctx, where, "key '%s' needs templates or onsets", key) end
      end
      if s.freeze_activations ~= nil then
        fail(ctx, where, "key 'freeze_activations' needs activations_from")
      end
      return nil
    end
    if s.templates ~= nil and s.templates_from ~= nil then
      fail(ctx, where, "keys 'templates' and 'templates_from' cannot both be given (both start " ..
        "components 1, 2, ...)")
    end
    local conv = src.nmf.T ~= nil
    local sc = { templates = {}, method = s.template_method or (conv and "frames" or "mean") }
    if conv and sc.method ~= "frames" then
      fail(ctx, where, "key 'template_method' must be 'frames' with T (templates T frames long), got %s",
        describe(sc.method))
    elseif not conv and sc.method ~= "mean" and sc.method ~= "rank1" then
      fail(ctx, where, "key 'template_method' must be 'mean' or 'rank1', got %s%s", describe(sc.method),
        did_you_mean(sc.method, { "mean", "rank1" }))
    end
    local function list_of(key, v)
      if type(v) ~= "table" or getmetatable(v) ~= nil or #v == 0 or #v > src.nmf.k then
        fail(ctx, where, "key '%s' must be a list of 1..%d entries (k), got %s", key, src.nmf.k,
          type(v) == "table" and format("%d entries", #v) or describe(v))
      end
      return v
    end
    if s.templates ~= nil then
      for i, file in ipairs(list_of("templates", s.templates)) do
        if type(file) ~= "string" or file == "" then
          fail(ctx, where, "key 'templates': entry %d must be a file name, got %s", i, describe(file))
        end
        sc.templates[i] = confine("templates", file)
      end
    end
    if s.freeze_templates ~= nil then
      if type(s.freeze_templates) ~= "boolean" then
        fail(ctx, where, "key 'freeze_templates' must be true or false, got %s", describe(s.freeze_templates))
      end
      if s.templates == nil and s.templates_from == nil then
        fail(ctx, where, "key 'freeze_templates' needs templates or templates_from")
      end
      sc.freeze = s.freeze_templates
    end
    if s.freeze_activations ~= nil then
      if type(s.freeze_activations) ~= "boolean" then
        fail(ctx, where, "key 'freeze_activations' must be true or false, got %s",
          describe(s.freeze_activations))
      end
      if s.activations_from == nil then fail(ctx, where, "key 'freeze_activations' needs activations_from") end
      sc.freeze_activations = s.freeze_activations
    end
    if s.onsets ~= nil then
      sc.onsets = {}
      for i, list in ipairs(list_of("onsets", s.onsets)) do
        if type(list) ~= "table" or getmetatable(list) ~= nil then
          fail(ctx, where, "key 'onsets': entry %d must be a list of seconds, got %s", i, describe(list))
        end
        sc.onsets[i] = {}
        for j, t in ipairs(list) do
          if not finite(t) or t < 0 then
            fail(ctx, where, "key 'onsets': onset %d of component %d must be seconds >= 0, got %s",
              j, i, describe(t))
          end
          sc.onsets[i][j] = t
        end
      end
    end
    for _, key in ipairs { "onset_before", "onset_after" } do
      local v = s[key]
      if v ~= nil then
        if sc.onsets == nil then fail(ctx, where, "key '%s' needs onsets", key) end
        local ok = finite(v) and v >= 0
        if type(v) == "table" and getmetatable(v) == nil and #v == #sc.onsets then
          ok = true
          for i = 1, #v do ok = ok and finite(v[i]) and v[i] >= 0 end
        end
        if not ok then
          fail(ctx, where, "key '%s' must be seconds >= 0 or a list of %d of them, got %s", key,
            #sc.onsets, describe(v))
        end
        sc[key:sub(7)] = v
      end
    end
    if s.allowed_H ~= nil then
      if type(s.allowed_H) ~= "string" or s.allowed_H == "" then
        fail(ctx, where, "key 'allowed_H' must be a file name (.npy or .csv), got %s",
          describe(s.allowed_H))
      end
      if not (s.allowed_H:match("%.npy$") or s.allowed_H:match("%.csv$")) then
        fail(ctx, where, "key 'allowed_H': '%s' must end in .npy or .csv", s.allowed_H)
      end
      if sc.onsets then
        fail(ctx, where, "keys 'onsets' and 'allowed_H' cannot both be given (both say where " ..
          "components sound)")
      end
      sc.allowed_file = confine("allowed_H", s.allowed_H)
    end
    for _, key in ipairs { "onsets", "allowed_H" } do
      if s[key] ~= nil and src.nmf.solver == "cd" then
        fail(ctx, where, "key '%s' needs solver 'mu' (coordinate descent can make a masked " ..
          "activation positive)", key)
      end
    end
    return sc
  end

  -- templates_from and activations_from: component selectors of other sources, checked once
  -- every source is known, into src.score.templates_from / activations_from ({source, index}
  -- lists, at most k entries); a source may not start from itself, directly or in a cycle.
  function score.check_lent(ctx, given, sources)
    local deps = {}
    for _, name in ipairs(names_of(given)) do
      local s, src = given[name], sources[name]
      local where = format("source '%s'", name)
      deps[name] = {}
      for _, key in ipairs { "templates_from", "activations_from" } do
        if s[key] ~= nil then
          local list = expand(ctx, where, key, parse_selectors(ctx, where, key, s[key], sources),
            function(other) return sources[other].nmf.k end)
          if #list > src.nmf.k then
            fail(ctx, where, "key '%s' selects %d components, more than k = %d", key, #list, src.nmf.k)
          end
          for _, c in ipairs(list) do
            local other = sources[c.source]
            if key == "templates_from" and (other.n_fft ~= src.n_fft or other.nmf.T ~= src.nmf.T) then
              fail(ctx, where, "key 'templates_from': source '%s' has n_fft %d and T %s, this one " ..
                "n_fft %d and T %s (templates must have the same shape)", c.source, other.n_fft,
                tostring(other.nmf.T or 1), src.n_fft, tostring(src.nmf.T or 1))
            end
            deps[name][#deps[name] + 1] = c.source
          end
          src.score[key] = list
        end
      end
    end
    -- A source starting from itself, through any chain, would need its own decomposition first.
    local state = {}
    local function visit(name, path)
      if state[name] == "done" then return end
      if state[name] == "open" then
        fail(ctx, format("source '%s'", name), "templates_from / activations_from make a cycle: %s",
          table.concat(path, " -> ") .. " -> " .. name)
      end
      state[name] = "open"
      path[#path + 1] = name
      for _, d in ipairs(deps[name]) do visit(d, path) end
      path[#path] = nil
      state[name] = "done"
    end
    for _, name in ipairs(names_of(given)) do visit(name, {}) end
  end

  return score
end
