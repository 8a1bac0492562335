-- The fits of spec/nmf_bitexact_spec.lua: one line per case, "name W-sha256 H-sha256 loss
-- iterations", run in a child process whose TESSERA_SIMD picks the kernel path. The factors
-- are hashed as their float32 bytes (little-endian, column-major). Every case starts from
-- the same factors or the same seed, so two runs of one path give the same lines.
local t = require "tessera"
local core = t.core

local a = t.audio.load("/usr/share/sonic-pi/samples/loop_amen.flac", { mono = true, sr = 22050 })
-- n = 257 bins, p = 302 frames: enough columns for two chunks of every threaded pass.
local V = t.stft(a, { n_fft = 512, hop = 128 }):magnitude()

local function bytes(M)
  local rows, cols = M:shape()
  local parts = {}
  for j = 1, cols do
    local col = {}
    for i = 1, rows do col[i] = M:get(i, j) end
    parts[j] = string.pack("<" .. string.rep("f", rows), table.unpack(col))
  end
  return table.concat(parts)
end

local function start(k)
  local m = t.nmf(V, { k = k, init = "random", seed = 11, max_iter = 0, progress = false })
  return m.W, m.H
end

local cases = {}
local function case(name, opts)
  cases[#cases + 1] = { name = name, opts = opts }
end

for _, threads in ipairs({ 1, 2 }) do
  local th = "t" .. threads
  for _, loss in ipairs({ "euclidean", "kl", "is", 1.5, 0.5 }) do
    for _, order in ipairs({ "HW", "WH", "simultaneous" }) do
      for _, k in ipairs({ 4, 12 }) do
        case(("mu %s %s k%d %s"):format(loss, order, k, th),
             { k = k, loss = loss, order = order, max_iter = 15, tol = 0, threads = threads,
               init = "nndsvda" })
      end
    end
  end
  for _, loss in ipairs({ "euclidean", "kl" }) do
    case(("mu %s k20 %s"):format(loss, th),
         { k = 20, loss = loss, max_iter = 10, tol = 0, threads = threads, init = "random",
           seed = 5 })
    case(("mu %s reg %s"):format(loss, th),
         { k = 6, loss = loss, max_iter = 15, tol = 0, threads = threads, alpha_W = 0.05,
           alpha_H = "same", l1_ratio = 0.5, init = "nndsvd" })
    case(("mu %s tol %s"):format(loss, th),
         { k = 4, loss = loss, max_iter = 300, tol = 1e-3, every = 3, threads = threads,
           init = "nndsvdar" })
  end
  for _, k in ipairs({ 4, 12, 20 }) do
    case(("cd k%d %s"):format(k, th),
         { k = k, solver = "cd", max_iter = 15, tol = 0, threads = threads, init = "nndsvda" })
  end
  case("cd reg " .. th, { k = 6, solver = "cd", max_iter = 15, tol = 0, threads = threads,
                          alpha_W = 0.05, alpha_H = 0.02, l1_ratio = 0.3, init = "nndsvd" })
  case("cd tol " .. th, { k = 4, solver = "cd", max_iter = 300, tol = 1e-4, threads = threads,
                          init = "random", seed = 2 })
  for _, init in ipairs({ "random", "uniform", "nndsvd", "nndsvda", "nndsvdar" }) do
    case(("init %s %s"):format(init, th),
         { k = 5, loss = "kl", init = init, seed = 7, max_iter = 5, tol = 0, threads = threads })
  end
  for _, solver in ipairs({ "mu", "cd" }) do
    local W, H = start(5)
    case(("custom %s %s"):format(solver, th),
         { k = 5, solver = solver, W = W, H = H, max_iter = 10, tol = 0, threads = threads })
    case(("custom H only %s %s"):format(solver, th),
         { k = 5, solver = solver, H = H, max_iter = 10, tol = 0, threads = threads })
    case(("fixed W %s %s"):format(solver, th),
         { k = 5, solver = solver, W = W, update_W = false, max_iter = 10, tol = 0,
           threads = threads })
    case(("fixed H %s %s"):format(solver, th),
         { k = 5, solver = solver, H = H, update_H = false, max_iter = 10, tol = 0,
           threads = threads })
  end
  for _, loss in ipairs({ "kl", "is" }) do
    local W, H = start(5)
    case(("fixed W %s %s"):format(loss, th),
         { k = 5, loss = loss, W = W, H = H, update_W = false, max_iter = 10, tol = 0,
           threads = threads })
    case(("fixed H %s %s"):format(loss, th),
         { k = 5, loss = loss, W = W, H = H, update_H = false, max_iter = 10, tol = 0,
           threads = threads })
  end
end

for _, c in ipairs(cases) do
  c.opts.progress = false
  local m = t.nmf(V, c.opts)
  io.write(("%s|%s|%s|%.17g|%d\n"):format(c.name, core.util.sha256(bytes(m.W)),
                                          core.util.sha256(bytes(m.H)), m.loss, m.iterations))
end
