-- Specs for tessera.batch.progress: the bar's ETA counts seconds of audio, not files.
local core = require "tessera.core"
local progress = require "tessera.batch.progress"

local SAMPLES = "/usr/share/sonic-pi/samples/"

-- A log that keeps what is written, in place of stderr.
local function capture()
  local log = { text = "" }
  function log.write(self, ...)
    for _, s in ipairs { ... } do self.text = self.text .. s end
  end
  function log.flush() end
  return log
end

-- The ETA in seconds the last bar line shows ("42s", "3m05s", "2h07m").
local function eta_seconds(text)
  local eta = text:match("ETA ([%dhms]+)%s+failed %d+\27%[K$")
  assert.is_string(eta, text)
  local h, m = eta:match("^(%d+)h(%d+)m$")
  if h then return h * 3600 + m * 60 end
  local mm, ss = eta:match("^(%d+)m(%d+)s$")
  if mm then return mm * 60 + ss end
  return tonumber(eta:match("^(%d+)s$"))
end

describe("tessera.batch.progress", function()
  describe("the bar", function()
    it("estimates what is left by audio seconds: one long file still running is not 'ETA 0s'", function()
      -- 19 short loops done, and one input 100 times as long as each still running.
      local short = core.audio.info(SAMPLES .. "loop_amen.flac").duration
      local seconds = {}
      for i = 1, 19 do seconds["short" .. i .. ".flac"] = short end
      seconds["long.flac"] = 100 * short
      local summary = { total = 20, failed = 0 }
      local elapsed = 10
      local p = progress.new("bar", summary, core.util.now() - elapsed, seconds)
      p.log = capture()
      for i = 1, 19 do p:report { file = "short" .. i .. ".flac", status = "ok" } end
      assert.truthy(p.log.text:find("19/20", 1, true))
      -- 19 short files in 10 s: the long one needs about 100 / 19 * 10 s = 53 s more.
      local eta = eta_seconds(p.log.text)
      assert.is_true(eta >= 45 and eta <= 60, p.log.text)
      -- Its rate: audio seconds per second.
      local last = p.log.text:match("[^\r]*$")
      local rate = tonumber(last:match("([%d.]+) s of audio/s"))
      assert.near(19 * short / elapsed, rate, 0.15)
    end)

    it("takes the lengths from the inputs' headers, the unknown ones at the mean", function()
      local files = { "loop_amen.flac", "loop_garzul.flac", "loop_tabla.flac" }
      local seconds = {}
      for _, f in ipairs(files) do seconds[f] = core.audio.info(SAMPLES .. f).duration end
      local p = progress.new("bar", { total = 4, failed = 0 }, core.util.now(), seconds)
      local sum = seconds[files[1]] + seconds[files[2]] + seconds[files[3]]
      assert.near(sum + sum / 3, p.audio_total, 1e-9)
      assert.near(sum / 3, p:audio_of("unknown.wav"), 1e-9)
      -- A skipped input is done but not computed: it counts for what is left, not the rate.
      p.log = capture()
      p:report { file = files[2], status = "skipped" }
      assert.near(seconds[files[2]], p.audio_done, 1e-9)
      assert.equal(0, p.audio_computed)
      assert.truthy(p.log.text:find("ETA ?", 1, true))
    end)
  end)
end)
