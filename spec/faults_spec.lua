-- Faults, with nothing lost: a disk that fills up mid-write (a small tmpfs, or where
-- mounting is not allowed a write() shim failing with ENOSPC) and a SIGINT/SIGTERM that
-- arrives mid-write (a shim raising it after N bytes, so it lands at a known point) must
-- leave the previous file intact, no temporary behind, and a non-zero exit with a clear
-- message; cache entries are checked against their checksums, and two processes rendering
-- the same recipe at once leave one valid entry.
local helpers = require "helpers"
local tessera = require "tessera"
local cache = require "tessera.cache"

local q = helpers.shell_quote
local TESSERA = helpers.root .. "/bin/tessera"
local SAMPLES = helpers.samples

-- The writers, as a script bin/tessera runs: `tessera writer.lua KIND PATH`.
local WRITER = [[
local tessera = require "tessera"
local kind, path = ...
local function sine(frames)
  local a = tessera.audio.new(frames, 22050)
  return a:gain(0) -- zeros are enough: the size is what matters
end
if kind == "wav" then
  sine(22050 * 4):save(path)
elseif kind == "flac" then
  local a = tessera.audio.load("]] .. SAMPLES .. [[/loop_amen.flac")
  a:save(path)
elseif kind == "npy" then
  tessera.matrix.new(300, 300, 0.5):save(path)
elseif kind == "csv" then
  tessera.matrix.new(300, 300, 0.5):save(path)
elseif kind == "model" then
  local V = tessera.matrix.new(513, 4000, 1) -- H alone is 64 KB
  tessera.nmf(V, { k = 4, max_iter = 2, progress = false }):save(path)
elseif kind == "report" then
  local r = tessera.report.new(path, { title = "t" })
  r:paragraph(string.rep("lorem ipsum ", 30000))
  r:save()
end
]]

