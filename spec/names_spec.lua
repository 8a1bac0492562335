-- Specs for the one "did you mean" of tessera (tsr_closest_name, csrc/names.c): the helper
-- itself (core.util.closest, args.did_you_mean), and the messages of every kind of name it
-- serves: option keys, losses, windows, phase methods, recipe keys, commands, CLI options.
local core = require "tessera.core"
local args = require "tessera.args"
local tessera = require "tessera"
local helpers = require "helpers"

local closest = core.util.closest
local q = helpers.shell_quote
local AMEN = "/usr/share/sonic-pi/samples/loop_amen.flac"

local function message(fn)
  local ok, err = pcall(fn)
  assert.is_false(ok)
  return (tostring(err):gsub("^[^\n:]+:%d+: ", "", 1))
end

describe("names", function()
  describe("core.util.closest()", function()
    it("finds a name one or two edits away: a letter missing, extra, wrong or swapped", function()
      assert.equal("griffinlim", closest("grifinlim", { "pghi", "griffinlim", "random" }))
      assert.equal("loss", closest("lose", { "k", "loss", "solver" }))
      assert.equal("hann", closest("han", { "hann", "hamming", "rect" }))
      assert.equal("window", closest("windw", { "n_fft", "hop", "window" }))
      assert.equal("max_iter", closest("max_itre", { "max_iter", "tol" })) -- a swap is one edit
      assert.equal("decompose", closest("decompse", { "info", "decompose", "mosaic" }))
      assert.equal("HW", closest("hw", { "HW", "WH" })) -- case is no edit
    end)

    it("suggests nothing for a name that is far from all, short, or exact", function()
      assert.is_nil(closest("kl", { "is", "euclidean" })) -- 2 edits of a 2-letter name
      assert.is_nil(closest("hanning", { "hann", "hamming", "rect" })) -- 2 edits of 7 letters
      assert.equal("max_iter", closest("maxiterr", { "max_iter", "tol" })) -- 2 edits of 8
      assert.is_nil(closest("zzzz", { "hann", "hamming", "rect" }))
      assert.is_nil(closest("wiener", { "phase", "wiener" }))
      assert.is_nil(closest("anything", {}))
      assert.is_nil(closest(string.rep("a", 100), { string.rep("a", 99) }))
    end)

    it("takes the first of equally close names", function()
      assert.equal("hop", closest("hopp", { "hop", "hope" }))
    end)
  end)

  describe("args.did_you_mean()", function()
    it("is the tail of a message, or empty", function()
      assert.equal("; did you mean 'loss'?", args.did_you_mean("lose", { "loss" }))
      assert.equal("", args.did_you_mean("zzz", { "loss" }))
      assert.equal("", args.did_you_mean(42, { "loss" }))
    end)
  end)

  describe("in the API's messages", function()
    local a = tessera.audio.load(AMEN, { sr = 22050, duration = 0.5 })
    local S = tessera.stft(a)
    local V = S:magnitude()

    it("names the option key meant, listing every option (max_memory too)", function()
      local m = message(function() tessera.nmf(V, { k = 2, lose = "kl" }) end)
      assert.truthy(m:find("unknown option 'lose' (valid: ", 1, true), m)
      assert.truthy(m:find(", max_memory); did you mean 'loss'?)", 1, true), m)
      m = message(function() tessera.stft(a, { windw = "hann" }) end)
      assert.equal("bad argument #2 to 'stft' (unknown option 'windw' (valid: n_fft, hop, window, center, "
        .. "magnitude, threads, max_memory); did you mean 'window'?)", m)
      m = message(function() tessera.audio.load(AMEN, { duraton = 1 }) end)
      assert.truthy(m:find("unknown option 'duraton' (valid: sr, mono, offset, duration, quality); "
        .. "did you mean 'duration'?", 1, true), m)
      m = message(function() tessera.score.events(V:row(1), { treshold = 0.5 }) end)
      assert.truthy(m:find("unknown option 'treshold' (valid: ", 1, true), m)
      assert.truthy(m:find("; did you mean 'threshold'?", 1, true), m)
    end)

    it("names the loss, window, method and quality meant", function()
      assert.equal("bad argument #2 to 'nmf' (invalid loss 'kll'; expected one of: euclidean, kl, is, or a "
        .. "number; did you mean 'kl'?)", message(function() tessera.nmf(V, { k = 2, loss = "kll" }) end))
      assert.equal("bad argument #2 to 'stft' (window must be 'hann', 'hamming' or 'rect', got 'haming'; "
        .. "did you mean 'hamming'?)", message(function() tessera.stft(a, { window = "haming" }) end))
      local model = tessera.nmf(V, { k = 2, max_iter = 3 })
      assert.equal("bad argument #3 to 'audio' (method must be 'phase' or 'wiener', got 'weiner'; did you "
        .. "mean 'wiener'?)", message(function() model:audio(1, S, { method = "weiner" }) end))
      assert.truthy(message(function() tessera.audio.load(AMEN, { quality = "bets" }) end)
        :find("got 'bets'; did you mean 'best'?", 1, true))
      assert.truthy(message(function() tessera.griffinlim(V, S, { init = "pgh" }) end)
        :find("got 'pgh'; did you mean 'pghi'?", 1, true))
      assert.truthy(message(function() model:sort("centriod") end):find("; did you mean 'centroid'?)", 1, true))
    end)

    it("names the recipe key and the phase meant", function()
      local dir = helpers.tmpdir()
      finally(function() helpers.rmtree(dir) end)
      local function recipe_error(text)
        helpers.write_file(dir .. "/r.lua", text)
        return message(function() tessera.mosaic.load(dir .. "/r.lua") end)
      end
      local src = '{ drums = { file = "' .. AMEN .. '", k = 2 } }'
      local m = recipe_error("return { sources = " .. src .. ', layers = { { W = "drums" } }, '
        .. 'phase = "grifinlim" }')
      assert.truthy(m:find("key 'phase': no source named 'grifinlim' (sources: drums; or 'griffinlim'); did "
        .. "you mean 'griffinlim'?", 1, true), m)
      m = recipe_error("return { sources = " .. src .. ', layers = { { W = "drums" } }, phase = "drum" }')
      assert.truthy(m:find("; did you mean 'drums'?", 1, true), m)
      m = recipe_error('return { sources = { drums = { file = "' .. AMEN .. '", k = 2, lose = "kl" } }, '
        .. 'layers = { { W = "drums" } } }')
      assert.truthy(m:find("key 'lose' is not a source option (expected one of: ", 1, true), m)
      assert.truthy(m:find("; did you mean 'loss'?", 1, true), m)
    end)
  end)

  describe("on the command line", function()
    local BIN = helpers.root .. "/bin/tessera"
    local function run(argv)
      return helpers.run("env -u TESSERA_DEBUG " .. q(BIN) .. " " .. argv .. " 2>&1 </dev/null")
    end

    it("names the command, the command's option and the host's option meant", function()
      assert.equal("tessera: unknown command 'decompse'; did you mean 'decompose'? (try 'tessera help')\n",
        (run("decompse x.wav")))
      assert.equal("tessera: info: unknown option '--jsn'; did you mean '--json'? (try 'tessera help info')\n",
        (run("info --jsn " .. AMEN)))
      assert.equal("tessera: unrecognized option '--debgu'; did you mean '--debug'? (try 'tessera help')\n",
        (run("--debgu")))
      assert.equal("tessera: unknown command 'frobnicate' (try 'tessera help')\n", (run("frobnicate")))
    end)
  end)
end)
