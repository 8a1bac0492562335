-- Fixtures of the tessera.batch specs (spec/batch/): the host, files written and copied, the
-- command line run, folders of loops and of bad files, and rows compared without timings.
local batch = require "tessera.batch"
local helpers = require "helpers"
local tessera = require "tessera"
local uv = require "luv"

local q = helpers.shell_quote
local SAMPLES = helpers.samples

-- The host that runs this spec when it is bin/tessera (or its sanitized build: the workers
-- then run sanitized too), else the built bin/tessera.
local HOST = package.preload["tessera.host"] and uv.exepath()
  or assert(uv.fs_realpath(helpers.root .. "/bin/tessera"))

local function spit(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

-- Runs the host with arguments (a shell fragment); returns stdout, stderr, exit status.
local function tessera_cli(args, prefix)
  local errfile = os.tmpname()
  local p = assert(io.popen(string.format("%s%s %s </dev/null 2>%s", prefix or "", q(HOST),
    args, q(errfile))))
  local out = p:read("a")
  local _, _, code = p:close()
  local err = helpers.read_file(errfile)
  os.remove(errfile)
  return out, err, code
end

local function copy(from, to)
  spit(to, assert(helpers.read_file(from)))
end

-- rows by file, and a table's rows without the timing column (for comparisons).
local function by_file(rows)
  local t = {}
  for _, r in ipairs(rows) do t[r.file] = r end
  return t
end

local function without_timings(rows)
  local out = {}
  for i, r in ipairs(rows) do
    out[i] = {}
    for _, c in ipairs(batch.COLUMNS) do
      if c ~= "seconds" then out[i][c] = r[c] end
    end
  end
  return out
end

-- A folder of three short loops in two sub-folders, plus a README that is not audio and a
-- hidden file.
local function loops_folder(dir)
  assert(os.execute("mkdir -p " .. q(dir .. "/drums") .. " " .. q(dir .. "/other")))
  copy(SAMPLES .. "/loop_amen.flac", dir .. "/drums/amen.flac")
  copy(SAMPLES .. "/loop_breakbeat.flac", dir .. "/drums/breakbeat.flac")
  copy(SAMPLES .. "/loop_industrial.flac", dir .. "/other/industrial.flac")
  spit(dir .. "/README.txt", "not audio\n")
  spit(dir .. "/.hidden.wav", "not even audio\n")
end

-- The bad files: bytes that are no audio, an empty file, silence, and 120 s of amen whose
-- samples and magnitude (10.6 + 21 MB) are over a 12 MB memory cap (the whole worker).
local function bad_files(dir)
  assert(os.execute("mkdir -p " .. q(dir .. "/bad")))
  spit(dir .. "/bad/corrupt.wav", "RIFF\0\0\0\0WAVEjunk" .. string.rep("\1\2\3", 300))
  spit(dir .. "/bad/empty.wav", "")
  tessera.audio.new(11025, 22050):save(dir .. "/bad/silent.wav")
  local amen = tessera.audio.load(SAMPLES .. "/loop_amen.flac", { sr = 22050, mono = true })
  amen:tile(120 * 22050):save(dir .. "/bad/long.wav")
end

local FAST = "--iter 10 --threads 1 --progress lines"
local LOOPS = { "drums/amen.flac", "drums/breakbeat.flac", "other/industrial.flac" }

return {
  q = q,
  SAMPLES = SAMPLES,
  HOST = HOST,
  spit = spit,
  tessera_cli = tessera_cli,
  copy = copy,
  by_file = by_file,
  without_timings = without_timings,
  loops_folder = loops_folder,
  bad_files = bad_files,
  FAST = FAST,
  LOOPS = LOOPS,
}
