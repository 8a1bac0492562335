-- tessera.compare.group: which stem each NMF component belongs to. A component's sound is
-- its Wiener share of the mix, M_i X with M_i = W_i H_i / W H; the energy of that sound is
-- split among the stems by the references' ideal ratio masks |R_j|^2 / sum |R|^2, giving
-- E[i][j], the energy of component i that lies where stem j dominates. Then
--   1. the Hungarian assignment gives min(k, stems) components one stem each so that the
--      sum of the fractions E[i][j] / sum_j E[i][j] is largest (so every stem gets a
--      component when k >= the number of stems), and
--   2. every other component goes to the stem that holds the largest fraction of it.
-- Computed from W, H and the spectrograms without rendering any component: a few products
-- per stem instead of an inverse STFT per component.
local core = require "tessera.core"
local hungarian = require("tessera.assign").hungarian

local matrix, ratio = core.matrix, core.listen.ratio
local ipairs = ipairs

local group = {}

-- group.weights(X, refs) -> Z: per stem j, |X|^2 times stem j's ideal ratio mask (n x p
-- Matrices). X is the mix's Spectrogram, refs the references' Spectrograms (same shape).
-- Where every reference is zero the bin is shared evenly.
function group.weights(X, refs)
  local power = X:power()
  local total
  local powers = {}
  for j, R in ipairs(refs) do
    powers[j] = R:power()
    total = total and total + powers[j] or powers[j]
  end
  local Z = {}
  for j, P in ipairs(powers) do
    Z[j] = power:hadamard(ratio(P, total, 1 / #refs))
  end
  return Z
end

-- group.energies(W, H, Z) -> E[i][j] (k x stems, Lua numbers): sum over bins and frames of
-- (W_i H_i / W H)^2 Z_j, as sum_f W_fi^2 [(Z_j / (WH)^2) (H^2)^T]_fi. (WH)^2 gets a floor of
-- 1e-12 of its largest value, so a bin the model leaves empty cannot overflow float32; such
-- a bin holds no component's energy anyway.
function group.energies(W, H, Z)
  local n, k = W:shape()
  local WH = W * H
  local D = WH:hadamard(WH)
  local floor = D:max() * 1e-12
  local _, p = D:shape()
  if floor > 0 then D = D + matrix.new(n, p, floor) end
  local W2 = W:hadamard(W)
  local H2T = H:hadamard(H):T()
  local ones = matrix.new(1, n, 1)
  local E = {}
  for i = 1, k do E[i] = {} end
  for j, Zj in ipairs(Z) do
    local row = ones * W2:hadamard(ratio(Zj, D, 0) * H2T) -- 1 x k
    for i = 1, k do E[i][j] = row:get(1, i) end
  end
  return E
end

-- group.assign(E, stems) -> groups (groups[j] = sorted list of component indices, possibly
-- empty), owner (owner[i] = j): the rule at the top of this file.
function group.assign(E, stems)
  local k = #E
  local F = {}
  for i = 1, k do
    local sum = 0
    for j = 1, stems do sum = sum + E[i][j] end
    F[i] = {}
    for j = 1, stems do F[i][j] = sum > 0 and E[i][j] / sum or 1 / stems end
  end
  local size = k > stems and k or stems
  local cost = {}
  for i = 1, size do
    cost[i] = {}
    for j = 1, size do cost[i][j] = (i <= k and j <= stems) and -F[i][j] or 0 end
  end
  local chosen = hungarian(cost, size)
  local owner, groups = {}, {}
  for j = 1, stems do groups[j] = {} end
  for i = 1, k do
    local j = chosen[i]
    if not j or j > stems then
      j = 1
      for s = 2, stems do
        if F[i][s] > F[i][j] then j = s end
      end
    end
    owner[i] = j
    local g = groups[j]
    g[#g + 1] = i
  end
  return groups, owner
end

return group
