--- tessera.plot: pictures of W, H, spectrograms and loss curves, drawn by gnuplot.
-- Matrix data goes to gnuplot in its binary format (float32 arrays, float64 records),
-- never as text; the picture is written to a temporary name and renamed into place.
-- @module tessera.plot
local fs = require "tessera.fs"
local did_you_mean = require("tessera.args").did_you_mean

local string, table, math, io, os = string, table, math, io, os
local assert, error, ipairs, pairs, tostring, type = assert, error, ipairs, pairs, tostring, type

local plot = {}

-- Colour maps sampled at 9 evenly spaced points (matplotlib's perceptual maps).
local colormaps = {
  magma = { "#000004", "#1c1044", "#4f127b", "#812581", "#b5367a", "#e55064", "#fb8761",
            "#fec287", "#fcfdbf" },
  viridis = { "#440154", "#472d7b", "#3b528b", "#2c728e", "#21908c", "#27ad81", "#5dc863",
              "#aadc32", "#fde725" },
  gray = { "#000000", "#ffffff" },
}
plot.colormaps = colormaps

local FONT = "DejaVu Sans"

local function fail(fmt, ...)
  error("tessera.plot: " .. string.format(fmt, ...), 3)
end

local shell_quote = fs.shell_quote

-- A string as a gnuplot double-quoted literal.
local function gp_string(s)
  return '"' .. tostring(s):gsub('\\', '\\\\'):gsub('"', '\\"'):gsub("\n", "\\n") .. '"'
end

local gnuplot_checked = false
local function require_gnuplot()
  if gnuplot_checked then return end
  local ok = os.execute("command -v gnuplot >/dev/null 2>&1")
  if not ok then
    error("tessera.plot: gnuplot not found; install the Debian package gnuplot-nox " ..
          "(scripts/install-deps.sh does)", 3)
  end
  gnuplot_checked = true
end

local function extension(path)
  return (path:match("%.([%w]+)$") or ""):lower()
end

local function terminal_for(path, width, height)
  local ext = extension(path)
  if ext == "png" then
    return string.format("set terminal pngcairo size %d,%d noenhanced font '%s,10' background '#ffffff'",
      width, height, FONT)
  elseif ext == "svg" then
    return string.format("set terminal svg size %d,%d dynamic noenhanced font '%s,10' background '#ffffff'",
      width, height, FONT)
  end
  fail("cannot tell the picture format of '%s' (expected .png or .svg)", path)
end

-- Writes `n` values produced by value(i) (i = 1..n) as packed binary (fmt "f" or "d").
local function write_packed(file, fmt, n, value)
  local chunk = 4096
  local buf = {}
  local i = 1
  while i <= n do
    local m = math.min(chunk, n - i + 1)
    for t = 1, m do buf[t] = value(i + t - 1) end
    for t = m + 1, #buf do buf[t] = nil end
    file:write(string.pack(string.rep(fmt, m), table.unpack(buf, 1, m)))
    i = i + m
  end
end

-- Matrix to a rows x cols Lua grid with an optional transform of each value.
local function matrix_values(M)
  local rows, cols = M:shape()
  return rows, cols, function(i, j) return M:get(i, j) end
end

-- Decibels relative to the maximum, floored at -top_db (librosa's amplitude_to_db).
local function db_transform(get, rows, cols, top_db, power)
  local maxv = 0
  for j = 1, cols do
    for i = 1, rows do
      local v = get(i, j)
      if v > maxv then maxv = v end
    end
  end
  local floor = -top_db
  local scale = power and 10 or 20
  local amin = power and 1e-10 or 1e-5
  local ref = math.max(maxv, amin)
  return function(i, j)
    local v = get(i, j)
    local d = scale * (math.log(math.max(v, amin), 10) - math.log(ref, 10))
    return d < floor and floor or d
  end
end

-- Resamples the rows (frequencies f_i = (i-1) * df) onto `out_rows` log-spaced frequencies
-- from f_min to f_max by linear interpolation, so an image on a uniform grid can show a
-- log-frequency axis (gnuplot images need uniform pixels).
local function log_rows(get, rows, df, out_rows, f_min)
  local f_max = (rows - 1) * df
  f_min = math.max(f_min, df)
  local lmin, lmax = math.log(f_min, 10), math.log(f_max, 10)
  local step = (lmax - lmin) / (out_rows - 1)
  local src = {}
  for r = 1, out_rows do
    local f = 10 ^ (lmin + (r - 1) * step)
    local pos = f / df + 1
    local lo = math.min(math.floor(pos), rows - 1)
    src[r] = { lo, pos - lo }
  end
  return function(r, j)
    local lo, frac = src[r][1], src[r][2]
    return get(lo, j) * (1 - frac) + get(lo + 1, j) * frac
  end, lmin, step
end

local function palette_command(name)
  local map = colormaps[name or "magma"]
  if not map then
    local names = {}
    for k in pairs(colormaps) do names[#names + 1] = k end
    table.sort(names)
    fail("unknown colormap '%s' (expected one of: %s)%s", tostring(name), table.concat(names, ", "),
      did_you_mean(name, names))
  end
  local parts = {}
  for i, hex in ipairs(map) do
    parts[#parts + 1] = string.format("%g '%s'", (i - 1) / (#map - 1), hex)
  end
  return "set palette defined (" .. table.concat(parts, ", ") .. ")"
end

local function nice_hz(f)
  if f >= 1000 then
    local k = f / 1000
    return (k == math.floor(k) and string.format("%dk", k) or string.format("%.1fk", k))
  end
  return string.format("%d", f)
end

-- Panel constructors: plain tables that `figure` draws. Each validates what it is given.

--- A heatmap of a Matrix: x = columns, y = rows. Options: title, xlabel, ylabel, x0, dx
-- (column j sits at x0 + (j-1)*dx), y0, dy, db (true: amplitude dB; "power": power dB),
-- top_db (80), logy (a log-frequency axis: needs dy as Hz per row), colormap, cblabel,
-- zmin, zmax, xtics (a table of {value, label}), ytics, labels (text written over cells:
-- { {x =, y =, text =, color = "white"}, ... } in axis units, e.g. the value of each cell of
-- a small grid; black unless a colour is given).
-- @tparam Matrix M the values
-- @tab[opt] opts title, xlabel, ylabel, colormap, db, logy, labels (see the description)
-- @treturn table a panel for @{figure}
-- @raise bad options (naming the key and the value); a matrix with no entries or a non-finite one.
-- @usage local p = tessera.plot.heatmap_panel(m.W, {title = "W"})
function plot.heatmap_panel(M, opts)
  opts = opts or {}
  if type(M) ~= "userdata" or not M.shape then fail("heatmap needs a Matrix, got %s", type(M)) end
  local rows, cols = M:shape()
  if rows == 0 or cols == 0 then fail("cannot draw an empty %d x %d matrix", rows, cols) end
  local ok, finite, fi, fj, fv = pcall(M.isfinite, M)
  if ok and finite == false then
    fail("matrix has a non-finite entry (%s at row %d, column %d)", tostring(fv), fi, fj)
  end
  return { kind = "image", matrix = M, opts = opts }
end

-- Where a line plot's legend goes. Outside the axes by default: curves that fill the
-- plot (an oscillating loss) would otherwise be drawn over the legend and hide it.
local key_commands = {
  below = "set key below horizontal noopaque nobox",
  right = "set key outside right top vertical noopaque nobox",
  inside = "set key inside top right vertical opaque box", -- over the data, on a white box
  none = "unset key",
}

--- Line plots. series: { {y = {...}, x = {...} (optional, default 1..#y), label = "...",
-- points = true (a dot on every value, to see single steps), color = "#rrggbb" (default:
-- gnuplot's next colour)}, ...}.
-- Options: title, xlabel, ylabel, logy, logx, key = "below" (default) | "right" | "inside" |
-- "none".
-- @tparam table series {{label =, x =, y =, color =}, ...}
-- @tab[opt] opts title, xlabel, ylabel, logy, logx, key
-- @treturn table a panel for @{figure}
-- @raise bad options (naming the key and the value); a matrix with no entries or a non-finite one.
-- @usage local p = tessera.plot.lines_panel({{label = "h1", y = m.H:row(1):totable()[1]}})
function plot.lines_panel(series, opts)
  opts = opts or {}
  if type(series) ~= "table" or #series == 0 then fail("lines needs a list of series") end
  if opts.key ~= nil and not key_commands[opts.key] then
    fail("unknown key placement '%s' (expected one of: below, inside, none, right)%s", tostring(opts.key),
      did_you_mean(opts.key, { "below", "inside", "none", "right" }))
  end
  for s, item in ipairs(series) do
    if type(item.y) ~= "table" or #item.y == 0 then fail("series %d has no y values", s) end
    if item.x and #item.x ~= #item.y then
      fail("series %d has %d x values and %d y values", s, #item.x, #item.y)
    end
    if item.color ~= nil and not (type(item.color) == "string" and item.color:match("^#%x%x%x%x%x%x$")) then
      fail("series %d has colour '%s' (expected #rrggbb)", s, tostring(item.color))
    end
    for i, v in ipairs(item.y) do
      if type(v) ~= "number" or v ~= v or v == math.huge or v == -math.huge then
        fail("series %d has a non-finite y value (%s at %d)", s, tostring(v), i)
      end
      if opts.logy and v <= 0 then
        fail("series %d has a value <= 0 (%s at %d) on a log y axis", s, tostring(v), i)
      end
    end
  end
  return { kind = "lines", series = series, opts = opts }
end

local function tics_command(axis, tics)
  local parts = {}
  for _, t in ipairs(tics) do
    parts[#parts + 1] = string.format("%s %.17g", gp_string(t[2]), t[1])
  end
  return string.format("set %stics (%s)", axis, table.concat(parts, ", "))
end

-- Emits the gnuplot commands of one image panel; data goes to a binary file in tmpdir.
local function draw_image(panel, tmpdir, index, cmds, bare)
  local M, o = panel.matrix, panel.opts
  local rows, cols, get = matrix_values(M)
  local x0, dx = o.x0 or 1, o.dx or 1
  local y0, dy = o.y0 or 1, o.dy or 1
  if o.db then get = db_transform(get, rows, cols, o.top_db or 80, o.db == "power") end
  local out_rows = rows
  local ytics = o.ytics
  if o.logy then
    local lget, lmin, step = log_rows(get, rows, dy, math.min(512, math.max(rows, 64)), o.f_min or 20)
    get, out_rows, y0, dy = lget, math.min(512, math.max(rows, 64)), lmin, step
    if not ytics then
      ytics = {}
      for _, f in ipairs({ 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000 }) do
        local l = math.log(f, 10)
        if l >= lmin - 1e-9 and l <= lmin + (out_rows - 1) * step + 1e-9 then
          ytics[#ytics + 1] = { l, nice_hz(f) }
        end
      end
    end
  end
  local path = string.format("%s/panel%d.bin", tmpdir, index)
  local f = assert(io.open(path, "wb"))
  -- x (columns) varies fastest, as gnuplot's binary array expects.
  local n = out_rows * cols
  write_packed(f, "f", n, function(t)
    local r = (t - 1) // cols + 1
    local j = (t - 1) % cols + 1
    return get(r, j)
  end)
  f:close()
  cmds[#cmds + 1] = palette_command(o.colormap)
  cmds[#cmds + 1] = (bare or o.colorbox == false) and "unset colorbox" or "set colorbox"
  cmds[#cmds + 1] = "set cblabel " .. gp_string(o.cblabel or (o.db and "dB" or ""))
  if o.zmin or o.zmax then
    cmds[#cmds + 1] = string.format("set cbrange [%s:%s]", o.zmin and string.format("%.17g", o.zmin) or "*",
      o.zmax and string.format("%.17g", o.zmax) or "*")
  else
    cmds[#cmds + 1] = "set cbrange [*:*]"
  end
  cmds[#cmds + 1] = string.format("set xrange [%.17g:%.17g]", x0 - dx / 2, x0 + (cols - 0.5) * dx)
  cmds[#cmds + 1] = string.format("set yrange [%.17g:%.17g]", y0 - dy / 2, y0 + (out_rows - 0.5) * dy)
  cmds[#cmds + 1] = "unset label"
  if not bare then
    cmds[#cmds + 1] = o.xtics and tics_command("x", o.xtics) or "set xtics autofreq"
    cmds[#cmds + 1] = ytics and tics_command("y", ytics) or "set ytics autofreq"
    for i, l in ipairs(o.labels or {}) do
      cmds[#cmds + 1] = string.format("set label %d %s at %.17g,%.17g center front font ',9' "
        .. "textcolor rgb %s", i, gp_string(tostring(l.text)), l.x, l.y, gp_string(l.color or "black"))
    end
  end
  cmds[#cmds + 1] = string.format(
    "plot %s binary array=(%d,%d) format='%%float32' origin=(%.17g,%.17g) dx=%.17g dy=%.17g with image notitle",
    gp_string(path), cols, out_rows, x0, y0, dx, dy)
end

local function draw_lines(panel, tmpdir, index, cmds, bare)
  local o = panel.opts
  cmds[#cmds + 1] = "unset colorbox"
  cmds[#cmds + 1] = o.logy and "set logscale y" or "unset logscale y"
  cmds[#cmds + 1] = o.logx and "set logscale x" or "unset logscale x"
  cmds[#cmds + 1] = "set xrange [*:*]"
  cmds[#cmds + 1] = "set yrange [*:*]"
  cmds[#cmds + 1] = "set xtics autofreq"
  cmds[#cmds + 1] = "set ytics autofreq"
  cmds[#cmds + 1] = key_commands[bare and "none" or o.key or "below"]
  local plots = {}
  for s, item in ipairs(panel.series) do
    local path = string.format("%s/panel%d-%d.bin", tmpdir, index, s)
    local f = assert(io.open(path, "wb"))
    local x, y = item.x, item.y
    write_packed(f, "d", 2 * #y, function(t)
      local i = (t + 1) // 2
      if t % 2 == 1 then return x and x[i] or i end
      return y[i]
    end)
    f:close()
    plots[#plots + 1] = string.format(
      "%s binary record=(%d) format='%%float64%%float64' using 1:2 with %s%s title %s",
      gp_string(path), #y, item.points and "linespoints lw 1 pt 7 ps 0.5" or "lines lw 2",
      item.color and (" lc rgb " .. gp_string(item.color)) or "", gp_string(item.label or ("series " .. s)))
  end
  cmds[#cmds + 1] = "plot " .. table.concat(plots, ", ")
end

local function run_gnuplot(script_path, errors_path)
  local ok = os.execute(string.format("gnuplot %s 2>%s", shell_quote(script_path), shell_quote(errors_path)))
  local f = io.open(errors_path, "r")
  local text = f and f:read("a") or ""
  if f then f:close() end
  return ok, text
end

--- Draws panels side by side into one picture. spec: out (path .png or .svg), panels (a
-- list from *_panel), layout = {rows, cols} (default one row), title, width, height, and
-- bare = true for the data alone (no margins, tics, labels or colour bar: pixel tests).
-- Returns the path written.
-- @tab spec {out = path (.png or .svg), width, height, title, panels = {panel, ...}, layout, bare}
-- @treturn string the path written
-- @raise a missing out or panels; gnuplot failing (its message).
-- @usage tessera.plot.figure{out = "fig.png", panels = {tessera.plot.W_panel(m.W), tessera.plot.H_panel(m.H)}}
function plot.figure(spec)
  if type(spec) ~= "table" then fail("figure needs a table, got %s", type(spec)) end
  local out = spec.out
  if type(out) ~= "string" or out == "" then fail("figure needs out = a .png or .svg path") end
  local panels = spec.panels
  if type(panels) ~= "table" or #panels == 0 then fail("figure needs at least one panel") end
  local layout = spec.layout or { 1, #panels }
  if layout[1] * layout[2] < #panels then
    fail("layout %d x %d has room for %d panels, got %d", layout[1], layout[2], layout[1] * layout[2], #panels)
  end
  local width = spec.width or math.max(480, 420 * layout[2])
  local height = spec.height or math.max(360, 340 * layout[1])
  local terminal = terminal_for(out, width, height)
  require_gnuplot()

  local tmpdir = os.tmpname()
  os.remove(tmpdir)
  assert(fs.mkdir_p(tmpdir))
  -- A registered temporary name: an interrupted host removes it (tessera.core.util.tmp_path).
  local tmp_out = require("tessera.core").util.tmp_path(out)

  local cmds = {
    terminal,
    "set output " .. gp_string(tmp_out),
    "set encoding utf8",
    "set border lw 1",
    "set tics out nomirror",
    "set tics font ',9'",
  }
  local bare = spec.bare
  if bare then
    cmds[#cmds + 1] = "set margins 0,0,0,0"
    cmds[#cmds + 1] = "unset xtics; unset ytics; unset border; unset key"
  end
  if #panels > 1 or spec.title then
    cmds[#cmds + 1] = string.format("set multiplot layout %d,%d title %s font ',12'", layout[1], layout[2],
      gp_string(spec.title or ""))
  end
  for index, panel in ipairs(panels) do
    local o = panel.opts or {}
    if not bare then
      cmds[#cmds + 1] = "set title " .. gp_string(o.title or "")
      cmds[#cmds + 1] = "set xlabel " .. gp_string(o.xlabel or "")
      cmds[#cmds + 1] = "set ylabel " .. gp_string(o.ylabel or "")
    end
    if panel.kind == "image" then
      cmds[#cmds + 1] = "unset logscale"
      draw_image(panel, tmpdir, index, cmds, bare)
    elseif panel.kind == "lines" then
      draw_lines(panel, tmpdir, index, cmds, bare)
    else
      fail("panel %d has an unknown kind '%s'", index, tostring(panel.kind))
    end
  end
  if #panels > 1 or spec.title then cmds[#cmds + 1] = "unset multiplot" end
  cmds[#cmds + 1] = "set output"

  local script = tmpdir .. "/plot.gp"
  local f = assert(io.open(script, "w"))
  f:write(table.concat(cmds, "\n"), "\n")
  f:close()
  local ok, errors = run_gnuplot(script, tmpdir .. "/errors.txt")
  fs.remove_tree(tmpdir)
  if not ok then
    os.remove(tmp_out)
    fail("gnuplot failed drawing '%s': %s", out, (errors:gsub("%s+$", "")))
  end
  local renamed, why = os.rename(tmp_out, out)
  if not renamed then
    os.remove(tmp_out)
    fail("cannot write '%s': %s", out, tostring(why))
  end
  return out
end

--- One heatmap in one picture. opts as heatmap_panel plus out, width, height.
-- @tparam Matrix M the values
-- @tab[opt] opts heatmap_panel's, plus out, width, height
-- @treturn string the path written
-- @raise bad options (naming the key and the value); a matrix with no entries or a non-finite one.
-- @usage tessera.plot.heatmap(V, {out = "v.png"})
function plot.heatmap(M, opts)
  opts = opts or {}
  return plot.figure { out = opts.out, width = opts.width, height = opts.height, bare = opts.bare,
                       panels = { plot.heatmap_panel(M, opts) } }
end

--- One line plot in one picture. opts as lines_panel plus out, width, height.
-- @tparam table series as lines_panel
-- @tab[opt] opts lines_panel's, plus out, width, height
-- @treturn string the path written
-- @raise bad options (naming the key and the value); a matrix with no entries or a non-finite one.
-- @usage tessera.plot.lines(series, {out = "h.svg"})
function plot.lines(series, opts)
  opts = opts or {}
  return plot.figure { out = opts.out, width = opts.width, height = opts.height,
                       panels = { plot.lines_panel(series, opts) } }
end

local function merged(defaults, opts)
  local t = {}
  for k, v in pairs(defaults) do t[k] = v end
  for k, v in pairs(opts or {}) do t[k] = v end
  return t
end

--- Panel of W (n x k): frequency in Hz up the y axis, components along x. opts: sr and n_fft
-- (for Hz; default bin numbers), db, logy, plus heatmap_panel options.
-- @tparam Matrix W n x k
-- @tab[opt] opts sr, n_fft, db, logy and heatmap_panel's
-- @treturn table a panel for @{figure}
-- @raise bad options (naming the key and the value); a matrix with no entries or a non-finite one.
-- @usage local p = tessera.plot.W_panel(m.W, {sr = 22050, n_fft = 2048})
function plot.W_panel(W, opts)
  opts = opts or {}
  local rows, cols = W:shape()
  local sr, n_fft = opts.sr, opts.n_fft or 2 * (rows - 1)
  local defaults = { xlabel = "component", ylabel = sr and "frequency (Hz)" or "frequency bin",
                     title = "W", x0 = 1, dx = 1, y0 = sr and 0 or 1, dy = sr and sr / n_fft or 1,
                     cblabel = opts.db and "dB" or "weight" }
  local xt = {}
  for j = 1, cols do xt[j] = { j, tostring(j) } end
  defaults.xtics = xt
  return plot.heatmap_panel(W, merged(defaults, opts))
end

--- Panel of H (k x p): components up the y axis, time in seconds along x. opts: sr and hop
-- (for seconds; default frame numbers), plus heatmap_panel options.
-- @tparam Matrix H k x p
-- @tab[opt] opts sr, hop and heatmap_panel's
-- @treturn table a panel for @{figure}
-- @raise bad options (naming the key and the value); a matrix with no entries or a non-finite one.
-- @usage local p = tessera.plot.H_panel(m.H, {sr = 22050, hop = 512})
function plot.H_panel(H, opts)
  opts = opts or {}
  local rows = H:shape()
  local sr, hop = opts.sr, opts.hop or 512
  local defaults = { xlabel = sr and "time (s)" or "frame", ylabel = "component", title = "H",
                     x0 = sr and 0 or 1, dx = sr and hop / sr or 1, y0 = 1, dy = 1,
                     cblabel = "activation" }
  local yt = {}
  for i = 1, rows do yt[i] = { i, tostring(i) } end
  defaults.ytics = yt
  return plot.heatmap_panel(H, merged(defaults, opts))
end

--- Panel of a spectrogram: a Spectrogram (its magnitude is drawn) or a magnitude Matrix
-- with opts.sr/n_fft/hop. dB by default, linear frequency unless opts.logy.
-- @tparam Spectrogram|Matrix S a spectrogram or a magnitude
-- @tab[opt] opts sr, n_fft, hop (for a Matrix), db, logy
-- @treturn table a panel for @{figure}
-- @raise bad options (naming the key and the value); a matrix with no entries or a non-finite one.
-- @usage local p = tessera.plot.spectrogram_panel(S)
function plot.spectrogram_panel(S, opts)
  opts = opts or {}
  local M = S
  local sr, n_fft, hop = opts.sr, opts.n_fft, opts.hop
  if type(S) == "userdata" and S.istft then
    M = S:magnitude()
    sr, n_fft, hop = sr or S.sr, n_fft or S.n_fft, hop or S.hop
  end
  local rows = M:shape()
  n_fft = n_fft or 2 * (rows - 1)
  local defaults = { title = "spectrogram", db = true, xlabel = sr and "time (s)" or "frame",
                     ylabel = sr and "frequency (Hz)" or "frequency bin",
                     x0 = sr and 0 or 1, dx = sr and (hop or 512) / sr or 1,
                     y0 = sr and 0 or 1, dy = sr and sr / n_fft or 1 }
  return plot.heatmap_panel(M, merged(defaults, opts))
end

--- One W panel in one picture (the panel's options plus out, width, height).
-- @function W
-- @tparam Matrix W n x k
-- @tab opts the panel's options, plus out (required), width, height
-- @treturn string the path written
-- @raise as the panel and @{figure}.
-- @usage tessera.plot.W(m.W, {out = "W.png"})

--- One H panel in one picture (the panel's options plus out, width, height).
-- @function H
-- @tparam Matrix H k x p
-- @tab opts the panel's options, plus out (required), width, height
-- @treturn string the path written
-- @raise as the panel and @{figure}.
-- @usage tessera.plot.H(m.H, {out = "H.png"})

--- One spectrogram panel in one picture (the panel's options plus out, width, height).
-- @function spectrogram
-- @tparam Spectrogram|Matrix S a spectrogram
-- @tab opts the panel's options, plus out (required), width, height
-- @treturn string the path written
-- @raise as the panel and @{figure}.
-- @usage tessera.plot.spectrogram(S, {out = "spectrogram.png"})

-- Convenience single-picture forms: plot.W(W, opts), plot.H(H, opts), plot.spectrogram(S, opts).
for _, name in ipairs({ "W", "H", "spectrogram" }) do
  local make_panel = plot[name .. "_panel"]
  plot[name] = function(M, opts)
    opts = opts or {}
    return plot.figure { out = opts.out, width = opts.width, height = opts.height,
                         panels = { make_panel(M, opts) } }
  end
end

--- Loss curves: histories = { {label=, iterations={...}, loss={...}, color=, points=}, ... },
-- log y.
-- @tparam table histories {{label =, iterations =, loss =, color =, points =}, ...}
-- @tab[opt] opts lines_panel's
-- @treturn table a panel for @{figure}
-- @raise bad options (naming the key and the value); a matrix with no entries or a non-finite one.
-- @usage local p = tessera.plot.loss_panel({{label = "kl", iterations = its, loss = ls}})
function plot.loss_panel(histories, opts)
  local series = {}
  for i, h in ipairs(histories) do
    series[i] = { x = h.iterations, y = h.loss, label = h.label, color = h.color, points = h.points }
  end
  return plot.lines_panel(series, merged({ logy = true, xlabel = "iteration", ylabel = "loss",
                                           title = "loss" }, opts))
end

-- Errors leave the public functions at the caller's line (lua/tessera/entry.lua).
return require("tessera.entry").export(plot)
