-- Specs for the host bin/tessera (run as a child process: scripts, -e, stdin, the REPL,
-- Ctrl-C, errors, exit status, package.path) and for tessera.cli (the command registry,
-- help, version, info). The binary is found from this file's path, so any cwd works.
local cjson = require "cjson"
local tessera = require "tessera"
local cli = require "tessera.cli"

local source = debug.getinfo(1, "S").source:sub(2)
local function absolute_dir(path)
  local dir = path:match("^(.*)/[^/]*$") or "."
  local p = assert(io.popen("cd '" .. dir .. "' && pwd -P"))
  local abs = p:read("l")
  p:close()
  return abs
end
local ROOT = absolute_dir(source):gsub("/spec$", "")
local BIN = ROOT .. "/bin/tessera"
local AMEN = "/usr/share/sonic-pi/samples/loop_amen.flac"

local function q(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function spit(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

-- Environment variables the host reads, cleared so the caller's shell cannot change
-- what a spec sees; `env` adds what a spec sets on purpose.
local CLEAN = "env -u TESSERA_DEBUG -u TESSERA_LUA_PATH -u LUA_INIT -u LUA_INIT_5_4 "
  .. "-u LUA_PATH -u LUA_PATH_5_4 -u LUA_CPATH -u LUA_CPATH_5_4 "

-- Runs a shell command line; returns stdout, stderr and the exit status.
local function sh(cmdline, stdin)
  local errfile = os.tmpname()
  local infile
  if stdin then
    infile = os.tmpname()
    spit(infile, stdin)
    cmdline = cmdline .. " <" .. infile
  else
    cmdline = cmdline .. " </dev/null"
  end
  local p = assert(io.popen(cmdline .. " 2>" .. errfile, "r"))
  local out = p:read("a")
  local _, _, code = p:close()
  local err = slurp(errfile)
  os.remove(errfile)
  if infile then os.remove(infile) end
  return out, err, code
end

-- Runs bin/tessera with the given (unquoted) arguments.
local function tessera_run(args, opts)
  opts = opts or {}
  local words = {}
  for i, a in ipairs(args) do words[i] = q(a) end
  return sh(CLEAN .. (opts.env or "") .. " " .. q(opts.bin or BIN) .. " " .. table.concat(words, " "),
    opts.stdin)
end

describe("bin/tessera", function()
  local tmpdir

  before_each(function()
    local p = assert(io.popen("mktemp -d"))
    tmpdir = p:read("l")
    p:close()
  end)

  after_each(function()
    os.execute("rm -rf " .. q(tmpdir))
  end)

  describe("SCRIPT.lua [ARGS...]", function()
    it("sets arg and ... exactly as the stock lua5.4 does", function()
      local script = tmpdir .. "/args.lua"
      spit(script, [[
local lo = -1
while arg[lo - 1] ~= nil do lo = lo - 1 end
for i = lo + 1, #arg do io.write(i, "=", arg[i], "\n") end
io.write("n=", select("#", ...), "\n")
for i = 1, select("#", ...) do io.write("...", i, "=", (select(i, ...)), "\n") end
]])
      local args = { script, "one", "two words", "", "--debug", "-e" }
      local out, err, code = tessera_run(args)
      local words = {}
      for i, a in ipairs(args) do words[i] = q(a) end
      local ref = sh("lua5.4 " .. table.concat(words, " "))
      assert.equal("", err)
      assert.equal(0, code)
      assert.equal(ref, out)
      assert.truthy(out:find("0=" .. script .. "\n", 1, true))
      assert.truthy(out:find("n=5\n...1=one\n...2=two words\n...3=\n...4=--debug\n...5=-e\n", 1, true))
    end)

    it("puts the executable at arg[-1] and the options before the script below it", function()
      local script = tmpdir .. "/neg.lua"
      spit(script, "print(arg[-2], arg[-1], arg[0], arg[1])")
      local out, err, code = tessera_run({ "--debug", script, "x" })
      assert.equal("", err)
      assert.equal(0, code)
      assert.equal(BIN .. "\t--debug\t" .. script .. "\tx\n", out)
    end)

    it("skips a #! first line, as busted's entry script has", function()
      local script = tmpdir .. "/shebang.lua"
      spit(script, "#!/usr/bin/env lua\nprint('ran')\n")
      local out, _, code = tessera_run({ script })
      assert.equal("ran\n", out)
      assert.equal(0, code)
    end)

    it("exits with the status given to os.exit", function()
      local script = tmpdir .. "/exit.lua"
      spit(script, "io.write('bye\\n') os.exit(7)")
      local out, err, code = tessera_run({ script })
      assert.equal("bye\n", out)
      assert.equal("", err)
      assert.equal(7, code)
      local _, _, code2 = tessera_run({ "-e", "os.exit(true)" })
      assert.equal(0, code2)
      local _, _, code3 = tessera_run({ "-e", "os.exit(false, true)" })
      assert.equal(1, code3)
    end)

    it("runs busted's entry script like lua5.4 does, with its exit status", function()
      local body = "describe('x', function() it('%s', function() assert.equal(%d, 1 + 1) end) end)"
      spit(tmpdir .. "/pass_spec.lua", body:format("passes", 2))
      spit(tmpdir .. "/fail_spec.lua", body:format("fails", 3))
      local busted = "cd " .. q(tmpdir) .. " && " .. CLEAN .. q(BIN) .. " /usr/bin/busted -o TAP "
      local out, _, code = sh(busted .. "pass_spec.lua")
      assert.equal(0, code)
      assert.truthy(out:find("ok 1 - x passes", 1, true))
      local out2, _, code2 = sh(busted .. "fail_spec.lua")
      assert.equal(1, code2)
      assert.truthy(out2:find("not ok 1 - x fails", 1, true))
    end)

    it("runs an existing file named like a command as a script, and anything after --", function()
      spit(tmpdir .. "/help", "print('the file named help', ...)")
      local out, _, code = sh("cd " .. q(tmpdir) .. " && " .. CLEAN .. q(BIN) .. " help x")
      assert.equal("the file named help\tx\n", out)
      assert.equal(0, code)
      local err
      out, err, code = sh("cd / && " .. CLEAN .. q(BIN) .. " -- version")
      assert.equal("", out)
      assert.equal("tessera: cannot open version: No such file or directory\n", err)
      assert.equal(1, code)
    end)

    it("reports a file that does not exist", function()
      local out, err, code = tessera_run({ tmpdir .. "/missing.lua" })
      assert.equal("", out)
      assert.equal("tessera: cannot open " .. tmpdir .. "/missing.lua: No such file or directory\n", err)
      assert.equal(1, code)
    end)

    it("reports a syntax error with the file and line", function()
      local script = tmpdir .. "/bad.lua"
      spit(script, "local x = 1\nx = = 2\n")
      local _, err, code = tessera_run({ script })
      assert.equal("tessera: " .. script .. ":2: unexpected symbol near '='\n", err)
      assert.equal(1, code)
    end)
  end)

  describe("-e CODE", function()
    it("runs several chunks in order, then the script", function()
      local script = tmpdir .. "/after.lua"
      spit(script, "print('script', x, ...)")
      local out, err, code = tessera_run({ "-e", "x = 1", "-e", "x = x + 1 print('e', x)", script, "a" })
      assert.equal("", err)
      assert.equal(0, code)
      assert.equal("e\t2\nscript\t2\ta\n", out)
    end)

    it("accepts the code glued to the option, and sets arg[0] to the executable", function()
      local out, _, code = tessera_run({ "-eprint(arg[0], #arg, ...)" })
      assert.equal(BIN .. "\t1\n", out)
      assert.equal(0, code)
    end)

    it("requires a library into a global with -l", function()
      local out, _, code = tessera_run({ "-l", "cjson", "-e", "print(cjson.encode({1, 2}))" })
      assert.equal("[1,2]\n", out)
      assert.equal(0, code)
    end)

    it("stops at the first failing chunk", function()
      local out, err, code = tessera_run({ "-e", "print(1)", "-e", "error('two')", "-e", "print(3)" })
      assert.equal("1\n", out)
      assert.equal("tessera: (command line):1: two\n", err)
      assert.equal(1, code)
    end)
  end)

  describe("stdin", function()
    it("runs '-' as a script with its arguments", function()
      local out, err, code = tessera_run({ "-", "a", "b" }, { stdin = "print(arg[0], ...)\n" })
      assert.equal("", err)
      assert.equal(0, code)
      assert.equal("-\ta\tb\n", out)
    end)

    it("runs piped stdin when there are no arguments", function()
      local out, _, code = tessera_run({}, { stdin = "print(6 * 7)\n" })
      assert.equal("42\n", out)
      assert.equal(0, code)
    end)
  end)

  describe("-i (REPL)", function()
    local banner = "tessera " .. tessera.version .. " (Lua 5.4"

    it("prints expressions, reads multi-line chunks, and survives errors", function()
      local input = table.concat({
        "1 + 2",
        "x = 5",
        "function f(a)",
        "  return a * x",
        "end",
        "f(3)",
        "error('oops')",
        "nil + 1",
        "'still', 'here'",
        "=x",
        "",
      }, "\n")
      local out, err, code = tessera_run({ "-i" }, { stdin = input })
      assert.equal(0, code)
      assert.equal(banner, out:sub(1, #banner))
      local session = out:match("^[^\n]*\n(.*)$")
      -- Prompts have no newline of their own: "> " per line, ">> " per continuation.
      assert.equal("> 3\n> > >> >> > 15\n> > > still\there\n> 5\n> \n", session)
      assert.equal("stdin:1: oops\nstdin:1: attempt to perform arithmetic on a nil value\n", err)
    end)

    it("starts with tessera loaded as the globals tessera and t, unless already set", function()
      local out, err, code = tessera_run({ "-i" }, { stdin = "t.version\ntessera == t\n"
        .. "t.audio.info('" .. AMEN .. "').format\n" })
      assert.equal(0, code)
      assert.equal("", err)
      assert.equal("> " .. tessera.version .. "\n> true\n> FLAC\n> \n", out:match("^[^\n]*\n(.*)$"))
      out, err, code = tessera_run({ "-e", "t = 'mine'", "-i" }, { stdin = "t\ntessera.version\n" })
      assert.equal(0, code)
      assert.equal("", err)
      assert.truthy(out:find("> mine\n> " .. tessera.version .. "\n", 1, true), out)
    end)

    it("runs -e chunks first and uses _PROMPT", function()
      local out, _, code = tessera_run({ "-e", "_PROMPT = 'tsr> '", "-i" }, { stdin = "y = 1\ny\n" })
      assert.equal(0, code)
      assert.truthy(out:find("tsr> tsr> 1\ntsr> \n", 1, true))
    end)

    it("survives a Ctrl-C that interrupts running code", function()
      -- The chunk sends SIGINT to its own process and then loops: the handler's hook
      -- must stop the loop with "interrupted!" and the REPL must read the next line.
      local input = table.concat({
        "pid = io.open('/proc/self/stat'):read('n')",
        "io.popen('kill -INT ' .. pid):close() while true do end",
        "'alive'",
        "",
      }, "\n")
      local out, err, code = tessera_run({ "-i" }, { stdin = input })
      assert.equal(0, code)
      assert.equal("stdin:1: interrupted!\n", err)
      assert.truthy(out:find("> > > alive\n> \n", 1, true))
    end)
  end)

  describe("Ctrl-C", function()
    it("stops a running script with an 'interrupted!' error and status 1", function()
      local out, err, code = tessera_run({ "-e",
        "print('looping') local pid = io.open('/proc/self/stat'):read('n') "
          .. "io.popen('kill -INT ' .. pid):close() while true do end" })
      assert.equal("looping\n", out)
      assert.equal("tessera: (command line):1: interrupted!\n", err)
      assert.equal(1, code)
    end)
  end)

  describe("errors", function()
    it("prints one line 'tessera: <message>' and exits with status 1", function()
      local out, err, code = tessera_run({ "-e", "error('boom')" })
      assert.equal("", out)
      assert.equal("tessera: (command line):1: boom\n", err)
      assert.equal(1, code)
    end)

    it("describes error objects that are not strings", function()
      local _, err, code = tessera_run({ "-e", "error({})" })
      assert.equal("tessera: (error object is a table value)\n", err)
      assert.equal(1, code)
      _, err = tessera_run({ "-e", "error()" })
      assert.equal("tessera: (error object is a nil value)\n", err)
      _, err = tessera_run({ "-e", "error(42)" })
      assert.equal("tessera: 42\n", err)
      _, err = tessera_run({ "-e",
        "error(setmetatable({}, {__tostring = function() return 'custom object' end}))" })
      assert.equal("tessera: custom object\n", err)
    end)

    it("adds the traceback with --debug or TESSERA_DEBUG=1, not with TESSERA_DEBUG=0", function()
      local script = tmpdir .. "/deep.lua"
      spit(script, "local function inner() error('deep') end\nlocal function outer() inner() end\nouter()\n")
      local first = "tessera: " .. script .. ":1: deep\n"
      for _, case in ipairs({ { { "--debug", script } }, { { script }, "TESSERA_DEBUG=1" } }) do
        local _, err, code = tessera_run(case[1], { env = case[2] })
        assert.equal(1, code)
        assert.equal(first .. "stack traceback:\n", err:sub(1, #first + 17))
        assert.truthy(err:find("in upvalue 'inner'", 1, true) or err:find("in local 'inner'", 1, true))
        assert.truthy(err:find(script .. ":3: in main chunk", 1, true))
      end
      local _, err = tessera_run({ script }, { env = "TESSERA_DEBUG=0" })
      assert.equal(first, err)
    end)

    it("rejects unknown options and an option missing its argument", function()
      local out, err, code = tessera_run({ "-x" })
      assert.equal("", out)
      assert.equal("tessera: unrecognized option '-x' (try 'tessera help')\n", err)
      assert.equal(1, code)
      out, err, code = tessera_run({ "-e" })
      assert.equal("", out)
      assert.equal("tessera: '-e' needs an argument (try 'tessera help')\n", err)
      assert.equal(1, code)
    end)
  end)

  describe("LUA_INIT", function()
    it("runs LUA_INIT before the script, and a file given as @path", function()
      local out = tessera_run({ "-e", "print(greeting)" }, { env = "LUA_INIT='greeting = 1'" })
      assert.equal("1\n", out)
      local init = tmpdir .. "/init.lua"
      spit(init, "greeting = 'from file'")
      out = tessera_run({ "-e", "print(greeting)" }, { env = "LUA_INIT=@" .. q(init) })
      assert.equal("from file\n", out)
    end)
  end)

  describe("require 'tessera'", function()
    it("finds the library beside the executable from any directory, without LUA_PATH", function()
      local out, err, code = sh("cd /tmp && " .. CLEAN .. q(BIN)
        .. " -e " .. q("print(require('tessera').version, package.searchpath('tessera', package.path))"))
      assert.equal("", err)
      assert.equal(0, code)
      assert.equal(tessera.version .. "\t" .. ROOT .. "/lua/tessera/init.lua\n", out)
    end)

    it("resolves a symlink to the executable", function()
      assert.is_true(os.execute("ln -s " .. q(BIN) .. " " .. q(tmpdir .. "/tsr")))
      local out, _, code = sh("cd / && " .. CLEAN .. q(tmpdir .. "/tsr")
        .. " -e " .. q("print(package.searchpath('tessera.cli', package.path))"))
      assert.equal(0, code)
      assert.equal(ROOT .. "/lua/tessera/cli.lua\n", out)
    end)

    it("puts TESSERA_LUA_PATH in front instead", function()
      spit(tmpdir .. "/tessera_probe.lua", "return 'probe found'")
      local code_text = string.format("print(require('tessera_probe'), package.path:find(%q, 1, true))",
        ROOT)
      local out, _, code = tessera_run({ "-e", code_text },
        { env = "TESSERA_LUA_PATH=" .. q(tmpdir .. "/?.lua") })
      assert.equal(0, code)
      assert.equal("probe found\tnil\n", out)
    end)
  end)

  describe("--version", function()
    it("prints tessera's and Lua's versions, as the version command does", function()
      local out, err, code = tessera_run({ "--version" })
      assert.equal("", err)
      assert.equal(0, code)
      assert.equal("tessera " .. tessera.version .. " (Lua 5.4.", out:sub(1, #tessera.version + 18))
      assert.truthy(out:match("^tessera %d+%.%d+%.%d+ %(Lua 5%.4%.%d+%)\n$"))
      assert.equal(out, (tessera_run({ "-v" })))
      assert.equal(out, (tessera_run({ "version" })))
    end)
  end)

  describe("help", function()
    it("lists every registered command with its one-line help", function()
      local out, err, code = tessera_run({ "help" })
      assert.equal("", err)
      assert.equal(0, code)
      local names = {}
      for _, command in ipairs(cli.commands()) do
        names[#names + 1] = command.name
        assert.truthy(out:match("\n  " .. command.name:gsub("%-", "%%-") .. " +"
          .. command.help:gsub("%p", "%%%0") .. "\n"), command.name)
      end
      -- help and version first, then every command module, in cli.modules' order
      local expected = { "help", "version" }
      for _, module in ipairs(cli.modules) do expected[#expected + 1] = (module:gsub("_", "-")) end
      assert.same(expected, names)
      assert.equal("info", names[3])
      assert.equal(out, (tessera_run({ "--help" })))
      assert.equal(out, (tessera_run({ "-h" })))
    end)

    it("shows a command's arguments and options", function()
      local out, _, code = tessera_run({ "help", "info" })
      assert.equal(0, code)
      assert.truthy(out:find("Usage: tessera info [-h] [--json] <files> [<files>] ...", 1, true))
      assert.truthy(out:find("--json", 1, true))
      assert.equal(out, (tessera_run({ "info", "--help" })))
    end)

    it("names an unknown command", function()
      local out, err, code = tessera_run({ "help", "nope" })
      assert.equal("", out)
      assert.equal("tessera: unknown command 'nope' (try 'tessera help')\n", err)
      assert.equal(1, code)
    end)
  end)

  describe("unknown commands", function()
    it("are an error naming them and suggesting tessera help", function()
      local out, err, code = tessera_run({ "frobnicate", "x" })
      assert.equal("", out)
      assert.equal("tessera: unknown command 'frobnicate' (try 'tessera help')\n", err)
      assert.equal(1, code)
    end)
  end)

  describe("info FILE", function()
    it("prints the numbers tessera.audio.load gives for a real loop, as JSON", function()
      local out, err, code = tessera_run({ "info", "--json", AMEN })
      assert.equal("", err)
      assert.equal(0, code)
      local list = cjson.decode(out)
      assert.equal(1, #list) -- an array even for one file
      local info = list[1]
      local a = tessera.audio.load(AMEN, { mono = false })
      assert.equal(AMEN, info.file)
      assert.equal("FLAC", info.format)
      assert.equal("PCM_16", info.subtype)
      assert.equal(16, info.bits)
      assert.equal(44100, info.sr)
      assert.equal(a.sr, info.sr)
      assert.equal(2, info.channels)
      assert.equal(#a, info.frames)
      assert.near(#a / a.sr, info.duration, 1e-12)
      assert.near(a:peak(), info.peak, 1e-12)
      assert.near(a:rms(), info.rms, 1e-12)
      assert.is_true(info.peak > 0.5 and info.peak <= 1)
      assert.is_true(info.rms > 0.01 and info.rms < info.peak)
    end)

    it("takes several files, with their format and bit depth, and reports a bad one", function()
      local a = tessera.audio.load(AMEN, { mono = false })
      local wav24, flt, bad = tmpdir .. "/a24.wav", tmpdir .. "/afloat.wav", tmpdir .. "/bad.wav"
      a:save(wav24, { subtype = "pcm24" })
      a:save(flt, { subtype = "float" })
      spit(bad, "RIFF....WAVEnot audio at all")
      local out, err, code = tessera_run({ "info", "--json", AMEN, wav24, bad, flt })
      assert.equal(1, code)
      local list = cjson.decode(out)
      assert.equal(4, #list)
      assert.same({ AMEN, wav24, bad, flt }, { list[1].file, list[2].file, list[3].file, list[4].file })
      assert.same({ "FLAC", "PCM_16", 16 }, { list[1].format, list[1].subtype, list[1].bits })
      assert.same({ "WAV", "PCM_24", 24 }, { list[2].format, list[2].subtype, list[2].bits })
      assert.same({ "WAV", "FLOAT", 32 }, { list[4].format, list[4].subtype, list[4].bits })
      for _, i in ipairs { 2, 4 } do
        assert.equal(#a, list[i].frames)
        assert.equal(44100, list[i].sr)
        assert.near(a:peak(), list[i].peak, 1e-4)
      end
      assert.matches("^tessera%.audio%.load: cannot decode '" .. bad:gsub("%p", "%%%0"), list[3].error)
      assert.is_nil(list[3].sr)
      assert.equal("tessera: " .. list[3].error .. "\n", err)

      out, err, code = tessera_run({ "info", wav24, flt })
      assert.equal(0, code)
      assert.equal("", err)
      assert.truthy(out:find(wav24 .. "\n  format       WAV, PCM_24, 24 bit\n  sample rate  44100 Hz\n", 1, true))
      assert.truthy(out:find("\n\n" .. flt .. "\n  format       WAV, FLOAT, 32 bit\n", 1, true))
    end)

    it("prints the same numbers as text", function()
      local out, _, code = tessera_run({ "info", AMEN })
      assert.equal(0, code)
      local a = tessera.audio.load(AMEN, { mono = false })
      assert.truthy(out:find("sample rate  44100 Hz\n", 1, true))
      assert.truthy(out:find("channels     2\n", 1, true))
      assert.truthy(out:find(string.format("frames       %d\n", #a), 1, true))
      assert.truthy(out:find(string.format("peak         %.6f (%.2f dBFS)\n", a:peak(),
        20 * math.log(a:peak(), 10)), 1, true))
      assert.truthy(out:find(string.format("rms          %.6f", a:rms()), 1, true))
    end)

    it("reports a missing file in one line, without a Lua position", function()
      local out, err, code = tessera_run({ "info", tmpdir .. "/none.wav" })
      assert.equal("", out)
      assert.equal("tessera: tessera.audio.load: cannot open '" .. tmpdir
        .. "/none.wav': No such file or directory\n", err)
      assert.equal(1, code)
      local _, derr = tessera_run({ "--debug", "info", tmpdir .. "/none.wav" })
      assert.truthy(derr:find("^tessera: [^\n]*cmd/info%.lua:%d+: tessera%.audio%.load: cannot open"))
      assert.truthy(derr:find("\nstack traceback:\n", 1, true))
    end)

    it("reports a missing argument and an unknown option", function()
      local _, err, code = tessera_run({ "info" })
      assert.equal("tessera: info: missing argument 'files' (try 'tessera help info')\n", err)
      assert.equal(1, code)
      _, err, code = tessera_run({ "info", "--loud", AMEN })
      assert.equal("tessera: info: unknown option '--loud' (try 'tessera help info')\n", err)
      assert.equal(1, code)
    end)
  end)
end)

describe("tessera.cli", function()
  describe("register()", function()
    it("adds a command that main() parses and runs", function()
      cli.register {
        name = "spec-echo",
        help = "echo for the spec",
        setup = function(parser)
          parser:argument("word")
          parser:option("--times"):convert(tonumber):default("1")
        end,
        run = function(args) return string.rep(args.word, args.times) end,
      }
      assert.equal("spec-echo", cli.command("spec-echo").name)
      assert.equal("spec-echo", cli.commands()[#cli.commands()].name)
      assert.equal("hahaha", cli.main({ "spec-echo", "ha", "--times", "3" }))
      assert.equal("ha", cli.main({ "spec-echo", "ha" }))
      assert.has_error(function() cli.main({ "spec-echo" }) end,
        "spec-echo: missing argument 'word' (try 'tessera help spec-echo')")
    end)

    it("refuses malformed commands and duplicates", function()
      local run = function() end
      assert.has_error(function() cli.register("info") end,
        "bad argument #1 to 'register' (table expected, got string)")
      assert.has_error(function() cli.register({ name = "1x", help = "h", run = run }) end,
        "tessera.cli.register: name must be a word of letters, digits, '-' and '_', got '1x'")
      assert.has_error(function() cli.register({ help = "h", run = run }) end,
        "tessera.cli.register: name must be a word of letters, digits, '-' and '_', got nil")
      assert.has_error(function() cli.register({ name = "spec-x", help = "", run = run }) end,
        "tessera.cli.register: help must be a non-empty string, got ''")
      assert.has_error(function() cli.register({ name = "spec-x", help = "h", setup = 1, run = run }) end,
        "tessera.cli.register: setup must be a function, got number")
      assert.has_error(function() cli.register({ name = "spec-x", help = "h" }) end,
        "tessera.cli.register: run must be a function, got nil")
      assert.has_error(function() cli.register({ name = "info", help = "h", run = run }) end,
        "tessera.cli.register: command 'info' is already registered")
      assert.is_nil(cli.command("spec-x"))
    end)
  end)

  describe("main()", function()
    it("names an unknown command and checks its argument", function()
      assert.has_error(function() cli.main({ "nope" }) end,
        "unknown command 'nope' (try 'tessera help')")
      assert.has_error(function() cli.main("help") end,
        "bad argument #1 to 'main' (table expected, got string)")
    end)
  end)
end)