local function write_file(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local function is_dir(path)
  return os.execute("test -d " .. q(path)) == true
end

-- What a file (or each file of a folder) holds, to compare before and after.
local function snapshot(path)
  if not is_dir(path) then return { [""] = helpers.read_file(path) } end
  local names = helpers.listdir(path)
  local t = {}
  for _, n in ipairs(names) do t[n] = helpers.read_file(path .. "/" .. n) or "<folder>" end
  return t
end

describe("faults", function()
  local dir, shim, writer

  setup(function()
    dir = helpers.tmpdir()
    shim = dir .. "/faultshim.so"
    local out, ok = helpers.run("cc -shared -fPIC -O1 -o " .. q(shim) .. " " ..
      q(helpers.root .. "/spec/support/faultshim.c") .. " -ldl 2>&1")
    assert(ok, out)
    writer = dir .. "/writer.lua"
    write_file(writer, WRITER)
  end)
  teardown(function() helpers.rmtree(dir) end)

  -- A fresh folder to write into, on a `size` tmpfs when one can be mounted (root in a
  -- sandbox that allows it); returns the folder, whether it is a tmpfs, and a cleanup.
  local function small_disk(size)
    local d = helpers.tmpdir()
    local _, mounted = helpers.run("mount -t tmpfs -o size=" .. size .. " tmpfs " .. q(d) .. " 2>/dev/null")
    return d, mounted, function()
      if mounted then helpers.run("umount " .. q(d) .. " 2>/dev/null") end
      helpers.rmtree(d)
    end
  end

  -- Runs bin/tessera writer.lua kind path with extra environment; returns output, code.
  local function run_writer(env, kind, path)
    local out, _, code = helpers.run(env .. " " .. q(TESSERA) .. " " .. q(writer) .. " " ..
      kind .. " " .. q(path) .. " 2>&1")
    return out, code
  end

  local previous = {
    wav = function(p) tessera.audio.new(100, 22050):save(p) end,
    flac = function(p) tessera.audio.new(100, 22050):save(p) end,
    npy = function(p) tessera.matrix.new(2, 2, 7):save(p) end,
    csv = function(p) tessera.matrix.new(2, 2, 7):save(p) end,
    model = function(p) tessera.nmf(tessera.matrix.new(4, 4, 1), { k = 1, max_iter = 1, progress = false }):save(p) end,
    report = function(p) local r = tessera.report.new(p) r:paragraph("old") r:save() end,
  }
  local names = { wav = "out.wav", flac = "out.flac", npy = "m.npy", csv = "m.csv", model = "model",
                  report = "report" }
  local kinds = { "wav", "flac", "npy", "csv", "model", "report" }

  describe("a disk that fills up mid-write", function()
    for _, kind in ipairs(kinds) do
      it("leaves the previous " .. kind .. " intact and no temporary, and says so", function()
        local d, mounted, cleanup = small_disk("64k")
        finally(cleanup)
        local path = d .. "/" .. names[kind]
        previous[kind](path)
        local before_files, before = helpers.listdir(d), snapshot(path)
        -- the same limit through the shim where no tmpfs could be mounted
        local env = mounted and "" or "FAULT_ENOSPC=1 FAULT_AFTER=" .. (65536 - 4096) ..
          " LD_PRELOAD=" .. q(shim)
        local out, code = run_writer(env, kind, path)
        assert.equal(1, code, out)
        assert.matches("^tessera: .*No space left on device\n$", out)
        assert.same(before, snapshot(path))
        assert.same(before_files, helpers.listdir(d))
        if is_dir(path) then
          for _, n in ipairs(helpers.listdir(path)) do assert.is_nil(n:find("tmp", 1, true), n) end
        end
      end)
    end

    it("fails a mosaic render whose output or cache is on the full disk, leaving neither behind", function()
      local d, mounted, cleanup = small_disk("64k")
      finally(cleanup)
      local recipe = dir .. "/r.lua"
      write_file(recipe, [[return { duration = 2, sources = { a = { file = "]] .. SAMPLES ..
        [[/loop_amen.flac", duration = 2, k = 2, max_iter = 5 } }, layers = { { W = "a" } } }]])
      local out_path = d .. "/mix.wav"
      previous.wav(out_path)
      local before = snapshot(out_path)
      local env = mounted and "" or "FAULT_ENOSPC=1 FAULT_AFTER=61440 LD_PRELOAD=" .. q(shim)
      -- the cache on the full disk
      local out, _, code = helpers.run(env .. " " .. q(TESSERA) .. " mosaic --cache-dir " ..
        q(d .. "/cache") .. " -o " .. q(out_path) .. " " .. q(recipe) .. " 2>&1")
      assert.equal(1, code)
      assert.matches("^tessera: .*No space left on device\n$", out)
      assert.same(before, snapshot(out_path))
      -- The cache is a warning now (issue 15): what it holds is whole entries, no temporary.
      for _, name in ipairs(helpers.listdir(d .. "/cache")) do
        assert.is_nil(name:find("tmp", 1, true), name)
        assert.is_true(helpers.exists(d .. "/cache/" .. name .. "/manifest.json"), name)
      end
      -- the output on the full disk (the cache elsewhere)
      out, _, code = helpers.run(env .. " " .. q(TESSERA) .. " mosaic --cache-dir " ..
        q(dir .. "/cache") .. " -o " .. q(out_path) .. " " .. q(recipe) .. " 2>&1")
      assert.equal(1, code)
      assert.matches("^tessera: tessera%.mosaic: .*cannot write the output: .*No space left on device\n$", out)
      assert.same(before, snapshot(out_path))
      assert.same({ "cache", "mix.wav" }, helpers.listdir(d))
    end)
  end)

  describe("a signal mid-write", function()
    for _, sig in ipairs { { "SIGINT", 2 }, { "SIGTERM", 15 } } do
      for _, kind in ipairs(kinds) do
        it(sig[1] .. " leaves the previous " .. kind .. " intact and no temporary", function()
          local d = helpers.tmpdir()
          finally(function() helpers.rmtree(d) end)
          local path = d .. "/" .. names[kind]
          previous[kind](path)
          local before_files, before = helpers.listdir(d), snapshot(path)
          local out, code = run_writer("FAULT_SIGNAL=" .. sig[2] .. " FAULT_AFTER=20000 LD_PRELOAD=" ..
            q(shim), kind, path)
          assert.equal(1, code, out)
          assert.matches("^tessera: .*interrupted!?\n$", out)
          assert.same(before, snapshot(path))
          assert.same(before_files, helpers.listdir(d))
        end)
      end
    end

    it("SIGTERM while a render stores its cache entry and output leaves neither half-done", function()
      local d = helpers.tmpdir()
      finally(function() helpers.rmtree(d) end)
      local recipe = d .. "/r.lua"
      write_file(recipe, [[return { duration = 2, sources = { a = { file = "]] .. SAMPLES ..
        [[/loop_amen.flac", duration = 2, k = 2, max_iter = 5 } }, layers = { { W = "a" } } }]])
      local out_path = d .. "/mix.wav"
      previous.wav(out_path)
      local before = snapshot(out_path)
      for _, after in ipairs { 1000, 50000, 120000, 200000 } do
        local out, _, code = helpers.run("FAULT_SIGNAL=15 FAULT_AFTER=" .. after .. " LD_PRELOAD=" ..
          q(shim) .. " " .. q(TESSERA) .. " mosaic --cache-dir " .. q(d .. "/cache") .. " -o " ..
          q(out_path) .. " " .. q(recipe) .. " 2>&1")
        assert.equal(1, code, out)
        assert.matches("interrupted", out)
        assert.same(before, snapshot(out_path))
        for _, n in ipairs(helpers.listdir(d)) do assert.is_nil(n:find("tmp", 1, true), n) end
        for _, n in ipairs(helpers.listdir(d .. "/cache")) do assert.is_nil(n:find("tmp", 1, true), n) end
      end
      -- and the cache holds only valid entries: a plain render now works and agrees
      local out, ok = helpers.run(q(TESSERA) .. " mosaic --cache-dir " .. q(d .. "/cache") .. " -o " ..
        q(out_path) .. " " .. q(recipe) .. " 2>&1")
      assert.is_true(ok, out)
      assert.is_nil(out:find("corrupt", 1, true))
    end)
  end)

  describe("bin/tessera live", function()
    it("survives runtime errors, an endless loop and a memory bomb, and renders again after", function()
      local d = helpers.tmpdir()
      finally(function() helpers.rmtree(d) end)
      local recipe, log, out_path = d .. "/r.lua", d .. "/live.log", d .. "/out.wav"
      local function recipe_with(body, peak)
        write_file(recipe, body .. "\nreturn { duration = 1.5, normalize = " .. peak .. ", sources = { a = " ..
          "{ file = '" .. SAMPLES .. "/loop_amen.flac', duration = 1.5, k = 2, max_iter = 5 } }, " ..
          "layers = { { W = 'a' } } }\n")
      end
      -- waits (at most 60 s) until the log has n render lines; returns the log
      local function renders(n)
        for _ = 1, 600 do
          local text = helpers.read_file(log) or ""
          local count = select(2, text:gsub("\n#%d+ ", "")) + (text:match("^#%d+ ") and 1 or 0)
          if count >= n then return text end
          helpers.run("sleep 0.1")
        end
        error("live did not render " .. n .. " times: " .. tostring(helpers.read_file(log)))
      end
      recipe_with("", 0.9)
      local pid = helpers.run("TESSERA_RECIPE_INSTRUCTIONS=2000000 TESSERA_RECIPE_MEMORY=32M " ..
        q(TESSERA) .. " live --cache-dir " .. q(d .. "/cache") .. " -o " .. q(out_path) .. " " ..
        q(recipe) .. " > " .. q(log) .. " 2>&1 & echo $!"):match("%d+")
      finally(function() helpers.run("kill -INT " .. pid .. " 2>/dev/null") end)
      renders(1)
      local good = helpers.read_file(out_path)
      assert.is_truthy(good)
      local steps = {
        { "error('on purpose')", "on purpose" },
        { "while true do end", "the recipe exceeded its CPU budget %(2000000 instructions%)" },
        { "local t = {} while true do t[#t + 1] = ('x'):rep(1e6) .. #t end",
          "the recipe exceeded its memory budget" },
        { "local x = nil + 1", "attempt to perform arithmetic on a nil value" },
      }
      for i, step in ipairs(steps) do
        helpers.run("sleep 0.2")
        recipe_with(step[1], 1)
        local text = renders(i + 1)
        assert.matches("#" .. (i + 1) .. " [^\n]*" .. step[2], text)
        assert.equal(good, helpers.read_file(out_path)) -- the last good output stays
      end
      helpers.run("sleep 0.2")
      recipe_with("", 0.5)
      local text = renders(#steps + 2)
      assert.matches("#" .. (#steps + 2) .. " [^\n]*wrote ", text)
      assert.near(0.5, tessera.audio.load(out_path):peak(), 1e-3) -- the new render, at its new peak
      assert.same({ "cache", "live.log", "out.wav", "r.lua" }, helpers.listdir(d))
    end)
  end)

  describe("the cache", function()
    local recipe_text = [[return { duration = 1.5, sources = { a = { file = "]] .. SAMPLES ..
      [[/loop_amen.flac", duration = 1.5, k = 2, max_iter = 10 } }, layers = { { W = "a" } } }]]

    it("detects a truncated or altered entry, reports it once and recomputes it", function()
      local d = helpers.tmpdir()
      finally(function() helpers.rmtree(d) end)
      local recipe = d .. "/r.lua"
      write_file(recipe, recipe_text)
      local first = tessera.mosaic.render(recipe, { cache_dir = d .. "/cache", write = false })
      for _, damage in ipairs { "truncate", "alter" } do
        for _, entry in ipairs(helpers.listdir(d .. "/cache")) do
          local f = d .. "/cache/" .. entry .. "/" .. (helpers.exists(d .. "/cache/" .. entry .. "/W.npy")
            and "W.npy" or "audio.wav")
          local data = helpers.read_file(f)
          if damage == "truncate" then
            write_file(f, data:sub(1, #data // 2))
          else
            write_file(f, data:sub(1, -2) .. string.char((data:byte(-1) + 1) % 256))
          end
        end
        local out, ok = helpers.run(q(TESSERA) .. " mosaic --cache-dir " .. q(d .. "/cache") ..
          " -o " .. q(d .. "/o.wav") .. " " .. q(recipe) .. " 2>&1")
        assert.is_true(ok, out)
        local reports = select(2, out:gsub("is corrupt", ""))
        assert.equal(#helpers.listdir(d .. "/cache"), reports) -- once per damaged entry
        -- recomputed: the render is what it was, and the next run hits the cache cleanly
        local again = tessera.audio.load(d .. "/o.wav", { mono = false })
        assert.equal(#first, #again)
        out = helpers.run(q(TESSERA) .. " mosaic --cache-dir " .. q(d .. "/cache") .. " -o " ..
          q(d .. "/o.wav") .. " " .. q(recipe) .. " 2>&1")
        assert.is_nil(out:find("corrupt", 1, true))
      end
    end)

    it("survives two processes rendering the same recipe at once", function()
      local d = helpers.tmpdir()
      finally(function() helpers.rmtree(d) end)
      local recipe = d .. "/r.lua"
      write_file(recipe, recipe_text)
      local cmd = q(TESSERA) .. " mosaic --cache-dir " .. q(d .. "/cache") .. " -o %s " .. q(recipe)
      local function job(name)
        return "(" .. cmd:format(q(d .. "/" .. name .. ".wav")) .. " > " .. q(d .. "/" .. name .. ".log") ..
          " 2>&1; echo $? > " .. q(d .. "/" .. name .. ".rc") .. ")"
      end
      local out, ok = helpers.run(job("a") .. " & " .. job("b") .. "; wait")
      assert.is_true(ok, out)
      assert.equal("0\n", helpers.read_file(d .. "/a.rc"), helpers.read_file(d .. "/a.log"))
      assert.equal("0\n", helpers.read_file(d .. "/b.rc"), helpers.read_file(d .. "/b.log"))
      assert.equal(helpers.read_file(d .. "/a.wav"), helpers.read_file(d .. "/b.wav"))
      -- every entry valid, no temporary left, and a third render is all hits
      for _, n in ipairs(helpers.listdir(d .. "/cache")) do assert.is_nil(n:find("tmp", 1, true), n) end
      cache.reset_stats()
      local _, summary = tessera.mosaic.render(recipe, { cache_dir = d .. "/cache", write = false })
      assert.equal(0, summary.cache.corrupt)
      assert.equal(0, summary.cache.misses)
    end)
  end)
end)
