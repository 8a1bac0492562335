-- A live-coding session, played by a script: writes a recipe (garzul's pads played by the
-- tabla's rhythm, the tabla underneath), starts `tessera live` on it, then edits the
-- recipe the way a musician would in an editor, one save at a time: a gain change, a
-- component swap, a typo and its fix. The watcher's lines are shown as they come: each
-- save re-renders in a few tens of milliseconds (the decompositions come from the cache),
-- the typo is reported and the last good output stays.
--
--   bin/tessera examples/live_session.lua [OUTDIR]        (default out/live)
--
-- Then play the same session by hand, with any editor:
--   bin/tessera live OUTDIR/session.lua --play
local uv = require "luv"
local fs = require "tessera.fs"

local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local tessera_bin = here .. "/../bin/tessera"
local outdir = arg and arg[1] or "out/live"
assert(fs.mkdir_p(outdir))
local recipe_path = outdir .. "/session.lua"

local recipe = [[
-- A live-coding recipe: run `tessera live session.lua --play`, edit, save, listen.
local samples = "/usr/share/sonic-pi/samples/"

return {
  sr = 22050,
  duration = 8,
  out = "session.wav",
  sources = {
    tabla = { file = samples .. "loop_tabla.flac", duration = 8, k = 6, loss = "kl",
              max_iter = 150 },
    garzul = { file = samples .. "loop_garzul.flac", k = 6, loss = "kl", max_iter = 150 },
  },
  phase = "tabla",
  layers = {
    { name = "pads on the tabla", W = "garzul:1-6", H = "tabla:1-6", gain = 1.0 },
    { name = "tabla underneath", W = "tabla:1-2", gain = 0.3 },
  },
}
]]

local function save(text)
  -- Saved the way many editors do: a new file renamed over the old one.
  local tmp = recipe_path .. ".tmp"
  local f = assert(io.open(tmp, "wb"))
  f:write(text)
  f:close()
  assert(os.rename(tmp, recipe_path))
end

local function edit(from, to)
  local text, n = recipe:gsub((from:gsub("%p", "%%%0")), (to:gsub("%%", "%%%%")))
  assert(n == 1, "the session's edit did not apply: " .. from)
  recipe = text
  save(recipe)
end

save(recipe)
local log_path = outdir .. "/session.log"
local log_fd = assert(uv.fs_open(log_path, "w", tonumber("644", 8)))
local exited = false
local child = assert(uv.spawn(tessera_bin,
  { args = { "live", recipe_path }, stdio = { nil, log_fd, 2 } },
  function() exited = true end))
uv.fs_close(log_fd)

-- Prints the watcher's new lines; waits (bounded) until one starts with `prefix`.
local shown = 0
local function await(prefix, seconds)
  local deadline = uv.hrtime() + seconds * 1e9
  while true do
    uv.run("nowait")
    local f = io.open(log_path, "rb")
    local text = f and f:read("a") or ""
    if f then f:close() end
    local lines, found = {}, false
    for line in text:gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
    for i = shown + 1, #lines do
      print("  " .. lines[i])
      if lines[i]:sub(1, #prefix) == prefix then found = true end
    end
    shown = #lines
    if found then return end
    if exited then error("the watcher stopped early (see above)") end
    if uv.hrtime() > deadline then error("no line '" .. prefix .. "' from the watcher in time") end
    uv.sleep(20)
  end
end

local ok, err = pcall(function()
  print("> tessera live " .. recipe_path .. "   (the first render decomposes both loops)")
  await("#1 ", 120)
  print("> the tabla underneath, louder: gain = 0.3 -> 0.8")
  edit('W = "tabla:1-2", gain = 0.3', 'W = "tabla:1-2", gain = 0.8')
  await("#2 ", 30)
  print("> swap the tabla's components 1-2 for 3-4")
  edit('W = "tabla:1-2"', 'W = "tabla:3-4"')
  await("#3 ", 30)
  print("> a typo (a missing comma): reported, the last good output stays")
  edit('gain = 1.0 },', 'gain = 1.0 }')
  await("#4 ", 30)
  print("> the fix")
  edit('gain = 1.0 }', 'gain = 1.0 },')
  await("#5 ", 30)
end)
child:kill("sigint")
local deadline = uv.hrtime() + 10e9
while not exited and uv.hrtime() < deadline do
  uv.run("nowait")
  uv.sleep(20)
end
await("stopped", 1)
child:close()
uv.run("default") -- completes the close while Lua is still running
if not ok then error(err, 0) end
print(string.format("> the recipe is %s: run `bin/tessera live %s --play` and edit it yourself",
  recipe_path, recipe_path))
