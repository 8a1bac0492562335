-- A recipe layer's pattern (tessera.score.apply on its activations) and a MIDI file as its
-- H (tessera.midi): the rendered magnitude's onsets land where the pattern or the notes put
-- them; errors name the layer and the key.
local helpers = require "helpers"
local tessera = require "tessera"

local SR, HOP = 22050, 512

describe("a recipe layer's pattern and MIDI H", function()
  local tmp = helpers.cache_per_test()
  before_each(tmp.setup)
  after_each(tmp.teardown)

  local src = { drums = { file = helpers.samples .. "/loop_amen.flac", k = 4, loss = "kl" } }

  local function render(t)
    local _, s = tessera.mosaic.render(t, { write = false, base = tmp.dir, cache_dir = tmp.dir .. "/cache" })
    return s.magnitude
  end

  -- Frames whose column energy is a local maximum above a tenth of the largest, in 1..last.
  local function onsets(V, last)
    local n, p = V:shape()
    local e = {}
    for j = 1, p do
      local s = 0
      for i = 1, n do s = s + V:get(i, j) end
      e[j] = s
    end
    local top = 0
    for j = 1, last do top = math.max(top, e[j]) end
    local found = {}
    for j = 1, last do
      local before, after = e[j - 1] or 0, e[j + 1] or 0
      if e[j] > 0.3 * top and e[j] >= before and e[j] > after then found[#found + 1] = j - 1 end
    end
    return found
  end

  it("plays an euclidean pattern: onsets on its steps", function()
    local V = render { duration = 4, sources = src, normalize = false,
                       layers = { { W = "drums:1", pattern = { { "euclidean", 3, 8, step = 10 } } } } }
    -- Within the loop's first period (the 1.75-s loop: 75 frames), each a copy of the
    -- strongest hit, whose peak follows its onset by at most a frame.
    local found = onsets(V, 75)
    assert.equal(3, #found)
    for i, want in ipairs { 0, 30, 60 } do
      assert.is_true(found[i] >= want and found[i] <= want + 1, ("%d vs %d"):format(found[i], want))
    end
  end)

  it("leaves the activations as they are with an empty pattern", function()
    local plain = render { duration = 2, sources = src, layers = { { W = "drums" } } }
    local same = render { duration = 2, sources = src, layers = { { W = "drums", pattern = {} } } }
    local D = plain - same
    assert.equal(0, math.max(D:max(), -D:min()))
  end)

  it("plays a MIDI file's notes with the templates the notes map to", function()
    local song = { bpm = 100, tracks = {
      { name = "a", events = { { time = 0, note = 36, velocity = 127, duration = 0.1 },
                               { time = 1.2, note = 36, velocity = 127, duration = 0.1 } } },
      { name = "b", events = { { time = 0.6, note = 38, velocity = 127, duration = 0.1 } } } } }
    tessera.midi.write(tmp.dir .. "/beat.mid", song, { bpm = 100 })
    local V = render { duration = 2.4, sources = src, normalize = false,
                       layers = { { W = "drums:1-2", H = "beat.mid", notes = { [36] = 1, [38] = 2 } } } }
    local want = {}
    for i, t in ipairs { 0, 0.6, 1.2 } do want[i] = math.floor(t * SR / HOP + 0.5) end
    local found = onsets(V, math.floor(2.4 * SR / HOP) - 1)
    assert.equal(#want, #found)
    for i = 1, #want do assert.is_true(math.abs(found[i] - want[i]) <= 1, ("%d vs %d"):format(found[i], want[i])) end
    -- The snare's note plays template 2: its frame's spectrum is not the kick's, unless the
    -- notes map both keys to template 1.
    local function cosine(M, a, b)
      local x, y = M:col(a + 1), M:col(b + 1)
      return (x:T() * y):get(1, 1) / math.sqrt((x:T() * x):get(1, 1) * (y:T() * y):get(1, 1))
    end
    local same = render { duration = 2.4, sources = src, normalize = false,
                          layers = { { W = "drums:1-2", H = "beat.mid", notes = { [36] = 1, [38] = 1 } } } }
    assert.is_true(cosine(same, found[1], found[2]) > 0.999)
    assert.is_true(cosine(V, found[1], found[2]) < cosine(same, found[1], found[2]) - 0.01)
  end)

  it("refuses patterns, notes and MIDI files it cannot play, naming the layer and key", function()
    local function message(layer)
      return helpers.error_message(function() render { duration = 1, sources = src, layers = { layer } } end)
    end
    assert.equal("tessera.mosaic: recipe: layer 1: key 'notes' needs H = a MIDI file ('.mid')",
      message { W = "drums", notes = { [36] = 1 } })
    helpers.write_file(tmp.dir .. "/bad.mid", "MThd\0\0\0\6\0\1")
    assert.matches("^tessera%.mosaic: recipe: layer 1: key 'H': .*bad%.mid",
      message { W = "drums:1", H = "bad.mid" })
    tessera.midi.write(tmp.dir .. "/one.mid", { bpm = 120, tracks = { { name = "x", events = {
      { time = 0, note = 36, velocity = 100, duration = 0.1 } } } } })
    assert.equal("tessera.mosaic: recipe: layer 1: key 'notes': key 36 must map to a position in W " ..
      "(1..2), got number 3", message { W = "drums:1-2", H = "one.mid", notes = { [36] = 3 } })
    assert.equal("tessera.mosaic: recipe: layer 1: key 'pattern' must be a list of score edits like " ..
      "{'gate', 2}, got string 'x..x'", message { W = "drums", pattern = "x..x" })
    assert.matches("^tessera%.mosaic: recipe: layer 1: key 'pattern': op 1: unknown op 'swing'",
      message { W = "drums", pattern = { { "swing", 0.2 } } })
  end)
end)
