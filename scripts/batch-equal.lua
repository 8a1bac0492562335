-- Two batch output folders compared file for file, as the batch contract promises them equal
-- (scripts/test-cluster.sh: the merged results of a Slurm array or of GNU parallel over ssh
-- against one machine's `tessera batch` of the same collection with the same options).
--
--   bin/tessera scripts/batch-equal.lua ONE_OUT OTHER_OUT
--
-- Each folder holds results.csv (batch's own, or batch-merge's). Equal means:
-- - the tables' rows, every column but `seconds` (a timing), as CSV text: the same files,
--   statuses, durations, k, losses (17 digits), iteration counts and error messages;
-- - for each row, the same output folder or none (a failed input leaves none), holding the
--   same file names; W.npy, H.npy (and any other file) byte-equal, a WAV's samples equal (a
--   float WAV's PEAK chunk holds the time it was written); model.json and stamp.json equal
--   once their timings are removed: model.seconds, and the stamp row's seconds, peak_memory
--   and stages, and the size it records for model.json (whose timing has as many digits as
--   it happens to have).
-- Prints what differs and exits 1, or prints a summary line and exits 0.
local batch = require "tessera.batch"
local fs = require "tessera.fs"
local json = require "tessera.json"
local tessera = require "tessera"

local ONE, OTHER = arg[1], arg[2]
if not ONE or not OTHER or arg[3] then
  io.stderr:write("usage: tessera scripts/batch-equal.lua ONE_OUT OTHER_OUT\n")
  os.exit(2)
end

local problems = {}
local function differ(fmt, ...)
  problems[#problems + 1] = string.format(fmt, ...)
end

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return text
end

-- The table's rows without the timing column, as the CSV batch writes (sorted by file).
local function table_text(dir)
  local rows = batch.read_table(dir .. "/results.csv")
  for _, r in ipairs(rows) do r.seconds = nil end
  return batch.csv(rows), rows
end

-- A JSON output without its timings (the fields that are not results).
local function without_timings(name, text)
  local v = json.decode(text)
  if name == "model.json" then
    v.seconds = nil
  elseif name == "stamp.json" then
    if type(v.row) == "table" then
      v.row.seconds, v.row.peak_memory, v.row.stages = nil, nil, nil
    end
    if type(v.files) == "table" then v.files["model.json"] = nil end
  end
  return v
end

-- The keys (dotted, e.g. row.loss) whose values differ between two decoded JSON values.
local function differing_keys(a, b, prefix, out)
  if type(a) == "table" and type(b) == "table" and a[1] == nil and b[1] == nil then
    local keys = {}
    for k in pairs(a) do keys[k] = true end
    for k in pairs(b) do keys[k] = true end
    local sorted = {}
    for k in pairs(keys) do sorted[#sorted + 1] = k end
    table.sort(sorted)
    for _, k in ipairs(sorted) do differing_keys(a[k], b[k], prefix .. k .. ".", out) end
  elseif json.encode(a) ~= json.encode(b) then
    out[#out + 1] = prefix:sub(1, -2)
  end
  return out
end

local counts = { rows = 0, ok = 0, failed = 0, bytes = 0, json = 0, wav = 0 }

local function compare_file(file, name)
  local a_path, b_path = ONE .. "/" .. file .. "/" .. name, OTHER .. "/" .. file .. "/" .. name
  local a, b = read(a_path), read(b_path)
  if not a or not b then
    differ("%s: cannot read %s", file, not a and a_path or b_path)
  elseif name:match("%.json$") then
    counts.json = counts.json + 1
    local keys = differing_keys(without_timings(name, a), without_timings(name, b), "", {})
    if #keys > 0 then
      differ("%s/%s differs (timings aside) in %s", file, name, table.concat(keys, ", "))
    end
  elseif name:match("%.wav$") then
    counts.wav = counts.wav + 1
    local x, y = tessera.audio.load(a_path):totable(), tessera.audio.load(b_path):totable()
    if #x ~= #y then
      differ("%s/%s: %d channels against %d", file, name, #x, #y)
    else
      for c = 1, #x do
        local same = #x[c] == #y[c]
        for i = 1, same and #x[c] or 0 do
          if x[c][i] ~= y[c][i] then same = false break end
        end
        if not same then differ("%s/%s: the samples of channel %d differ", file, name, c) end
      end
    end
  else
    counts.bytes = counts.bytes + 1
    if a ~= b then differ("%s/%s differs (%d bytes against %d)", file, name, #a, #b) end
  end
end

local ok_a, text_a, rows = pcall(table_text, ONE)
local ok_b, text_b = pcall(table_text, OTHER)
if not ok_a or not ok_b then
  io.stderr:write("batch-equal: ", tostring(not ok_a and text_a or text_b), "\n")
  os.exit(1)
end
if text_a ~= text_b then
  local la, lb = {}, {}
  for line in text_a:gmatch("[^\r\n]+") do la[#la + 1] = line end
  for line in text_b:gmatch("[^\r\n]+") do lb[#lb + 1] = line end
  for i = 1, math.max(#la, #lb) do
    if la[i] ~= lb[i] then
      differ("results.csv line %d differs (seconds aside):\n  %s: %s\n  %s: %s", i, ONE,
        la[i] or "(none)", OTHER, lb[i] or "(none)")
    end
  end
end

for _, r in ipairs(rows) do
  counts.rows = counts.rows + 1
  counts[r.status] = (counts[r.status] or 0) + 1
  -- fs.list: the sorted names, or nil when there is no folder
  local a, b = fs.list(ONE .. "/" .. r.file), fs.list(OTHER .. "/" .. r.file)
  if r.status ~= "ok" and r.status ~= "skipped" and (a or b) then
    differ("%s is %s but has an output folder in %s", r.file, r.status, a and ONE or OTHER)
  elseif (a == nil) ~= (b == nil) then
    differ("%s: an output folder in %s only", r.file, a and ONE or OTHER)
  elseif a then
    local names_a, names_b = table.concat(a, " "), table.concat(b, " ")
    if names_a ~= names_b then
      differ("%s: files %s against %s", r.file, names_a, names_b)
    else
      for _, name in ipairs(a) do compare_file(r.file, name) end
    end
  end
end

if #problems > 0 then
  io.stderr:write(string.format("batch-equal: %s and %s differ:\n", ONE, OTHER))
  for i = 1, math.min(#problems, 20) do io.stderr:write("- ", problems[i], "\n") end
  if #problems > 20 then io.stderr:write(string.format("- and %d more\n", #problems - 20)) end
  os.exit(1)
end
print(string.format("batch-equal: the same %d rows (%d ok, %d failed); %d files byte-equal, "
  .. "%d JSON files equal but for timings, %d WAVs sample-equal", counts.rows, counts.ok,
  counts.failed, counts.bytes, counts.json, counts.wav))
