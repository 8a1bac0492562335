-- tessera.automation: held values, ramps and breakpoints per frame, written plainly.
local tessera = require "tessera"

local automation = tessera.automation

describe("tessera.automation", function()
  it("holds a number on every frame", function()
    assert.same({ 3, 3, 3 }, automation.values(3, 3, 22050, 512))
  end)

  it("ramps from the first frame to the last, linearly or smoothly", function()
    assert.same({ 0, 2.5, 5, 7.5, 10 }, automation.values({ from = 0, to = 10 }, 5, 22050, 512))
    local s = automation.values({ from = 0, to = 1, shape = "smooth" }, 5, 22050, 512)
    assert.same({ 0, 0.15625, 0.5, 0.84375, 1 }, s) -- 3x^2 - 2x^3 at 0, 1/4, 1/2, 3/4, 1
  end)

  it("draws straight lines between breakpoints, holding the first and the last", function()
    -- Frames 0.5 s apart (sr 1000, hop 500): 0, 0.5, 1, ..., 3 s.
    local v = automation.values({ { 1, 0 }, { 2, 10 }, { 2, 4 } }, 7, 1000, 500)
    assert.same({ 0, 0, 0, 5, 4, 4, 4 }, v)
  end)

  it("says what is wrong with a spec", function()
    assert.is_nil(automation.problem({ { 0, 1 } }, 0, 1))
    assert.equal("must be a number in 0..1, got 2", automation.problem(2, 0, 1))
    assert.equal("has key 'speed'; a ramp takes from, to and shape",
      automation.problem({ from = 0, to = 1, speed = 2 }, 0, 1))
    assert.equal("'shape' must be 'linear' or 'smooth'",
      automation.problem({ from = 0, to = 1, shape = "cubic" }, 0, 1))
    assert.equal("must not be empty", automation.problem({}, 0, 1))
    assert.equal("breakpoint 1 must be {seconds, value}", automation.problem({ { 1 } }, 0, 1))
    assert.equal("breakpoint 1: its time must be a number of seconds >= 0",
      automation.problem({ { -1, 0 } }, 0, 1))
    assert.equal("must be a list of {seconds, value} breakpoints",
      automation.problem({ { 0, 0 }, x = 1 }, 0, 1))
  end)
end)
