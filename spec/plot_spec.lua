-- Specs for tessera.plot: pictures exist, decode at the requested size, SVG parses, and a
-- known gradient has the colour map's colours where they belong.
local tessera = require "tessera"
local helpers = require "helpers"
local plot = tessera.plot

-- Width and height from a PNG's IHDR chunk.
local function png_size(path)
  local data = helpers.read_file(path)
  assert(data and data:sub(1, 8) == "\137PNG\r\n\26\n", "not a PNG: " .. tostring(path))
  local w, h = string.unpack(">I4I4", data, 17)
  return w, h
end

-- RGB of pixel (x, y) (0-based, from the top-left) read by Pillow.
local function pixels(path, points)
  local coords = {}
  for _, p in ipairs(points) do coords[#coords + 1] = string.format("(%d,%d)", p[1], p[2]) end
  local out, ok = helpers.python(string.format([[
from PIL import Image
im = Image.open(%q).convert("RGB")
for p in [%s]:
    print(*im.getpixel(p))
]], path, table.concat(coords, ",")))
  assert(ok, out)
  local result = {}
  for r, g, b in out:gmatch("(%d+) (%d+) (%d+)") do
    result[#result + 1] = { tonumber(r), tonumber(g), tonumber(b) }
  end
  return result
end

local function hex_rgb(hex)
  return { tonumber(hex:sub(2, 3), 16), tonumber(hex:sub(4, 5), 16), tonumber(hex:sub(6, 7), 16) }
end

local function assert_colour(actual, hex, tolerance, where)
  local expected = hex_rgb(hex)
  for c = 1, 3 do
    assert(math.abs(actual[c] - expected[c]) <= tolerance,
      string.format("%s: got rgb(%d,%d,%d), expected %s", where, actual[1], actual[2], actual[3], hex))
  end
end

-- rows x cols with value(i, j).
local function matrix_of(rows, cols, value)
  local t = {}
  for i = 1, rows do
    t[i] = {}
    for j = 1, cols do t[i][j] = value(i, j) end
  end
  return tessera.matrix.from(t)
end

describe("tessera.plot", function()
  local dir
  before_each(function() dir = helpers.tmpdir() end)
  after_each(function() helpers.rmtree(dir) end)

  describe("heatmap()", function()
    it("writes a PNG of the requested size", function()
      local M = matrix_of(20, 30, function(i, j) return i * j end)
      local out = plot.heatmap(M, { out = dir .. "/h.png", width = 640, height = 400, title = "t" })
      assert.equal(dir .. "/h.png", out)
      assert.same({ 640, 400 }, { png_size(out) })
    end)

    it("puts a gradient's colours at its corners (rows up, columns across)", function()
      -- value grows with row and column: bottom-left lowest, top-right highest.
      local M = matrix_of(8, 8, function(i, j) return (i - 1) + (j - 1) end)
      for _, cmap in ipairs({ "magma", "viridis" }) do
        local out = plot.heatmap(M, { out = dir .. "/g-" .. cmap .. ".png", width = 200, height = 200,
                                      bare = true, colormap = cmap })
        assert.same({ 200, 200 }, { png_size(out) })
        local px = pixels(out, { { 4, 195 }, { 195, 4 }, { 4, 4 }, { 195, 195 } })
        local map = plot.colormaps[cmap]
        assert_colour(px[1], map[1], 6, cmap .. " bottom-left")
        assert_colour(px[2], map[#map], 6, cmap .. " top-right")
        -- 7 of 14: the middle of the map, both off-diagonal corners alike.
        assert_colour(px[3], map[5], 6, cmap .. " top-left")
        assert_colour(px[4], map[5], 6, cmap .. " bottom-right")
      end
    end)

    it("writes SVG that parses as XML", function()
      local M = matrix_of(5, 6, function(i, j) return i + j end)
      local out = plot.heatmap(M, { out = dir .. "/h.svg" })
      local text, ok = helpers.python(string.format([[
import xml.etree.ElementTree as ET
root = ET.parse(%q).getroot()
print(root.tag)
]], out))
      assert(ok, text)
      assert.truthy(text:match("}svg%s*$"))
    end)

    it("draws dB and a log-frequency axis", function()
      local M = matrix_of(129, 40, function(i, j) return math.exp(-i / 20) * (1 + math.sin(j)) end)
      local out = plot.spectrogram(M, { out = dir .. "/s.png", sr = 22050, n_fft = 256, hop = 64, logy = true })
      assert.same({ 480, 360 }, { png_size(out) })
    end)

    it("refuses an unknown colour map, naming the valid ones", function()
      local M = matrix_of(2, 2, function() return 1 end)
      assert.has_error(function() plot.heatmap(M, { out = dir .. "/x.png", colormap = "jet" }) end,
        "tessera.plot: unknown colormap 'jet' (expected one of: gray, magma, viridis)")
    end)

    it("refuses a path that is neither .png nor .svg", function()
      local M = matrix_of(2, 2, function() return 1 end)
      assert.has_error(function() plot.heatmap(M, { out = dir .. "/x.jpg" }) end,
        "tessera.plot: cannot tell the picture format of '" .. dir .. "/x.jpg' (expected .png or .svg)")
    end)

    it("refuses NaN in the data", function()
      local M = matrix_of(3, 3, function() return 1 end)
      M:set(2, 3, 0 / 0)
      assert.has_error(function() plot.heatmap(M, { out = dir .. "/x.png" }) end,
        "tessera.plot: matrix has a non-finite entry (" .. tostring(0 / 0) .. " at row 2, column 3)")
    end)

    it("leaves nothing behind when the folder does not exist", function()
      local M = matrix_of(2, 2, function() return 1 end)
      local ok, err = pcall(plot.heatmap, M, { out = dir .. "/missing/x.png" })
      assert.is_false(ok)
      assert.truthy(err:find("tessera.plot: gnuplot failed drawing '" .. dir .. "/missing/x.png'", 1, true))
      assert.same({}, helpers.listdir(dir))
    end)
  end)

  describe("figure()", function()
    it("draws several panels side by side", function()
      local W = matrix_of(1025, 4, function(i, j) return math.exp(-((i - 100 * j) / 50) ^ 2) end)
      local H = matrix_of(4, 431, function(i, j) return (j % (10 * i) == 0) and 1 or 0 end)
      local out = plot.figure {
        out = dir .. "/f.png", title = "three methods",
        panels = { plot.W_panel(W, { sr = 22050, title = "CD" }), plot.H_panel(H, { sr = 22050, hop = 512 }),
                   plot.W_panel(W, { sr = 22050, logy = true, db = true }) },
      }
      assert.same({ 1260, 360 }, { png_size(out) })
    end)

    it("checks the layout has room", function()
      local M = matrix_of(2, 2, function() return 1 end)
      local p = plot.heatmap_panel(M)
      assert.has_error(function() plot.figure { out = dir .. "/x.png", layout = { 1, 1 }, panels = { p, p } } end,
        "tessera.plot: layout 1 x 1 has room for 1 panels, got 2")
    end)
  end)

  describe("lines()", function()
    it("plots loss curves on a log axis", function()
      local out = plot.figure { out = dir .. "/l.png", panels = { plot.loss_panel({
        { label = "mu", iterations = { 10, 20, 30 }, loss = { 100, 10, 1 } },
        { label = "cd", iterations = { 10, 20, 30 }, loss = { 50, 5, 0.5 } } }) } }
      assert.same({ 480, 360 }, { png_size(out) })
    end)

    it("puts the legend outside the axes, where curves that fill the plot cannot hide it", function()
      -- A loss that swings between two levels every step: as a line it fills the plot.
      local y = {}
      for i = 1, 1000 do y[i] = i % 2 == 0 and 1e7 or 8e7 end
      local out = plot.lines({ { y = y, label = "swinging loss" }, { y = y, label = "again", points = true } },
                             { out = dir .. "/key.svg", logy = true })
      local svg = helpers.read_file(out)
      local box = helpers.svg_boxes(svg)
      assert.equal(1, #box)
      for _, label in ipairs({ "swinging loss", "again" }) do
        local x, ly = helpers.svg_text_at(svg, label)
        assert.truthy(x, label .. " is not in the picture")
        assert.is_true(ly > box[1].y2, string.format("%s at y %g, inside the axes (bottom %g)", label, ly, box[1].y2))
      end
      -- "inside" draws it over the data on an opaque box; "none" leaves it out.
      local inside = helpers.read_file(plot.lines({ { y = y, label = "swinging loss" } },
        { out = dir .. "/inside.svg", key = "inside" }))
      local _, iy = helpers.svg_text_at(inside, "swinging loss")
      local ibox = helpers.svg_boxes(inside)[1]
      assert.is_true(iy > ibox.y1 and iy < ibox.y2)
      local none = helpers.read_file(plot.lines({ { y = y, label = "swinging loss" } },
        { out = dir .. "/none.svg", key = "none" }))
      assert.is_nil(helpers.svg_text_at(none, "swinging loss"))
    end)

    it("draws a series in the colour it is given", function()
      local out = plot.lines({ { y = { 1, 2, 3 }, label = "a", color = "#e69f00" } }, { out = dir .. "/c.svg" })
      assert.truthy(helpers.read_file(out):find("rgb(230, 159,   0)", 1, true))
      assert.has_error(function() plot.lines_panel({ { y = { 1 }, color = "orange" } }) end,
        "tessera.plot: series 1 has colour 'orange' (expected #rrggbb)")
      assert.has_error(function() plot.lines_panel({ { y = { 1 } } }, { key = "left" }) end,
        "tessera.plot: unknown key placement 'left' (expected one of: below, inside, none, right)")
    end)

    it("refuses values <= 0 on a log axis", function()
      assert.has_error(function() plot.lines({ { y = { 1, 0 } } }, { out = dir .. "/l.png", logy = true }) end,
        "tessera.plot: series 1 has a value <= 0 (0 at 2) on a log y axis")
    end)
  end)

  it("says which package to install when gnuplot is missing", function()
    local cmd = string.format("cd %s && PATH=/nonexistent "
      .. "LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='lua/?.so;;' " ..
      "/usr/bin/lua5.4 -e 'local t = require \"tessera\"; local ok, e = pcall(t.plot.heatmap, " ..
      "t.matrix.new(2, 2, 1), {out = \"%s/x.png\"}); print(e)' 2>&1",
      helpers.shell_quote(helpers.root), dir)
    local out = helpers.run(cmd)
    assert.equal("tessera.plot: gnuplot not found; install the Debian package gnuplot-nox " ..
      "(scripts/install-deps.sh does)\n", out)
  end)
end)
