-- The API reference (make doc): ldoc writes it from docs/config.ld without a warning, headless
-- Chromium finds no broken link in any page, and every function the public modules export
-- (and every method of their types) has its entry, so a new undocumented function fails here.
local cjson = require "cjson"
local helpers = require "helpers"

local root = helpers.root
local q = helpers.shell_quote

-- Every .html file under dir, as paths relative to it.
local function html_pages(dir)
  local out = helpers.run("cd " .. q(dir) .. " && find . -name '*.html' | sort")
  local pages = {}
  for line in out:gmatch("[^\n]+") do pages[#pages + 1] = line:gsub("^%./", "") end
  return pages
end

-- A page Chromium opens from the reference's folder (with --allow-file-access-from-files): it
-- reads every page through Chromium's own HTML parser and resolves every href as the
-- browser does, then writes {pages = {[page] = {anchors, broken}}} into <pre id="linkcheck">.
local CHECKER = [[
<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><pre id="linkcheck"></pre>
<script>
const pages = %s;
const base = new URL(".", location.href);
const cache = {};
function read(url) {
  if (url in cache) return cache[url];
  const x = new XMLHttpRequest();
  let text = null;
  try { x.open("GET", url, false); x.send(); if (x.status === 0 || x.status === 200) text = x.responseText; }
  catch (e) { text = null; }
  let doc = null;
  if (text !== null && /\.html?$/.test(new URL(url).pathname)) doc = new DOMParser().parseFromString(text, "text/html");
  cache[url] = { exists: text !== null, doc: doc };
  return cache[url];
}
function anchors(doc) {
  const names = [];
  doc.querySelectorAll("[id], a[name]").forEach(e => names.push(e.id || e.getAttribute("name")));
  return names;
}
const result = { pages: {} };
for (const page of pages) {
  const url = new URL(page, base).href;
  const doc = read(url).doc;
  const broken = [];
  doc.querySelectorAll("[href], [src]").forEach(e => {
    const raw = e.getAttribute("href") !== null ? e.getAttribute("href") : e.getAttribute("src");
    const target = new URL(raw, url);
    if (target.protocol !== "file:") return;
    const file = target.href.split("#")[0];
    const got = read(file);
    if (!got.exists) { broken.push(raw + " (no file " + decodeURIComponent(target.pathname) + ")"); return; }
    const frag = decodeURIComponent(target.hash.slice(1));
    if (target.hash === "" ) return;
    if (frag === "" || !got.doc || !anchors(got.doc).includes(frag))
      broken.push(raw + " (no anchor '" + frag + "' in " + file.slice(base.href.length) + ")");
  });
  result.pages[page] = { anchors: anchors(doc), broken: broken };
}
document.getElementById("linkcheck").textContent = JSON.stringify(result);
</script></body></html>
]]

-- Runs the checker in headless Chromium; the decoded result, or nil and what it printed.
local function check_links(dir, pages)
  local path = dir .. "/linkcheck.html"
  helpers.write_file(path, CHECKER:format(cjson.encode(pages)))
  local profile = helpers.tmpdir()
  local out = helpers.run(string.format(
    "chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking " ..
    "--disable-component-update --disable-sync --allow-file-access-from-files " ..
    "--user-data-dir=%s --dump-dom %s 2>/dev/null", q(profile), q("file://" .. path)))
  helpers.rmtree(profile)
  os.remove(path)
  local json = out:match('<pre id="linkcheck">(.-)</pre>')
  if not json or json == "" then return nil, out:sub(1, 300) end
  json = json:gsub("&lt;", "<"):gsub("&gt;", ">"):gsub("&quot;", '"'):gsub("&amp;", "&")
  return cjson.decode(json)
end

-- The area names of lua/tessera/init.lua's `areas` table: what `tessera.<name>` loads.
local function areas()
  local src = helpers.read_file(root .. "/lua/tessera/init.lua")
  local names = {}
  for name in assert(src:match("local areas = (%b{})")):gmatch("([%w_]+)%s*=%s*true") do
    names[#names + 1] = name
  end
  table.sort(names)
  return names
end

-- The names in a C file's luaL_Reg array `array` (methods of a type whose __index is a
-- function, so that Lua cannot list them).
local function c_methods(file, array)
  local src = helpers.read_file(root .. "/csrc/lua/" .. file)
  local body = assert(src:match("luaL_Reg " .. array .. "%[%] = (%b{})"), array)
  local names = {}
  for name in body:gmatch('{"([%w_]+)"') do names[#names + 1] = name end
  return names
end

local function is_callable(v)
  if type(v) == "function" then return true end
  local mt = type(v) == "table" and getmetatable(v)
  return type(mt) == "table" and mt.__call ~= nil
end

-- The functions of a module table, sorted (public: no leading underscore).
local function functions_of(t)
  local names = {}
  for key, value in pairs(t) do
    if type(key) == "string" and not key:match("^_") and is_callable(value) then
      names[#names + 1] = key
    end
  end
  table.sort(names)
  return names
end

-- {page, anchor} for every function and method the API exposes.
local function public_entries()
  local tessera = require "tessera"
  local entries = {}
  local function add(page, anchor) entries[#entries + 1] = { page = page, anchor = anchor } end
  for _, name in ipairs(functions_of(tessera)) do add("modules/tessera.html", name) end
  for _, area in ipairs(areas()) do
    local page, module = "modules/tessera." .. area .. ".html", tessera[area]
    -- A callable module (tessera.nmf(V, opts)) documents its call under its own name.
    local mt = getmetatable(module)
    if type(mt) == "table" and mt.__call then add(page, area) end
    for _, name in ipairs(functions_of(module)) do add(page, name) end
  end
  local Matrix = debug.getregistry()["tessera.Matrix"].__index
  for _, name in ipairs(functions_of(Matrix)) do add("modules/tessera.matrix.html", "Matrix:" .. name) end
  for _, name in ipairs(c_methods("l_audio.c", "audio_methods")) do
    add("modules/tessera.audio.html", "Audio:" .. name)
  end
  for _, name in ipairs(c_methods("l_stft.c", "spectrogram_methods")) do
    add("modules/tessera.spectrogram.html", "Spectrogram:" .. name)
  end
  for _, name in ipairs(functions_of(tessera.nmf.Model)) do add("modules/tessera.nmf.html", "Model:" .. name) end
  return entries
end

describe("make doc (the API reference)", function()
  local dir, ldoc_out, ldoc_ok, result, why

  setup(function()
    dir = helpers.tmpdir()
    -- The command make doc runs (without its deps step: nothing is installed at test time).
    ldoc_out, ldoc_ok = helpers.run("cd " .. q(root .. "/docs") .. " && ldoc --fatalwarnings -q -c config.ld -d "
                                    .. q(dir) .. " . 2>&1")
    if ldoc_ok then result, why = check_links(dir, html_pages(dir)) end
  end)

  teardown(function() helpers.rmtree(dir) end)

  it("writes the reference with no ldoc warning", function()
    assert(ldoc_ok, "ldoc failed:\n" .. ldoc_out)
    -- ldoc says which configuration it read, and which file a merged module's page starts
    -- from, even with -q; anything else is a warning.
    local rest = ldoc_out:gsub("^reading configuration from config.ld\n", "")
                         :gsub("found master module\t[^\n]*\n", "")
    assert.equal("", rest)
    assert.truthy(helpers.exists(dir .. "/index.html"))
    assert.truthy(helpers.exists(dir .. "/modules/tessera.nmf.html"))
  end)

  it("has no broken link in any page, as Chromium resolves them", function()
    assert(result, "the link check did not run in Chromium: " .. tostring(why))
    local broken, pages = {}, 0
    for page, r in pairs(result.pages) do
      pages = pages + 1
      for _, link in ipairs(r.broken) do broken[#broken + 1] = page .. ": " .. link end
    end
    table.sort(broken)
    assert(pages >= 20, "expected a page per module, got " .. pages)
    assert(#broken == 0, #broken .. " broken links:\n" .. table.concat(broken, "\n"))
  end)

  it("has an entry for every public function and method", function()
    assert(result, "the link check did not run in Chromium: " .. tostring(why))
    local missing = {}
    local entries = public_entries()
    for _, e in ipairs(entries) do
      local page = result.pages[e.page]
      local found = false
      for _, a in ipairs(page and page.anchors or {}) do found = found or a == e.anchor end
      if not found then missing[#missing + 1] = e.page .. (page and "" or " (no such page)") .. ": " .. e.anchor end
    end
    assert(#entries > 150, "expected the whole API, found " .. #entries .. " entries")
    assert(#missing == 0, #missing .. " undocumented:\n" .. table.concat(missing, "\n"))
  end)
end)
