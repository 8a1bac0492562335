-- tessera.audio: loading, resampling, saving and simple operations on sampled sound.
-- The C module tessera.core provides the Audio type (csrc/lua/l_audio.c); this module is
-- its function table, so `require("tessera").audio` and `require("tessera.core").audio`
-- are the same table.
local core = require "tessera.core"

return core.audio
