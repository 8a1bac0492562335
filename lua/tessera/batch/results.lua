-- tessera.batch.results: the results table of a batch, one row per input, as CSV and JSON
-- (written atomically), read back, and merged from the tables of several shards.
local fs = require "tessera.fs"
local json = require "tessera.json"
local file_io = require "tessera.files"

local error, ipairs, next, pcall, tonumber, tostring, type =
  error, ipairs, next, pcall, tonumber, tostring, type
local math, table = math, table
local fmt = string.format

local results = {}

local function fail(msg, ...)
  error(fmt(msg, ...), 0)
end

-- Writes text to path through a temporary name in the same folder and a rename, so a
-- reader (or a crash) never sees half a file.
local function write_atomic(path, text)
  file_io.write_atomic(path, text, "tessera.batch", 0)
end

-- The columns of the results table, in order (CSV and JSON). JSON rows add `output` (the
-- input's folder, relative to the output folder), `peak_memory` (the worker's VmHWM in bytes
-- when it finished the input) and `stages` (seconds spent loading, in the STFT, the NMF and
-- saving).
results.COLUMNS = { "file", "duration", "k", "loss", "iterations", "seconds", "status", "error" }
local JSON_EXTRA = { "output", "peak_memory", "stages" }

-- A row as a JSON object, its fields in table order.
function results.json_row(row)
  local parts = {}
  for _, c in ipairs(results.COLUMNS) do
    parts[#parts + 1] = json.encode(c) .. ":" .. json.encode(row[c])
  end
  for _, c in ipairs(JSON_EXTRA) do
    if row[c] ~= nil then parts[#parts + 1] = json.encode(c) .. ":" .. json.encode(row[c]) end
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

local function csv_field(v)
  if v == nil then return "" end
  local s = tostring(v)
  if s:find('[,"\r\n]') then s = '"' .. s:gsub('"', '""') .. '"' end
  return s
end

local function number_text(c, v)
  if v == nil then return nil end
  if c == "duration" then return fmt("%.6f", v)
  elseif c == "seconds" then return fmt("%.3f", v)
  elseif c == "loss" then return fmt("%.17g", v)
  else return fmt("%d", v) end
end

local function sort_rows(rows)
  local sorted = {}
  for i, r in ipairs(rows) do sorted[i] = r end
  table.sort(sorted, function(a, b) return a.file < b.file end)
  return sorted
end

-- results.csv(rows) -> the CSV text (RFC 4180, a header line, rows sorted by file).
function results.csv(rows)
  local lines = { table.concat(results.COLUMNS, ",") }
  for _, r in ipairs(sort_rows(rows)) do
    local fields = {}
    for i, c in ipairs(results.COLUMNS) do
      local v = r[c]
      if type(v) == "number" then v = number_text(c, v) end
      fields[i] = csv_field(v)
    end
    lines[#lines + 1] = table.concat(fields, ",")
  end
  return table.concat(lines, "\r\n") .. "\r\n"
end

-- results.json_table(rows) -> the JSON text: an array of row objects sorted by file.
function results.json_table(rows)
  local parts = {}
  for i, r in ipairs(sort_rows(rows)) do parts[i] = "  " .. results.json_row(r) end
  if #parts == 0 then return "[]\n" end
  return "[\n" .. table.concat(parts, ",\n") .. "\n]\n"
end

-- results.write_table(rows, csv_path, json_path): both files, each written atomically.
function results.write_table(rows, csv_path, json_path)
  if csv_path then write_atomic(csv_path, results.csv(rows)) end
  if json_path then write_atomic(json_path, results.json_table(rows)) end
end

-- RFC 4180 records of a CSV text.
local function parse_csv(text, name)
  local records, record, field = {}, {}, {}
  local i, n = 1, #text
  local quoted_field = false
  while i <= n do
    local c = text:sub(i, i)
    if c == '"' and #field == 0 and not quoted_field then
      local j = i + 1
      while true do
        local q = text:find('"', j, true)
        if not q then fail("tessera.batch: '%s' has an unterminated quoted field", name) end
        field[#field + 1] = text:sub(j, q - 1)
        if text:sub(q + 1, q + 1) == '"' then
          field[#field + 1] = '"'
          j = q + 2
        else
          i = q + 1
          break
        end
      end
      quoted_field = true
    elseif c == "," then
      record[#record + 1] = table.concat(field)
      field, quoted_field = {}, false
      i = i + 1
    elseif c == "\r" or c == "\n" then
      record[#record + 1] = table.concat(field)
      records[#records + 1] = record
      record, field, quoted_field = {}, {}, false
      i = i + ((c == "\r" and text:sub(i + 1, i + 1) == "\n") and 2 or 1)
    else
      local j = text:find('[,\r\n]', i) or n + 1
      field[#field + 1] = text:sub(i, j - 1)
      i = j
    end
  end
  if #field > 0 or #record > 0 then
    record[#record + 1] = table.concat(field)
    records[#records + 1] = record
  end
  return records
end

local NUMERIC = { duration = true, k = true, loss = true, iterations = true, seconds = true }

-- results.read_table(path) -> rows: a results table written by batch (.csv or .json).
function results.read_table(path)
  local text, err = fs.read_file(path)
  if not text then
    fail("tessera.batch: cannot open '%s': %s", path, (tostring(err):gsub("^.-: ", "")))
  end
  local rows = {}
  if path:lower():match("%.json$") then
    local ok, data = pcall(json.decode, text)
    if not ok or type(data) ~= "table" or (next(data) ~= nil and data[1] == nil) then
      fail("tessera.batch: '%s' is not a results table (a JSON array of rows expected)", path)
    end
    for i, r in ipairs(data) do
      if type(r) ~= "table" or type(r.file) ~= "string" or type(r.status) ~= "string" then
        fail("tessera.batch: '%s' is not a results table (row %d has no file or status)", path, i)
      end
      rows[i] = r
    end
    return rows
  end
  local records = parse_csv(text, path)
  local header = records[1] or {}
  local index = {}
  for i, name in ipairs(header) do index[name] = i end
  for _, c in ipairs(results.COLUMNS) do
    if not index[c] then
      fail("tessera.batch: '%s' is not a results table (no column '%s')", path, c)
    end
  end
  for line = 2, #records do
    local rec = records[line]
    if not (#rec == 1 and rec[1] == "") then
      if #rec ~= #header then
        fail("tessera.batch: '%s' line %d has %d fields, the header %d", path, line, #rec, #header)
      end
      local r = {}
      for _, c in ipairs(results.COLUMNS) do
        local v = rec[index[c]]
        if v == "" then v = nil
        elseif NUMERIC[c] then
          local x = tonumber(v)
          if x == nil then
            fail("tessera.batch: '%s' line %d: %s is not a number: '%s'", path, line, c, v)
          end
          v = (c == "k" or c == "iterations") and (math.tointeger(x) or x) or x + 0.0
        end
        r[c] = v
      end
      rows[#rows + 1] = r
    end
  end
  return rows
end

-- The fields that must agree when a file is in two tables (timings may differ; "skipped"
-- is the same result as "ok").
local function result_of(r)
  local status = r.status == "skipped" and "ok" or r.status
  local parts = { status }
  for _, c in ipairs({ "duration", "k", "loss", "iterations", "error" }) do
    local v = r[c]
    parts[#parts + 1] = type(v) == "number" and number_text(c, v) or tostring(v)
  end
  return table.concat(parts, "|")
end

local function describe_row(r)
  if r.error then return fmt("%s: %s", r.status, tostring(r.error)) end
  return fmt("%s, loss %s", r.status, r.loss and fmt("%.9g", r.loss) or "none")
end

-- results.merge(paths) -> rows: the tables' rows together, sorted by file. A file in two
-- tables with the same result (timings aside) is kept once; with different results it is
-- an error naming both tables.
function results.merge(paths)
  if type(paths) ~= "table" or #paths == 0 then
    error("bad argument #1 to 'merge' (a non-empty list of tables expected)", 2)
  end
  local seen, rows = {}, {}
  for _, path in ipairs(paths) do
    for _, r in ipairs(results.read_table(path)) do
      local prev = seen[r.file]
      if prev then
        if result_of(prev.row) ~= result_of(r) then
          fail("tessera.batch: '%s' is in '%s' (%s) and in '%s' (%s)", r.file, prev.path,
            describe_row(prev.row), path, describe_row(r))
        end
      else
        seen[r.file] = { row = r, path = path }
        rows[#rows + 1] = r
      end
    end
  end
  return sort_rows(rows)
end

return results
