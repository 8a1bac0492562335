-- Specs for tessera.nmf.group, tessera.nmf.envelope and tessera.nmf.evenness: many components against fewer, on
-- models built from known factors (a component of the few that the many split in two, with
-- scales traded between W and H), against sums computed here by hand.
local tessera = require "tessera"
local helpers = require "helpers"

local nmf, matrix = tessera.nmf, tessera.matrix

local P, N = 120, 6

-- A model holding exactly the factors W (n x k) and H (k x p), given as lists of lists.
local function model_of(W, H)
  local Wm, Hm = matrix.from(W), matrix.from(H)
  return tessera.nmf(Wm * Hm, { k = #H, W = Wm, H = Hm, max_iter = 0 })
end

-- Activation patterns over P frames: hits every `period` frames from `phase`, with a tail.
local function hits(period, phase)
  local x = {}
  for t = 1, P do
    local d = (t - 1 - phase) % period
    x[t] = d == 0 and 1 or d == 1 and 0.5 or 0.05
  end
  return x
end

local function scaled(x, s)
  local y = {}
  for t = 1, #x do y[t] = s * x[t] end
  return y
end

local function added(x, y)
  local z = {}
  for t = 1, #x do z[t] = x[t] + y[t] end
  return z
end

-- W from columns (each a list of N numbers).
local function columns(...)
  local cols, W = { ... }, {}
  for i = 1, N do
    W[i] = {}
    for j, c in ipairs(cols) do W[i][j] = c[i] end
  end
  return W
end

local pearson = helpers.pearson

-- Two sounds a (kick-like) and c (hat-like) play in one template w; b is another sound.
local a, b, c = hits(8, 0), hits(12, 5), hits(8, 4)
local w, v = { 4, 3, 2, 1, 0.5, 0.25 }, { 0.1, 0.2, 0.5, 1, 2, 3 }
-- few: k = 3, component 1 is a + c in w, 2 is b in v, 3 is a sound nobody else has.
-- many: k = 3, a in w with H scaled by 10 (W by 1/10), c in w, b in v.
local function few_and_many()
  local lone = { 1, 0, 0, 0, 0, 1 }
  local few = model_of(columns(w, v, lone), { added(a, c), b, hits(30, 2) })
  local many = model_of(columns(scaled(w, 0.1), w, v), { scaled(a, 10), c, b })
  return few, many
end

describe("tessera.nmf", function()
  describe("group()", function()
    it("gives each component to the one it correlates with best, and scores the group's sum", function()
      local few, many = few_and_many()
      local groups = nmf.group(many, few)
      assert.equal(3, #groups)
      assert.same({ 1, 2 }, groups[1].members)
      assert.same({ 3 }, groups[2].members)
      assert.same({}, groups[3].members)
      assert.same({ 1, 2, 3 }, { groups[1].target, groups[2].target, groups[3].target })
      -- a and c, each weighted by the L1 norm of its W column, sum to a + c exactly.
      assert.near(1, groups[1].corr, 1e-6)
      assert.near(1, groups[2].corr, 1e-6)
      assert.is_nil(groups[3].corr)
      assert.is_nil(groups[3].best)
      -- Alone, neither half matches a + c: the best one's correlation, by hand.
      local ra, rc = pearson(a, added(a, c)), pearson(c, added(a, c))
      assert.is_true(math.max(ra, rc) < 0.8, tostring(math.max(ra, rc)))
      assert.near(math.max(ra, rc), groups[1].best, 1e-6)
      assert.equal(ra >= rc and 1 or 2, groups[1].best_member)
    end)

    it("weights the members by their W columns (their H rows alone would not add up)", function()
      local few = model_of(columns(w), { added(a, c) })
      local many = model_of(columns(scaled(w, 0.1), w), { scaled(a, 10), c })
      local g = nmf.group(many, few)[1]
      assert.near(1, g.corr, 1e-6)
      -- The unweighted sum 10 a + c correlates less: the weights are what made it 1.
      assert.is_true(pearson(added(scaled(a, 10), c), added(a, c)) < 0.999)
    end)

    it("groups by W columns when asked", function()
      local few = model_of(columns(added(w, v)), { a })
      local many = model_of(columns(w, scaled(v, 5)), { a, scaled(a, 0.2) })
      local g = nmf.group(many, few, { by = "W" })[1]
      assert.same({ 1, 2 }, g.members)
      assert.near(1, g.corr, 1e-6)
    end)

    it("refuses what it cannot group", function()
      local few, many = few_and_many()
      assert.has_error(function() nmf.group(many, {}) end, "bad argument #2 to 'group' (Model expected, got table)")
      assert.has_error(function() nmf.group(nil, few) end, "bad argument #1 to 'group' (Model expected, got nil)")
      assert.has_error(function() nmf.group(many, few, "H") end,
        "bad argument #3 to 'group' (options must be a table, got string)")
      assert.has_error(function() nmf.group(many, few, { by = "V" }) end,
        "bad argument #3 to 'group' (invalid by 'V'; expected one of: H, W)")
      local short = model_of(columns(w), { { 1, 2, 3 } })
      assert.has_error(function() nmf.group(many, short) end,
        "bad argument #2 to 'group' (H rows of different lengths: 120 and 3 frames)")
      local narrow = model_of({ { 1 }, { 2 } }, { a })
      assert.has_error(function() nmf.group(many, narrow, { by = "W" }) end,
        "bad argument #2 to 'group' (W columns of different lengths: 6 and 2 bins)")
    end)
  end)

  describe("envelope()", function()
    it("is sum_j ||W_j||_1 H_j", function()
      local _, many = few_and_many()
      local e1 = nmf.envelope(many, 1)
      local e12 = nmf.envelope(many, { 1, 2 })
      local l1_w = 0
      for _, x in ipairs(w) do l1_w = l1_w + x end
      for t = 1, P do
        assert.near(l1_w * a[t], e1[t], 1e-4)
        assert.near(l1_w * (a[t] + c[t]), e12[t], 1e-4)
      end
      assert.equal(P, #nmf.envelope(many, {}))
    end)

    it("refuses a component that is not there", function()
      local _, many = few_and_many()
      assert.has_error(function() nmf.envelope(many, 4) end,
        "bad argument #2 to 'envelope' (component must be an integer in 1..3, got 4)")
      assert.has_error(function() nmf.envelope(many, { 1, 1.5 }) end,
        "bad argument #2 to 'envelope' (component must be an integer in 1..3, got 1.5)")
      assert.has_error(function() nmf.envelope("m", 1) end,
        "bad argument #1 to 'envelope' (Model expected, got string)")
    end)
  end)

  describe("evenness()", function()
    -- Shares and entropy by hand: component i holds ||W_i||_1 ||H_i||_1 of the sum of W H.
    local function by_hand(W, H)
      local k, shares, total = #H, {}, 0
      for i = 1, k do
        local wl1, hl1 = 0, 0
        for f = 1, #W do wl1 = wl1 + W[f][i] end
        for t = 1, #H[i] do hl1 = hl1 + H[i][t] end
        shares[i] = wl1 * hl1
        total = total + shares[i]
      end
      local e = 0
      for i = 1, k do
        shares[i] = shares[i] / total
        if shares[i] > 0 then e = e - shares[i] * math.log(shares[i]) end
      end
      return e / math.log(k), shares
    end

    it("is the entropy of the components' shares of W H over log k", function()
      local W, H = columns(w, v, { 1, 0, 0, 0, 0, 1 }), { a, b, hits(30, 2) }
      local e, shares = nmf.evenness(model_of(W, H))
      local e_hand, shares_hand = by_hand(W, H)
      assert.near(e_hand, e, 1e-6)
      for i = 1, 3 do assert.near(shares_hand[i], shares[i], 1e-6) end
      assert.is_true(e > 0 and e < 1, tostring(e))
    end)

    it("is 1 for equal shares and near 0 when one component holds nearly all", function()
      -- the same sound twice, its scale traded between W and H: equal shares
      local e = nmf.evenness(model_of(columns(scaled(w, 0.1), w), { scaled(a, 10), a }))
      assert.near(1, e, 1e-6)
      local lopsided = nmf.evenness(model_of(columns(w, v), { a, scaled(b, 1e-6) }))
      assert.is_true(lopsided < 1e-4, tostring(lopsided))
      assert.equal(1.0, nmf.evenness(model_of(columns(w), { a })))
    end)

    it("refuses what is not a model, and a model with nothing in it", function()
      assert.has_error(function() nmf.evenness({}) end,
        "bad argument #1 to 'evenness' (Model expected, got table)")
      local zeros = {}
      for t = 1, P do zeros[t] = 0 end
      assert.has_error(function() nmf.evenness(model_of(columns(w), { zeros })) end,
        "bad argument #1 to 'evenness' (every component is zero)")
    end)
  end)
end)
