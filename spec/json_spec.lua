-- tessera.json: exact doubles, sorted keys, null as nil.
local json = require "tessera.json"

describe("tessera.json", function()
  describe("encode()", function()
    it("keeps every double exactly", function()
      for _, x in ipairs({ 0.1 + 0.2, 1 / 3, -2.5e-300, 6.02214076e23, 2 ^ 53 + 0.0 }) do
        assert.equal(x, json.decode(json.encode(x)))
      end
      assert.equal("0.30000000000000004", json.encode(0.1 + 0.2))
    end)

    it("writes integers as integers and what JSON lacks as null", function()
      assert.equal("42", json.encode(42))
      assert.equal("[null,null,null]", json.encode({ 0 / 0, math.huge, -math.huge }))
      assert.equal("null", json.encode(print))
    end)

    it("sorts keys and escapes strings", function()
      assert.equal('{"a":[1,2],"b":{"c":true},"d":"q\\"\\\\\\u000a"}',
        json.encode({ d = 'q"\\\n', b = { c = true }, a = { 1, 2 } }))
      assert.equal("{}", json.encode({}))
    end)
  end)

  describe("decode()", function()
    it("gives null as nil and whole numbers as integers", function()
      local v = json.decode('{"k":4.0,"x":null,"loss":0.5,"list":[1,null,3]}')
      assert.equal(4, v.k)
      assert.equal("integer", math.type(v.k))
      assert.is_nil(v.x)
      assert.equal(0.5, v.loss)
      assert.equal(3, v.list[3])
    end)

    it("raises on text that is not JSON", function()
      assert.has_error(function() json.decode("{") end)
    end)
  end)
end)
