-- tessera.compare.output: a comparison's results as files. compare.write(result, dir)
-- writes dir/results.csv (one row per method, k, seed and stem), dir/results.json (the rows,
-- the summary and the best configuration per stem), dir/estimates/<stem>.wav (float32: the
-- best configuration's estimate of each stem, the audio its SI-SDR was computed on) and
-- dir/index.html, a tessera.report page: a heatmap of the mean SI-SDR over seeds (method x
-- k) per stem, the best method per stem with its spread over seeds, and players for the
-- mix, every reference and every best estimate. Every file is written atomically.
local core = require "tessera.core"
local files = require "tessera.files"
local fs = require "tessera.fs"
local json = require "tessera.json"

local error, ipairs, pairs, tostring, type = error, ipairs, pairs, tostring, type
local math, string, table = math, string, table
local fmt = string.format
local concat = table.concat
local huge = math.huge

local output = {}

output.COLUMNS = { "method", "k", "seed", "stem", "si_sdr", "sdr", "sir", "sar", "components",
                   "iterations", "loss", "fit_seconds", "cached" }

-- A number as CSV text: integers as they are, floats to 17 digits (read back exactly),
-- the infinities as inf and -inf.
local function number(v)
  if math.type(v) == "integer" then return fmt("%d", v) end
  if v == huge then return "inf" elseif v == -huge then return "-inf" end
  return fmt("%.17g", v)
end

local function csv_field(v)
  if v == nil then return "" end
  if type(v) == "number" then return number(v) end
  if type(v) == "table" then return concat(v, " ") end
  local s = tostring(v)
  if s:find('[,"\r\n]') then s = '"' .. s:gsub('"', '""') .. '"' end
  return s
end

-- output.csv(result) -> the CSV text: a header, then the rows in grid order; components
-- as indices separated by spaces; -inf where a stem got no component.
function output.csv(result)
  local lines = { concat(output.COLUMNS, ",") }
  for _, r in ipairs(result.rows) do
    local fields = {}
    for i, c in ipairs(output.COLUMNS) do fields[i] = csv_field(r[c]) end
    lines[#lines + 1] = concat(fields, ",")
  end
  return concat(lines, "\r\n") .. "\r\n"
end

-- A list as a JSON array, even when empty (json.encode writes {} for an empty table).
local function array(list, encode)
  local parts = {}
  for i, v in ipairs(list) do parts[i] = (encode or json.encode)(v) end
  return "[" .. concat(parts, ",") .. "]"
end

local function object(t, keys)
  local parts = {}
  for _, key in ipairs(keys) do
    local v = t[key]
    if v ~= nil then
      parts[#parts + 1] = json.encode(key) .. ":" ..
        (key == "components" and array(v) or json.encode(v))
    end
  end
  return "{" .. concat(parts, ",") .. "}"
end

local SUMMARY_KEYS = { "method", "k", "stem", "n", "mean", "min", "max", "std" }
local BEST_KEYS = { "stem", "method", "k", "n", "mean", "min", "max", "std", "seed", "si_sdr",
                    "components" }

-- output.json(result) -> the JSON text: {format, version, stems, sr, frames, methods, ks,
-- seeds, options, mix, references, rows, summary, best, seconds, cache}; -inf (a stem with
-- no component) is null, as JSON has no infinities.
function output.json(result)
  local parts = {
    '"format":"tessera.compare/1"',
    '"version":' .. json.encode(core.version),
    '"stems":' .. array(result.stems),
    '"sr":' .. json.encode(result.sr),
    '"frames":' .. json.encode(result.frames),
    '"methods":' .. array(result.methods),
    '"ks":' .. array(result.ks),
    '"seeds":' .. array(result.seeds),
    '"options":' .. json.encode(result.options),
    '"mix":' .. json.encode(result.mix_path),
    '"references":' .. array(result.reference_paths or {}, function(p) return p and json.encode(p) or "null" end),
    '"rows":' .. array(result.rows, function(r) return object(r, output.COLUMNS) end),
    '"summary":' .. array(result.summary, function(s) return object(s, SUMMARY_KEYS) end),
    '"best":' .. array(result.best, function(b) return object(b, BEST_KEYS) end),
    '"seconds":' .. json.encode(result.seconds),
    '"fits":' .. json.encode(result.fits),
    '"cache":' .. json.encode(result.cache),
  }
  return "{" .. concat(parts, ",") .. "}\n"
end

local function db(v)
  if v == nil then return "" end
  if v == -huge then return "none" end
  return fmt("%.2f", v)
end

-- The mean SI-SDR of every method x k of one stem, as a Matrix (rows: methods, columns:
-- ks) and cell labels; a cell without a finite mean is drawn at the floor of the others.
local function stem_grid(result, stem)
  local core_matrix = core.matrix
  local index = {}
  for _, s in ipairs(result.summary) do
    if s.stem == stem then index[s.method .. "\0" .. s.k] = s.mean end
  end
  local lo, hi = huge, -huge
  for _, v in pairs(index) do
    if v > -huge then
      if v < lo then lo = v end
      if v > hi then hi = v end
    end
  end
  if lo == huge then lo, hi = -1, 0 end
  local floor = lo - math.max(1, (hi - lo) * 0.1)
  local M = core_matrix.new(#result.methods, #result.ks)
  local labels = {}
  for r, method in ipairs(result.methods) do
    for c, k in ipairs(result.ks) do
      local v = index[method .. "\0" .. k]
      local finite = v ~= nil and v > -huge
      M:set(r, c, finite and v or floor)
      labels[#labels + 1] = { x = c, y = r, text = finite and fmt("%.1f", v) or "none",
        dark = not finite or v }
    end
  end
  -- Light text on the dark lower half of viridis, dark text on the light upper half.
  local middle = (floor + hi) / 2
  for _, l in ipairs(labels) do
    l.color = (l.dark == true or (type(l.dark) == "number" and l.dark < middle)) and "white" or "black"
    l.dark = nil
  end
  return M, labels, floor, hi
end

-- output.report(result, dir [, {title =}]) -> the path of dir/index.html
function output.report(result, dir, opts)
  opts = opts or {}
  local report = require("tessera.report")
  local plot = require("tessera.plot")
  local r = report.new(dir, { title = opts.title or "tessera compare" })
  local mix_name = result.mix_path and fs.basename(result.mix_path) or "the mix"
  r:paragraph(fmt("%s: %.2f s at %d Hz, %d stems (%s). Grid: %d methods (%s) x k in {%s} x "
    .. "seeds {%s}: %d fits in %.1f s (%d from the cache). STFT n_fft %d, hop %d; at most %d "
    .. "iterations, tol %g.", mix_name, result.frames / result.sr, result.sr, #result.stems,
    concat(result.stems, ", "), #result.methods, concat(result.methods, ", "),
    concat(result.ks, ", "), concat(result.seeds, ", "), result.fits, result.seconds,
    result.cache.hits, result.options.n_fft, result.options.hop, result.options.max_iter,
    result.options.tol))
  r:paragraph("Each fit's components are grouped into stems by the energy the references' "
    .. "ideal ratio masks give each component's Wiener-masked sound: the Hungarian assignment "
    .. "first gives each stem the one component that belongs to it most, then every other "
    .. "component goes to the stem holding the largest share of it. A stem's estimate is the "
    .. "Wiener-masked mix of its components (so the estimates add up to the mix), scored by "
    .. "SI-SDR against its reference; 'none' means no component went to the stem.")
  r:heading("Mean SI-SDR over seeds, by method and k")
  for _, stem in ipairs(result.stems) do
    local M, labels, zmin, zmax = stem_grid(result, stem)
    local xtics, ytics = {}, {}
    for c, k in ipairs(result.ks) do xtics[c] = { c, tostring(k) } end
    for row, method in ipairs(result.methods) do ytics[row] = { row, method } end
    r:figure({
      panels = { plot.heatmap_panel(M, { title = stem, xlabel = "k", ylabel = "method",
        xtics = xtics, ytics = ytics, cblabel = "SI-SDR (dB)", colormap = "viridis",
        zmin = zmin, zmax = zmax > zmin and zmax or zmin + 1, labels = labels }) },
      width = 640, height = 120 + 40 * #result.methods,
    }, { name = "heatmap-" .. stem, caption = "SI-SDR heatmap: " .. stem })
  end
  r:heading("Best method per stem")
  local rows = {}
  for _, b in ipairs(result.best) do
    rows[#rows + 1] = { b.stem, b.method, b.k, db(b.mean), db(b.min), db(b.max),
      b.std and fmt("%.2f", b.std) or "", b.n, b.seed, db(b.si_sdr), concat(b.components, " ") }
  end
  r:table(rows, { header = { "stem", "method", "k", "mean SI-SDR", "min", "max", "std", "seeds",
    "best seed", "its SI-SDR", "its components" } })
  r:heading("Listen")
  local players = { { audio = result.mix, name = "mix" } }
  for _, b in ipairs(result.best) do
    players[#players + 1] = { audio = result.references[b.stem], name = b.stem, method = "reference" }
    players[#players + 1] = { audio = result.estimates[b.stem], name = b.stem,
      method = fmt("%s, k %d, seed %d", b.method, b.k, b.seed),
      caption = "SI-SDR " .. db(b.si_sdr) .. " dB" }
  end
  r:players(players)
  r:heading("Every configuration")
  local all = {}
  for _, s in ipairs(result.summary) do
    all[#all + 1] = { s.stem, s.method, s.k, db(s.mean), db(s.min), db(s.max),
      s.std and fmt("%.2f", s.std) or "" }
  end
  r:table(all, { header = { "stem", "method", "k", "mean SI-SDR", "min", "max", "std" } })
  return r:save()
end

-- output.write(result, dir) -> dir: results.csv, results.json, estimates/*.wav, index.html.
function output.write(result, dir)
  if type(dir) ~= "string" or dir == "" then
    error(fmt("bad argument #2 to 'write' (folder must be a non-empty string, got %s)", type(dir)), 2)
  end
  local ok, err = fs.mkdir_p(dir .. "/estimates")
  if not ok then error("tessera.compare: " .. err, 0) end
  files.write_atomic(dir .. "/results.csv", output.csv(result), "tessera.compare", 2)
  files.write_atomic(dir .. "/results.json", output.json(result), "tessera.compare", 2)
  for _, b in ipairs(result.best) do
    result.estimates[b.stem]:save(dir .. "/estimates/" .. b.stem .. ".wav", { subtype = "float" })
  end
  output.report(result, dir)
  return dir
end

return output
