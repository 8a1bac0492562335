-- `tessera eval ESTIMATES... --ref REFERENCES... [--json]`: how good a separation is
-- (tessera.eval.separation): each estimate paired with a reference, then its SDR, SIR, SAR,
-- SI-SDR, SD-SDR and spectral convergence. `--onsets EST --ref-onsets REF [--window S]`
-- adds (or, without audio, is) an onset evaluation: files of one time in seconds per line
-- (the first field of a line split at commas or spaces, as mir_eval.io.load_events reads
-- them; blank lines and lines starting with # are skipped).
local json = require "tessera.json"

local format = string.format
local concat, huge = table.concat, math.huge

-- The onset times in a file, in its order (tessera.nmf.read_onsets); a header line is a
-- mistake here, as a list of times is compared as it is.
local function read_onsets(path)
  return require("tessera.nmf").read_onsets(path, { header = false, who = "eval" })
end

local function decibels(v)
  if v == huge then return "inf" elseif v == -huge then return "-inf" end
  return format("%.2f", v)
end

local COLUMNS = { "SDR", "SIR", "SAR", "SI-SDR", "SD-SDR", "spec.conv" }

local function print_table(rows)
  local est_width, ref_width = #"estimate", #"reference"
  for _, r in ipairs(rows) do
    est_width = math.max(est_width, #r.path_estimate)
    ref_width = math.max(ref_width, #r.path_reference)
  end
  local head = format("%-" .. est_width .. "s  %-" .. ref_width .. "s", "estimate", "reference")
  for _, c in ipairs(COLUMNS) do head = head .. format("  %9s", c) end
  local lines = { head }
  for _, r in ipairs(rows) do
    local cells = { format("%-" .. est_width .. "s  %-" .. ref_width .. "s", r.path_estimate,
                           r.path_reference) }
    for _, v in ipairs({ r.sdr, r.sir, r.sar, r.si_sdr, r.sd_sdr }) do
      cells[#cells + 1] = format("%9s", decibels(v))
    end
    cells[#cells + 1] = format("%9s", r.spectral_convergence
      and format("%.4f", r.spectral_convergence) or "-")
    lines[#lines + 1] = concat(cells, "  ")
  end
  io.write(concat(lines, "\n"), "\n")
end

return {
  name = "eval",
  help = "score separated stems against references: SDR, SIR, SAR, SI-SDR, onsets",
  setup = function(parser)
    parser:argument("estimates", "Estimated stems (audio files; mixed down to mono)."):args("*")
    parser:option("--ref", "Reference stems, as many as the estimates or more."):args("+")
    parser:flag("--json", "Print one JSON object instead of a table.")
    parser:option("--filter-length", "BSS Eval's distortion filter, in taps.", "512")
      :convert(math.tointeger)
    parser:flag("--no-zero-mean", "SI-SDR and SD-SDR without removing the means first.")
    parser:option("--onsets", "Estimated onset times (seconds, one per line).")
    parser:option("--ref-onsets", "Reference onset times (seconds, one per line).")
    parser:option("--window", "Onset tolerance in seconds.", "0.05"):convert(tonumber)
  end,
  run = function(args)
    local eval = require "tessera.eval"
    local has_audio = #args.estimates > 0 or args.ref ~= nil
    if has_audio and (#args.estimates == 0 or args.ref == nil) then
      error("eval: give the estimates and their references (--ref)", 0)
    end
    if (args.onsets == nil) ~= (args.ref_onsets == nil) then
      error("eval: give both --onsets and --ref-onsets", 0)
    end
    if not has_audio and args.onsets == nil then
      error("eval: nothing to evaluate (give ESTIMATES... --ref REFERENCES..., or --onsets "
        .. "and --ref-onsets)", 0)
    end
    local result = {}
    if has_audio then
      result.separation = eval.separation(args.estimates, args.ref, {
        filter_length = args.filter_length, zero_mean = not args.no_zero_mean })
    end
    if args.onsets then
      local f, p, r = eval.onsets(read_onsets(args.onsets), read_onsets(args.ref_onsets),
        { window = args.window })
      result.onsets = { estimated = args.onsets, reference = args.ref_onsets,
                        window = args.window, f_measure = f, precision = p, recall = r }
    end
    if args.json then
      io.write(json.encode(result), "\n")
      return
    end
    if result.separation then print_table(result.separation) end
    local o = result.onsets
    if o then
      io.write(format("onsets %s against %s (window %g s): F-measure %.4f, precision %.4f, "
        .. "recall %.4f\n", o.estimated, o.reference, o.window, o.f_measure, o.precision,
        o.recall))
    end
  end,
}
