--- tessera.morph: templates that turn into other templates over time, by displacement
-- interpolation (1-D optimal transport of each spectrum, as Henderson & Solomon, DAFx
-- 2019, and FluCoMa's NMFMorph): energy slides along frequency rather than fading out in
-- one place and in at another, and the spectral centroid moves in a straight line. The
-- extension of tessera.core.morph.
--
--   local B = tessera.morph.partners(pads, choir)         -- choir's templates in pads' order
--   local half = tessera.morph.templates(pads.W, B, 0.5)   -- every template halfway
--   local V = tessera.morph.layer(pads.W, B, pads.H, t)    -- t: one position per frame
-- @module tessera.morph
local core = require "tessera.core"
local nmf = require "tessera.nmf"

local error, ipairs, type = error, ipairs, type
local format = string.format

local morph = core.morph

--- morph.templates(A, B, t) -> Matrix: column c of A (bins x k) moved toward column c of B
-- to position t in [0, 1] (0: A, 1: B, in between a mass (1 - t) |a| + t |b|).
-- @function templates
-- @tparam Matrix A bins x k, >= 0
-- @tparam Matrix B bins x k, >= 0
-- @number t the position in [0, 1]
-- @treturn Matrix bins x k
-- @raise when A and B differ in shape, an entry is negative or not finite, or t is outside [0, 1].
-- @usage local half = tessera.morph.templates(pads.W, B, 0.5)
morph.templates = morph.spectra

--- morph.partners(from, to [, from_indices]) -> Matrix: for each of from's templates (or the
-- listed ones), in that order, the template of `to` it turns into: the pairs of
-- tessera.nmf.match by W (Hungarian assignment on the templates' correlation). When `to`
-- has fewer components, the unpaired templates stay themselves. from and to are Models
-- with the same bins and T = 1.
-- @tparam Model from the model whose templates move
-- @tparam Model to the model they move toward
-- @tparam[opt] table indices from's components to pair (default: all)
-- @treturn Matrix to's templates in from's order (bins x k)
-- @raise when the bins differ or a model has T > 1.
-- @usage local B = tessera.morph.partners(pads, choir)
function morph.partners(from, to, indices)
  for i, m in ipairs { from, to } do
    if type(m) ~= "table" or m.W == nil then
      error(format("bad argument #%d to 'partners' (Model expected, got %s)", i, type(m)), 2)
    end
    if (m.T or 1) ~= 1 then
      error(format("bad argument #%d to 'partners' (a convolutive model (T = %d): morph takes "
        .. "T = 1)", i, m.T), 2)
    end
  end
  local bins = from.W:shape()
  if to.W:shape() ~= bins then
    error(format("bad argument #2 to 'partners' (its templates have %d bins, from's %d)",
      to.W:shape(), bins), 2)
  end
  local partner = {}
  for _, pair in ipairs((nmf.match(from, to, { by = "W" }))) do partner[pair.a] = pair.b end
  if indices == nil then
    indices = {}
    for i = 1, from.k do indices[i] = i end
  end
  local B = core.matrix.new(bins, #indices)
  for c, a in ipairs(indices) do
    local src, col = to.W, partner[a]
    if col == nil then src, col = from.W, a end
    for i = 1, bins do B:set(i, c, src:get(i, col)) end
  end
  return B
end

-- morph.layer(A, B, H, t) (from tessera.core.morph) -> Matrix bins x frames: the templates
-- of A moving toward B's along t (one position in [0, 1] per frame of H, a table), each
-- sounding with its row of H.

--- Column c of A moved toward column c of B at t (core's name; @{templates} is the same function).
-- @function spectra
-- @tparam Matrix A bins x k, >= 0
-- @tparam Matrix B bins x k, >= 0
-- @number t in [0, 1]
-- @treturn Matrix bins x k
-- @raise as @{templates}.
-- @usage local M = tessera.morph.spectra(A, B, 0.25)

--- A layer's magnitude: the templates of A moving toward B's along t, times H.
-- @function layer
-- @tparam Matrix A bins x k
-- @tparam Matrix B bins x k
-- @tparam Matrix H k x frames
-- @tparam table t one position in [0, 1] per frame
-- @treturn Matrix bins x frames
-- @raise when the shapes differ, t has the wrong length or a position outside [0, 1].
-- @usage local V = tessera.morph.layer(pads.W, B, pads.H, t)

-- Errors leave the public functions at the caller's line (lua/tessera/entry.lua).
return require("tessera.entry").export(morph)
