-- tessera.fs: the file-system chores every module needs, written once: folders made and
-- removed (through libuv, no shell), files read whole, paths resolved and compared, and
-- words quoted for a shell. Functions that can fail return nil and a message, as io.open
-- does, so that each caller raises in its own name.
--
--   local fs = require "tessera.fs"
--   local ok, err = fs.mkdir_p("out/a/b")      -- nil, "cannot create folder 'out/a': ..."
--   local text = fs.read_file("notes.txt")     -- nil, "notes.txt: No such file or directory"
--   fs.resolve("b/../c", "/a")                 -- "/a/c"
local uv = require "luv"

local error, tostring, type = error, tostring, type
local io, os = io, os
local concat, sort = table.concat, table.sort
local format = string.format

local fs = {}

-- "ENOENT: no such file or directory: /x" (luv) -> "No such file or directory" (strerror).
function fs.reason(err)
  local text = tostring(err):match("^%u+: ([^:]+)") or tostring(err)
  return text:sub(1, 1):upper() .. text:sub(2)
end

-- fs.shell_quote(s) -> s as one word for /bin/sh, in single quotes.
function fs.shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- fs.read_file(path) -> the bytes of the file, or nil and io.open's message.
function fs.read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local data, rerr = f:read("a")
  f:close()
  if data == nil then return nil, format("%s: %s", path, tostring(rerr)) end
  return data
end

-- fs.is_dir(path) -> whether path is a folder (or a link to one).
function fs.is_dir(path)
  local st = uv.fs_stat(path)
  return st ~= nil and st.type == "directory"
end

-- fs.dirname(path) -> the folder part of a path, lexically: "a/b" -> "a", "b" -> ".",
-- "/b" -> "/".
function fs.dirname(path)
  local d = path:match("^(.*)/[^/]*$")
  if d == nil then return "." end
  if d == "" then return "/" end
  return d
end

-- fs.basename(path) -> the last part of a path ("a/b.wav" -> "b.wav").
function fs.basename(path)
  return path:match("([^/]*)$")
end

-- fs.mkdir_p(path) -> true, or nil and "cannot create folder 'x': reason" (x the first
-- folder that could not be made). Like mkdir -p: folders that exist are fine.
function fs.mkdir_p(path)
  if path == "" or fs.is_dir(path) then return true end
  local parent = fs.dirname(path)
  if parent ~= path then
    local ok, err = fs.mkdir_p(parent)
    if not ok then return nil, err end
  end
  local ok, err, name = uv.fs_mkdir(path, 493) -- 0755, less the umask
  if not ok and not (name == "EEXIST" and fs.is_dir(path)) then
    return nil, format("cannot create folder '%s': %s", path, fs.reason(err))
  end
  return true
end

-- fs.remove_tree(path): rm -rf, best effort. Links are removed, never followed.
function fs.remove_tree(path)
  local st = uv.fs_lstat(path)
  if not st then return end
  if st.type ~= "directory" then
    uv.fs_unlink(path)
    return
  end
  local req = uv.fs_scandir(path)
  if req then
    while true do
      local name = uv.fs_scandir_next(req)
      if not name then break end
      fs.remove_tree(path .. "/" .. name)
    end
  end
  uv.fs_rmdir(path)
end

-- fs.list(dir) -> the names in a folder (hidden ones too), sorted; or nil and a message.
function fs.list(dir)
  local req, err = uv.fs_scandir(dir)
  if not req then return nil, format("cannot open '%s': %s", dir, fs.reason(err)) end
  local names = {}
  while true do
    local name = uv.fs_scandir_next(req)
    if not name then break end
    names[#names + 1] = name
  end
  sort(names)
  return names
end

local cwd_cache

-- The current folder as the shell's pwd gives it: $PWD when it names this folder (the path
-- the user typed, links and all), else the physical path.
local function logical_cwd()
  local pwd = os.getenv("PWD")
  if pwd and pwd:sub(1, 1) == "/" then
    local a, b = uv.fs_stat(pwd), uv.fs_stat(".")
    if a and b and a.ino == b.ino and a.dev == b.dev then return pwd end
  end
  return uv.cwd()
end

-- fs.cwd() -> the current folder (asked once).
function fs.cwd()
  if cwd_cache == nil then
    local dir = logical_cwd()
    if type(dir) ~= "string" or dir:sub(1, 1) ~= "/" then
      error("tessera.fs: cannot tell the current directory", 2)
    end
    cwd_cache = dir
  end
  return cwd_cache
end

-- fs.resolve(path [, base]) -> the absolute, lexically normalised form of path ("." and ".."
-- folded, no double or trailing slashes), a relative path taken from base (default: the
-- current folder). Links are not followed: the result is the path as written.
function fs.resolve(path, base)
  if type(path) ~= "string" or path == "" then
    error(format("tessera.fs: a path must be a non-empty string, got %s",
      type(path) == "string" and "''" or type(path)), 2)
  end
  if path:sub(1, 1) ~= "/" then path = (base or fs.cwd()) .. "/" .. path end
  local parts = {}
  for part in path:gmatch("[^/]+") do
    if part == ".." then
      parts[#parts] = nil
    elseif part ~= "." then
      parts[#parts + 1] = part
    end
  end
  return "/" .. concat(parts, "/")
end

-- fs.realpath(path) -> the absolute path with every link resolved (realpath(3)); the part
-- that does not exist yet (a file about to be written) is appended as written.
function fs.realpath(path)
  path = fs.resolve(path)
  local real = uv.fs_realpath(path)
  if real then return real end
  local parent = fs.dirname(path)
  if parent == path then return path end
  return fs.resolve(fs.basename(path), fs.realpath(parent))
end

-- fs.inside(root, path) -> whether the resolved path is the resolved root or lies under it.
function fs.inside(root, path)
  if root == "/" then return true end
  return path == root or path:sub(1, #root + 1) == root .. "/"
end

return fs
