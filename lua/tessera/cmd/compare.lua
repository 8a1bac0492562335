-- `tessera compare MIX --refs STEMS... [-k 2,3,4] [--methods cd,mu-kl] [--seeds 3] [-o DIR]`:
-- which NMF method separates a known mixture best (tessera.compare). Prints the best
-- configuration per stem (or, with --json, the whole results JSON); -o DIR writes
-- results.csv, results.json, estimates/<stem>.wav and the HTML report index.html. MIX may
-- also be a folder written by `tessera mix`: its stems are then the references.
local fs = require "tessera.fs"
local json = require "tessera.json"

local format = string.format

local function fail(msg, ...) error(format("compare: " .. msg, ...), 0) end

-- "2,3,4" -> {2, 3, 4}
local function integers(text, option)
  local list = {}
  for field in (text .. ","):gmatch("([^,]*),") do
    local v = math.tointeger(tonumber(field))
    if v == nil then fail("%s must be a list of integers separated by commas, got '%s'", option, text) end
    list[#list + 1] = v
  end
  return list
end

-- A `tessera mix` folder: mix.wav, and the stems in mixture.json's order.
local function mixture_folder(dir)
  local text = fs.read_file(dir .. "/mixture.json")
  if not text then fail("'%s' is a folder without mixture.json (give a mix file and --refs)", dir) end
  local info = json.decode(text)
  local refs, names = {}, {}
  for j, s in ipairs(info.stems or {}) do
    refs[j] = dir .. "/stems/" .. s.name .. ".wav"
    names[j] = s.name
  end
  return dir .. "/mix.wav", refs, names
end

return {
  name = "compare",
  help = "compare NMF methods x k x seeds on a known mixture: SI-SDR per stem, an HTML report",
  setup = function(parser)
    parser:epilog("Methods: cd, mu-euclidean, mu-kl, is, beta-0.5, study (the study's simultaneous "
      .. "Euclidean updates). Fits are cached (TESSERA_CACHE_DIR), so a second run, e.g. with "
      .. "--bss, fits nothing.")
    parser:argument("mix", "The mix (an audio file), or a folder written by `tessera mix`.")
    parser:option("--refs", "The reference stems, in order (audio files at the mix's rate and length)."):args("+")
    parser:option("-k", "Component counts, separated by commas.", "2,3,4,6,8,12")
    parser:option("--methods", "Methods, separated by commas (default: all six).")
    parser:option("--seeds", "Number of seeds (1..N).", "3"):convert(math.tointeger)
    parser:option("--iter", "Most iterations per fit.", "200"):convert(math.tointeger)
    parser:option("--tol", "Stopping tolerance (0: always --iter iterations).", "1e-4"):convert(tonumber)
    parser:option("--n-fft", "STFT size.", "1024"):convert(math.tointeger)
    parser:option("--hop", "STFT hop.", "256"):convert(math.tointeger)
    parser:flag("--bss", "Also BSS Eval's SDR, SIR and SAR (slower).")
    parser:flag("--no-cache", "Fit everything anew.")
    parser:option("-o --out", "Folder for results.csv, results.json, estimates/ and index.html.")
    parser:flag("--json", "Print the results JSON instead of the table of best methods.")
  end,
  run = function(args)
    local compare = require "tessera.compare"
    local mix, refs, names = args.mix, args.refs, nil
    if fs.is_dir(mix) then
      if refs then fail("give either a `tessera mix` folder or a mix file with --refs, not both") end
      mix, refs, names = mixture_folder(mix)
    elseif not refs then
      fail("give the reference stems with --refs (or a folder written by `tessera mix`)")
    end
    if args.seeds == nil or args.seeds < 1 then fail("--seeds must be an integer >= 1") end
    local seeds = {}
    for i = 1, args.seeds do seeds[i] = i end
    local methods
    if args.methods then
      methods = {}
      for name in args.methods:gmatch("[^,]+") do methods[#methods + 1] = name end
    end
    local result = compare(mix, refs, {
      methods = methods, ks = integers(args.k, "-k"), seeds = seeds, max_iter = args.iter,
      tol = args.tol, n_fft = args.n_fft, hop = args.hop, bss = args.bss,
      cache = not args.no_cache, names = names,
    })
    if args.out then compare.write(result, args.out) end
    if args.json then
      io.write(compare.json(result))
      return
    end
    io.write(format("%-12s %-14s %4s %10s %10s %10s %8s\n", "stem", "method", "k", "mean SI-SDR",
      "min", "max", "std"))
    for _, b in ipairs(result.best) do
      local function db(v) return v == -math.huge and "none" or format("%.2f", v) end
      io.write(format("%-12s %-14s %4d %11s %10s %10s %8s\n", b.stem, b.method, b.k, db(b.mean),
        db(b.min), db(b.max), b.std and format("%.2f", b.std) or "-"))
    end
    io.write(format("%d fits in %.1f s (%d from the cache)%s\n", result.fits, result.seconds,
      result.cache.hits, args.out and (", wrote " .. args.out .. "/index.html") or ""))
  end,
}
