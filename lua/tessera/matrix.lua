-- tessera.matrix: dense float32 matrices, column-major, as the C type tessera.Matrix.
-- The functions (new, from, load) and every method live in tessera.core; this module is the
-- place for Lua-side additions, and returns the core table itself so there is one API.
--
--   local matrix = require("tessera").matrix
--   local A = matrix.from{{1, 2}, {3, 4}}
--   local B = A * A:T() + 2 * A        -- product (OpenBLAS), scaling, element-wise sum
--   B:save("b.npy")                     -- .npy (float32, Fortran order) or .csv
local core = require "tessera.core"

return core.matrix
