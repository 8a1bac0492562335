-- `tessera rank FILE -k 2..12`: how many NMF components a file's magnitude spectrogram
-- holds (tessera.nmf.rank): a table of both criteria per k, a plot of them in the terminal,
-- and the suggested k with its reason; --json prints the result as JSON instead.
local format = string.format
local concat, rep = table.concat, string.rep

-- "2..12", "2,3,4,6" or "2..8,10,12" -> a list of integers.
local function parse_ks(text)
  local ks = {}
  for part in (text .. ","):gmatch("([^,]*),") do
    local a, b = part:match("^%s*(%d+)%s*%.%.%s*(%d+)%s*$")
    if a then
      a, b = math.tointeger(tonumber(a)), math.tointeger(tonumber(b))
      if a > b then error(format("rank: -k range '%s' goes down", part), 0) end
      for k = a, b do ks[#ks + 1] = k end
    elseif part:match("^%s*%d+%s*$") then
      ks[#ks + 1] = math.tointeger(tonumber(part))
    else
      error(format("rank: -k expects a list like 2..12 or 2,3,4,6, got '%s'", text), 0)
    end
  end
  return ks
end

local BAR = 30

local function bar(fraction)
  local n = math.floor(fraction * BAR + 0.5)
  if n < 0 then n = 0 elseif n > BAR then n = BAR end
  return rep("#", n) .. rep(".", BAR - n)
end

local function print_result(file, r)
  local lo, hi = math.huge, -math.huge
  for _, row in ipairs(r.rows) do
    lo, hi = math.min(lo, row.heldout), math.max(hi, row.heldout)
  end
  local lines = {
    format("%s: %d folds holding out %.0f%% of the entries each, %d seeds, loss %s",
      file, r.options.folds, 100 * r.options.holdout, r.options.seeds, r.options.loss),
    "",
    format("%4s  %12s  %10s  %9s  %7s  %-" .. BAR .. "s  %-" .. BAR .. "s", "k", "held-out",
      "+- s.e.", "stability", "weakest", "held-out error (low is good)", "stability (weakest pair)"),
  }
  for _, row in ipairs(r.rows) do
    local span = hi > lo and (row.heldout - lo) / (hi - lo) or 0
    lines[#lines + 1] = format("%4d  %12.5g  %10.3g  %9.3f  %7.3f  %s  %s%s", row.k, row.heldout,
      row.heldout_se, row.stability, row.weakest, bar(1 - span), bar(math.max(row.weakest, 0)),
      row.k == r.suggested and "  <- suggested" or "")
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "cross-validation: " .. r.criteria.cv
  lines[#lines + 1] = "stability: " .. r.criteria.stability
  lines[#lines + 1] = "suggested " .. r.reason
  io.write(concat(lines, "\n"), "\n")
end

return {
  name = "rank",
  help = "suggest how many NMF components a file holds (masked cross-validation, stability)",
  setup = function(parser)
    parser:argument("file", "Audio file (WAV, FLAC, Ogg, ...).")
    parser:option("-k", "The ks to try: 2..12, 2,3,4,6 or 2..8,10,12.", "2..12")
    parser:option("--loss", "euclidean, kl or is.", "euclidean"):choices { "euclidean", "kl", "is" }
    parser:option("--solver", "mu or cd (cd: euclidean only).", "mu"):choices { "mu", "cd" }
    parser:option("--folds", "Cross-validation folds.", "3"):convert(math.tointeger)
    parser:option("--holdout", "Share of the entries each fold holds out.", "0.1"):convert(tonumber)
    parser:option("--seeds", "Random starts compared for stability.", "3"):convert(math.tointeger)
    parser:option("--seed", "Seed of the masks and starts.", "0"):convert(math.tointeger)
    parser:option("--iter", "Maximum iterations per fit.", "200"):convert(math.tointeger)
    parser:option("--sr", "Sample rate to analyse at.", "22050"):convert(math.tointeger)
    parser:option("--n-fft", "STFT window size.", "1024"):convert(math.tointeger)
    parser:option("--hop", "STFT hop.", "256"):convert(math.tointeger)
    parser:option("--offset", "Seconds to skip.", "0"):convert(tonumber)
    parser:option("--duration", "Seconds to keep (default: all)."):convert(tonumber)
    parser:flag("--json", "Print the result as JSON.")
  end,
  run = function(args)
    local tessera = require "tessera"
    local ks = parse_ks(args.k)
    local a = tessera.audio.load(args.file, { sr = args.sr, offset = args.offset,
                                              duration = args.duration, mono = true })
    local V = tessera.stft(a, { n_fft = args.n_fft, hop = args.hop }):magnitude()
    local tty = select(2, pcall(function() return require("luv").guess_handle(2) == "tty" end))
    local r = tessera.nmf.rank(V, { ks = ks, loss = args.loss, solver = args.solver,
      folds = args.folds, holdout = args.holdout, seeds = args.seeds, seed = args.seed,
      max_iter = args.iter, on_progress = tty == true and function(done, total)
        io.stderr:write(format("\r\027[Krank: fit %d of %d", done, total))
        if done == total then io.stderr:write("\r\027[K") end
      end or nil })
    if args.json then
      io.write(require("tessera.json").encode(r), "\n")
    else
      print_result(args.file, r)
    end
  end,
}
