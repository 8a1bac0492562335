-- tessera.files: writing a text file whole or not at all. The text goes to a temporary
-- name in the same folder (registered, so an interrupted run removes it) and is renamed
-- into place only once it is complete.
local util = require("tessera.core").util
local tmp_path = util.tmp_path

local error, io, os, string, tostring = error, io, os, string, tostring

local files = {}

-- files.write_atomic(path, text, who [, level]): on failure raises "<who>: cannot write
-- '<path>': <reason>" (positioned at `level` as error() takes it, counted from the caller
-- of write_atomic; default 1) and leaves neither path changed nor a temporary.
function files.write_atomic(path, text, who, level)
  level = level or 1
  local function fail(why)
    error(string.format("%s: cannot write '%s': %s", who, path, tostring(why)),
          level == 0 and 0 or level + 2)
  end
  local tmp = tmp_path(path)
  local f, why = io.open(tmp, "wb")
  if not f then fail(why) end
  local ok, werr = f:write(text)
  local closed, cerr = f:close()
  if not ok or not closed then
    os.remove(tmp)
    fail(werr or cerr)
  end
  -- fsynced, renamed, the folder fsynced; refused (tmp removed) after an interrupt.
  local committed, cerr2 = util.commit(tmp, path)
  if not committed then
    error(string.format("%s: %s", who, cerr2), level == 0 and 0 or level + 1)
  end
end

return files
