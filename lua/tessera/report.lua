--- tessera.report: a notebook-style HTML report in one folder that works offline: headings,
-- paragraphs, tables, figures, audio players and code, saved as dir/index.html with its
-- assets under dir/assets/. No external fonts or scripts; readable on a phone.
-- @module tessera.report
local fs = require "tessera.fs"

local string, table, io, os, math = string, table, io, os, math
local error, ipairs, tostring, type, setmetatable, require = error, ipairs, tostring, type, setmetatable, require

local report = {}
local Report = {}
Report.__index = Report

local function fail(fmt, ...)
  error("tessera.report: " .. string.format(fmt, ...), 3)
end

local function escape(s)
  return (tostring(s):gsub("[&<>\"']", {
    ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;",
  }))
end
--- Text escaped for HTML (& < > " ').
-- @function escape
-- @string text the text
-- @return string the escaped text
-- @raise bad arguments or options, naming the key and the value.
-- @usage print(tessera.report.escape("a < b"))
report.escape = escape

-- A file-name-safe form of a label.
local function slug(s)
  s = tostring(s):lower():gsub("[^%w]+", "-"):gsub("^%-+", ""):gsub("%-+$", "")
  if s == "" then s = "item" end
  return s:sub(1, 60)
end

local function mkdir_p(dir)
  local ok, err = fs.mkdir_p(dir)
  if not ok then fail("%s", err) end
end

--- report.new(dir, {title = "..."}) -> Report. The folder (and dir/assets) is created.
-- @string dir the report's folder (made when missing)
-- @tab[opt] opts title
-- @return table a report: heading, paragraph, table, figure, audio, players, code, then save
-- @raise bad arguments or options, naming the key and the value.
-- @usage local r = tessera.report.new("out/report", {title = "amen"})
-- r:heading("W"); r:figure{panels = {tessera.plot.W_panel(m.W)}}; r:save()
function report.new(dir, opts)
  if type(dir) ~= "string" or dir == "" then fail("new needs a folder path, got %s", type(dir)) end
  opts = opts or {}
  mkdir_p(dir .. "/assets")
  return setmetatable({
    dir = dir,
    title = opts.title or "tessera report",
    blocks = {},
    names = {},
    created = os.date("!%Y-%m-%d %H:%M UTC"),
  }, Report)
end

-- A unique asset file name for a label and extension.
function Report:asset_name(label, ext)
  local base = slug(label)
  local name = base .. "." .. ext
  local n = 1
  while self.names[name] do
    n = n + 1
    name = string.format("%s-%d.%s", base, n, ext)
  end
  self.names[name] = true
  return "assets/" .. name
end

function Report:add(html)
  self.blocks[#self.blocks + 1] = html
  return self
end

function Report:heading(text, level)
  level = level or 2
  if type(level) ~= "number" or level < 1 or level > 4 then
    fail("heading level must be 1..4, got %s", tostring(level))
  end
  local id = slug(text)
  return self:add(string.format('<h%d id="%s">%s</h%d>', level, id, escape(text), level))
end

function Report:paragraph(text)
  return self:add("<p>" .. escape(text):gsub("\n\n", "</p><p>") .. "</p>")
end

local function cell(v)
  if type(v) == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return tostring(v) end
    if math.type(v) == "integer" then return tostring(v) end
    local a = math.abs(v)
    if a ~= 0 and (a < 1e-3 or a >= 1e6) then return string.format("%.4g", v) end
    return string.format("%.4f", v):gsub("0+$", ""):gsub("%.$", "")
  end
  return escape(v == nil and "" or v)
end

-- rows: a list of lists, or of records with opts.columns naming the keys in order.
-- opts: header (list of column titles; defaults to columns), columns, caption.
function Report:table(rows, opts)
  opts = opts or {}
  if type(rows) ~= "table" then fail("table needs a list of rows, got %s", type(rows)) end
  local header = opts.header or opts.columns
  local out = { '<div class="table"><table>' }
  if opts.caption then out[#out + 1] = "<caption>" .. escape(opts.caption) .. "</caption>" end
  if header then
    out[#out + 1] = "<thead><tr>"
    for _, h in ipairs(header) do out[#out + 1] = "<th>" .. escape(h) .. "</th>" end
    out[#out + 1] = "</tr></thead>"
  end
  out[#out + 1] = "<tbody>"
  for r, row in ipairs(rows) do
    if type(row) ~= "table" then fail("table row %d is a %s, not a table", r, type(row)) end
    out[#out + 1] = "<tr>"
    if opts.columns then
      for _, key in ipairs(opts.columns) do
        local v = row[key]
        out[#out + 1] = (type(v) == "number" and '<td class="num">' or "<td>") .. cell(v) .. "</td>"
      end
    else
      for _, v in ipairs(row) do
        out[#out + 1] = (type(v) == "number" and '<td class="num">' or "<td>") .. cell(v) .. "</td>"
      end
    end
    out[#out + 1] = "</tr>"
  end
  out[#out + 1] = "</tbody></table></div>"
  return self:add(table.concat(out))
end

-- A figure: spec is a tessera.plot.figure spec (its out is set here: an asset of the
-- report), or the path of an existing picture inside the report folder.
function Report:figure(spec, opts)
  opts = opts or {}
  local rel
  if type(spec) == "table" then
    rel = self:asset_name(opts.name or opts.caption or "figure", opts.format or "png")
    spec.out = self.dir .. "/" .. rel
    require("tessera.plot").figure(spec)
  elseif type(spec) == "string" then
    local prefix = self.dir .. "/"
    if spec:sub(1, #prefix) ~= prefix then
      fail("figure '%s' is outside the report folder '%s'", spec, self.dir)
    end
    rel = spec:sub(#prefix + 1)
    local f = io.open(spec, "rb")
    if not f then fail("figure '%s' does not exist", spec) end
    f:close()
  else
    fail("figure needs a plot spec or a path, got %s", type(spec))
  end
  local alt = opts.caption or opts.name or "figure"
  return self:add(string.format('<figure><img src="%s" alt="%s" loading="lazy">%s</figure>',
    escape(rel), escape(alt),
    opts.caption and ("<figcaption>" .. escape(opts.caption) .. "</figcaption>") or ""))
end

-- An audio player for an Audio: the WAV is written into the report's assets.
-- opts: name (shown), method (shown, e.g. "KL-MU, original phase"), caption.
function Report:audio(audio, opts)
  opts = opts or {}
  if type(audio) ~= "userdata" or not audio.save then fail("audio needs an Audio, got %s", type(audio)) end
  local name = opts.name or "audio"
  local rel = self:asset_name(name .. (opts.method and ("-" .. opts.method) or ""), "wav")
  audio:save(self.dir .. "/" .. rel, { subtype = "pcm16" })
  local label = escape(name)
  if opts.method then label = label .. ' <span class="method">' .. escape(opts.method) .. "</span>" end
  return self:add(string.format(
    '<div class="player"><div class="label">%s</div><audio controls preload="metadata" src="%s"></audio>%s</div>',
    label, escape(rel), opts.caption and ('<div class="caption">' .. escape(opts.caption) .. "</div>") or ""))
end

-- A group of players shown side by side (a grid on wide screens, a column on phones).
function Report:players(items)
  self:add('<div class="players">')
  for _, item in ipairs(items) do self:audio(item.audio, item) end
  return self:add("</div>")
end

function Report:code(text, opts)
  opts = opts or {}
  return self:add(string.format('<pre class="code"><code%s>%s</code></pre>',
    opts.lang and (' class="language-' .. escape(opts.lang) .. '"') or "", escape(text)))
end

local STYLE = [[
:root { color-scheme: light; --fg: #1d1d1f; --muted: #666; --line: #ddd; --accent: #7a2d8c; }
* { box-sizing: border-box; }
body { margin: 0 auto; padding: 1rem; max-width: 72rem; color: var(--fg);
       font: 16px/1.5 -apple-system, "Segoe UI", "DejaVu Sans", Helvetica, Arial, sans-serif; }
h1 { font-size: 1.7rem; margin: .5rem 0 0; } h2 { margin-top: 2rem; border-bottom: 1px solid var(--line); }
.meta { color: var(--muted); font-size: .9rem; }
figure { margin: 1rem 0; } img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption, .caption, caption { color: var(--muted); font-size: .9rem; text-align: left; }
.table { overflow-x: auto; } table { border-collapse: collapse; margin: 1rem 0; }
th, td { padding: .3rem .6rem; border-bottom: 1px solid var(--line); text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.players { display: grid; grid-template-columns: repeat(auto-fill, minmax(16rem, 1fr)); gap: .5rem 1rem; }
.player { margin: .4rem 0; } .player audio { width: 100%; }
.label { font-size: .9rem; } .method { color: var(--accent); }
pre.code { background: #f6f6f8; padding: .8rem; overflow-x: auto; font-size: .85rem; }
]]

-- A check a browser runs only when the page is opened as index.html#selfcheck: it waits for
-- every image and audio element, then writes what it found into <pre id="selfcheck">.
local SELFCHECK = [[
if (location.hash === "#selfcheck") {
  window.addEventListener("load", function () {
    var audios = Array.prototype.slice.call(document.querySelectorAll("audio"));
    Promise.all(audios.map(function (a) {
      return new Promise(function (done) {
        if (a.readyState >= 1) return done();
        a.addEventListener("loadedmetadata", done); a.addEventListener("error", done); a.load();
      });
    })).then(function () {
      var out = { images: [], audio: [] };
      document.querySelectorAll("img").forEach(function (i) {
        out.images.push({ src: i.getAttribute("src"), width: i.naturalWidth });
      });
      audios.forEach(function (a) {
        out.audio.push({ src: a.getAttribute("src"), duration: isFinite(a.duration) ? a.duration : -1 });
      });
      var pre = document.createElement("pre"); pre.id = "selfcheck";
      pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
    });
  });
}
]]

-- Writes dir/index.html (atomically) and returns its path.
function Report:save()
  local html = {
    "<!DOCTYPE html>",
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    "<title>" .. escape(self.title) .. "</title>",
    "<style>" .. STYLE .. "</style>",
    "</head><body>",
    "<header><h1>" .. escape(self.title) .. "</h1>",
    '<div class="meta">tessera ' .. escape(require("tessera.core").version) .. " · "
      .. escape(self.created) .. "</div></header>",
    "<main>",
  }
  for _, block in ipairs(self.blocks) do html[#html + 1] = block end
  html[#html + 1] = "</main><script>" .. SELFCHECK .. "</script></body></html>\n"
  local path = self.dir .. "/index.html"
  require("tessera.files").write_atomic(path, table.concat(html, "\n"), "tessera.report", 2)
  return path
end

-- Errors leave the public functions at the caller's line (lua/tessera/entry.lua).
require("tessera.entry").export(Report)
return require("tessera.entry").export(report)
