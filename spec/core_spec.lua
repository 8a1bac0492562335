-- tessera.core: the module table and core.type.
local core = require "tessera.core"

describe("tessera.core", function()
  describe("type()", function()
    it("names tessera's userdata as io.type names files", function()
      local a = core.audio.new(16, 8000)
      local M = core.matrix.new(2, 3)
      assert.equal("Matrix", core.type(M))
      assert.equal("Matrix", core.type(M:row(1))) -- a view is a Matrix too
      assert.equal("Audio", core.type(a))
      assert.equal("Spectrogram", core.type(core.stft(core.audio.new(4096, 8000))))
    end)

    it("answers fail (nil) for anything else", function()
      for _, v in ipairs({ 1, "Matrix", {}, print, true, io.stdout }) do
        assert.is_nil(core.type(v))
      end
      assert.is_nil(core.type(nil))
      assert.is_nil(core.type(setmetatable({}, { __name = "tessera.Matrix" })))
    end)

    it("needs an argument", function()
      assert.has_error(function() core.type() end, "bad argument #1 to 'type' (value expected)")
    end)
  end)
end)
