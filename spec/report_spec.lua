-- Specs for tessera.report: valid HTML, every referenced asset exists, text is escaped,
-- and a real browser (headless Chromium) decodes every picture and every audio file.
local tessera = require "tessera"
local helpers = require "helpers"

-- Tag balance and attributes checked by Python's html.parser; prints src/href values.
local function check_html(path)
  local out, ok = helpers.python(string.format([[
from html.parser import HTMLParser
VOID = {"meta", "img", "br", "hr", "link", "input", "source"}
class P(HTMLParser):
    def __init__(self):
        super().__init__(); self.stack = []; self.refs = []; self.doctype = False
    def handle_decl(self, d): self.doctype = d.lower() == "doctype html"
    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ("src", "href"): self.refs.append(v)
        if tag not in VOID: self.stack.append(tag)
    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, "unbalanced </%%s> after %%s" %% (tag, self.stack[-3:])
        self.stack.pop()
p = P(); p.feed(open(%q, encoding="utf-8").read()); p.close()
assert p.doctype, "no doctype"
assert not p.stack, "unclosed: %%s" %% p.stack
for r in p.refs: print("REF", r)
print("OK")
]], path))
  assert(ok and out:match("OK\n$"), out)
  local refs = {}
  for ref in out:gmatch("REF ([^\n]+)") do refs[#refs + 1] = ref end
  return refs
end

local function sine(seconds, freq, sr)
  local t = {}
  for i = 1, math.floor(seconds * sr) do t[i] = 0.5 * math.sin(2 * math.pi * freq * (i - 1) / sr) end
  return tessera.audio.from(t, sr)
end

local function build_report(dir)
  local r = tessera.report.new(dir, { title = "A <test> report" })
  r:heading("Figures & sounds")
  r:paragraph("Loss <script>alert(1)</script> goes down.")
  r:table({ { "mu", 12.5, 200 }, { "cd", 1e-7, 37 } }, { header = { "method", "loss", "iterations" } })
  r:table({ { name = "a", v = 1 } }, { columns = { "name", "v" } })
  local M = tessera.matrix.new(16, 8, 1)
  r:figure({ panels = { tessera.plot.heatmap_panel(M, { title = "ones" }) } }, { caption = "a figure" })
  r:figure({ panels = { tessera.plot.heatmap_panel(M) } }, { caption = "a figure" })
  r:players({ { audio = sine(0.5, 440, 22050), name = "component 1", method = "KL-MU" },
              { audio = sine(1.0, 660, 22050), name = "component 2", method = "CD" } })
  r:code("return { k = 4 }", { lang = "lua" })
  return r, r:save()
end

describe("tessera.report", function()
  local dir
  before_each(function() dir = helpers.tmpdir() end)
  after_each(function() helpers.rmtree(dir) end)

  it("writes valid HTML whose every asset exists", function()
    local _, index = build_report(dir)
    assert.equal(dir .. "/index.html", index)
    local refs = check_html(index)
    assert.equal(4, #refs) -- two figures, two players
    for _, ref in ipairs(refs) do
      assert.falsy(ref:match("^%a+://"), "external reference " .. ref)
      assert.is_true(helpers.exists(dir .. "/" .. ref), "missing asset " .. ref)
    end
    local html = helpers.read_file(index)
    assert.truthy(html:find("&lt;script&gt;alert(1)&lt;/script&gt;", 1, true))
    assert.truthy(html:find("<title>A &lt;test&gt; report</title>", 1, true))
    assert.truthy(html:find('name="viewport"', 1, true))
    assert.truthy(html:find("component 1 <span class=\"method\">KL-MU</span>", 1, true))
    -- two figures with one caption get distinct files
    assert.truthy(html:find("assets/a-figure.png", 1, true))
    assert.truthy(html:find("assets/a-figure-2.png", 1, true))
    assert.is_nil(html:find("<link", 1, true))
  end)

  it("leaves no temporary files behind", function()
    build_report(dir)
    for _, name in ipairs(helpers.listdir(dir)) do assert.falsy(name:match("tmp"), name) end
    for _, name in ipairs(helpers.listdir(dir .. "/assets")) do assert.falsy(name:match("tmp"), name) end
  end)

  it("opens in headless Chromium with every image decoded and every audio playable", function()
    local _, index = build_report(dir)
    local result, why = helpers.browser_selfcheck(index)
    assert.truthy(result, "the page's self-check did not run: " .. tostring(why))
    assert.equal(2, #result.images)
    for _, img in ipairs(result.images) do assert.is_true(img.width > 0, img.src) end
    assert.equal(2, #result.audio)
    assert.near(0.5, result.audio[1].duration, 0.01)
    assert.near(1.0, result.audio[2].duration, 0.01)
  end)

  it("refuses a figure outside its folder and bad arguments", function()
    local r = tessera.report.new(dir)
    assert.has_error(function() r:figure("/etc/passwd") end,
      "tessera.report: figure '/etc/passwd' is outside the report folder '" .. dir .. "'")
    assert.has_error(function() r:heading("x", 7) end, "tessera.report: heading level must be 1..4, got 7")
    assert.has_error(function() r:audio("x") end, "tessera.report: audio needs an Audio, got string")
    assert.has_error(function() tessera.report.new(nil) end, "tessera.report: new needs a folder path, got nil")
  end)
end)
