-- tessera.assign: the one assignment solver, shared by tessera.nmf.match (components of two
-- models) and tessera.eval (estimates to references).
local assign = {}

-- assign.hungarian(cost, size) -> assign: the Kuhn-Munkres (Hungarian) assignment
-- minimising the sum of cost[i][j] over a size x size matrix (finite entries), with row and
-- column potentials (O(size^3)). Returns assign[i] = j.
function assign.hungarian(cost, size)
  local INF = math.huge
  local u, v, p, way = {}, {}, {}, {}
  for j = 0, size do u[j], v[j], p[j], way[j] = 0, 0, 0, 0 end
  for i = 1, size do
    p[0] = i
    local j0 = 0
    local minv, used = {}, {}
    for j = 0, size do minv[j], used[j] = INF, false end
    repeat
      used[j0] = true
      local i0, delta, j1 = p[j0], INF, 0
      for j = 1, size do
        if not used[j] then
          local cur = cost[i0][j] - u[i0] - v[j]
          if cur < minv[j] then minv[j], way[j] = cur, j0 end
          if minv[j] < delta then delta, j1 = minv[j], j end
        end
      end
      for j = 0, size do
        if used[j] then
          u[p[j]] = u[p[j]] + delta
          v[j] = v[j] - delta
        else
          minv[j] = minv[j] - delta
        end
      end
      j0 = j1
    until p[j0] == 0
    repeat
      local j1 = way[j0]
      p[j0] = p[j1]
      j0 = j1
    until j0 == 0
  end
  local chosen = {}
  for j = 1, size do
    if p[j] ~= 0 then chosen[p[j]] = j end
  end
  return chosen
end

return assign
