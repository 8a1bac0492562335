--- tessera.cli: the `tessera COMMAND [ARGS...]` framework. A registry of commands, each
-- with a lua-argparse parser; bin/tessera calls cli.main(args) when its first argument
-- names a command. A command is a table
--   { name = "decompose", help = "one line for `tessera help`",
--     setup = function(parser) ... end,   -- optional: declares arguments and options
--     run = function(args) ... end }      -- gets argparse's result; may return a status
-- Errors are raised as plain strings (no position): the host prints "tessera: <message>"
-- and exits with status 1.
-- @module tessera.cli
local argparse = require "argparse"

local error, ipairs, type = error, ipairs, type
local format = string.format
local concat, move = table.concat, table.move

local cli = {}

-- Commands that live in their own module lua/tessera/cmd/<name>.lua, which returns the
-- table cli.register takes. Adding a command is one line here; `tessera help` lists
-- the built-in commands first, then these in this order.
cli.modules = {
  "info",
  "decompose",
  "mosaic",
  "crosssynth",
  "live",
  "batch",
  "batch_merge",
  "mix",
  "eval",
  "rank",
  "compare",
}

local registry = {} -- name -> command
local order = {} -- names, in the order `tessera help` lists them

local function field_error(command, key, expected)
  local got = command[key]
  error(format("tessera.cli.register: %s must be %s, got %s", key, expected,
    type(got) == "string" and format("'%s'", got) or type(got)), 3)
end

--- cli.register(command) -> command: adds a command to the registry.
-- @tab command {name, help, setup, run} (as lua/tessera/cmd/*.lua)
-- @treturn table the command
-- @raise when a field is missing or the name is taken.
-- @usage tessera.cli.register{name = "hello", help = "says hello", setup = function(p) end,
--   run = function(args) print("hello") end}
function cli.register(command)
  if type(command) ~= "table" then
    error(format("bad argument #1 to 'register' (table expected, got %s)", type(command)), 2)
  end
  if type(command.name) ~= "string" or not command.name:match("^%a[%w_-]*$") then
    field_error(command, "name", "a word of letters, digits, '-' and '_'")
  end
  if type(command.help) ~= "string" or command.help == "" then
    field_error(command, "help", "a non-empty string")
  end
  if command.setup ~= nil and type(command.setup) ~= "function" then
    field_error(command, "setup", "a function")
  end
  if type(command.run) ~= "function" then field_error(command, "run", "a function") end
  if registry[command.name] then
    error(format("tessera.cli.register: command '%s' is already registered", command.name), 2)
  end
  registry[command.name] = command
  order[#order + 1] = command.name
  return command
end

--- cli.command(name) -> the registered command, or nil.
-- @string name a command name
-- @treturn table|nil the command
-- @raise never.
-- @usage local decompose = tessera.cli.command("decompose")
function cli.command(name)
  return registry[name]
end

--- cli.commands() -> the registered commands, in listing order (a new array).
-- @treturn table the commands
-- @raise never.
-- @usage for _, c in ipairs(tessera.cli.commands()) do print(c.name) end
function cli.commands()
  local list = {}
  for i, name in ipairs(order) do list[i] = registry[name] end
  return list
end

-- The host's module (bin/tessera only), or nil under the stock lua5.4.
local function host()
  return package.preload["tessera.host"] and require("tessera.host")
end

--- cli.debugging() -> whether errors keep their position and get a traceback: the host's
-- debug flag, or TESSERA_DEBUG set (a command that catches errors itself, as `info` does
-- for each file, lets them through then).
-- @treturn boolean debugging
-- @raise never.
-- @usage local verbose = tessera.cli.debugging()
function cli.debugging()
  local h = host()
  if h then return h.debug end
  local v = os.getenv("TESSERA_DEBUG")
  return v ~= nil and v ~= "" and v ~= "0"
end

--- cli.strip_position(msg) -> msg without its "file.lua:N: " prefix, which tells a user of
-- a command nothing.
-- @string msg an error message
-- @treturn string the message without its position
-- @raise never.
-- @usage io.stderr:write("tessera: ", tessera.cli.strip_position(err), "\n")
function cli.strip_position(msg)
  return (msg:gsub("^[^\n:]+:%d+: ", "", 1))
end

local function unknown(name)
  error(format("unknown command '%s'%s (try 'tessera help')", name,
    require("tessera.args").did_you_mean(name, order)), 0)
end

-- argparse's message for a parse error, its own guess for a misspelt option replaced by the
-- one every name check of tessera makes (args.did_you_mean), over the command's options.
local function parse_error(parser, msg)
  msg = msg:gsub("\nDid you mean '[^']*'%?$", "")
  local option = msg:match("^unknown option '([^']+)'$")
  if option then
    local names = {}
    for _, o in ipairs(parser._options) do
      for _, alias in ipairs(o._aliases) do names[#names + 1] = alias end
    end
    msg = msg .. require("tessera.args").did_you_mean(option, names)
  end
  return msg
end

--- cli.parser(name) -> parser, helped: the command's argparse parser, and a function
-- telling whether -h/--help was seen by the last parse (help wins over other errors,
-- so `tessera info -h` shows help instead of "missing argument").
-- @string name a registered command
-- @treturn table the argparse parser
-- @treturn function helped()
-- @raise "unknown command ..." for a name not registered.
-- @usage local p = tessera.cli.parser("info")
function cli.parser(name)
  local command = registry[name] or unknown(name)
  local seen = false
  local parser = argparse("tessera " .. name, command.help):add_help(false)
  parser:flag("-h --help", "Show this help message and exit.")
    :action(function() seen = true end)
  if command.setup then command.setup(parser) end
  return parser, function() return seen end
end

-- argparse reads "-3" as an option's name, so `-k -3` said "unknown option '-3'" instead of
-- reaching the check that names -k. A negative number right after an option that takes a
-- value is joined to it ("-k-3", "--tol=-1"), the forms argparse reads as that option's
-- value. Returns a new list.
local function join_negative_values(parser, list)
  local takes = {}
  for _, option in ipairs(parser._options or {}) do
    if (option._maxargs or 0) > 0 then
      for _, alias in ipairs(option._aliases or {}) do takes[alias] = true end
    end
  end
  local out = {}
  local i = 1
  while i <= #list do
    local arg, value = list[i], list[i + 1]
    if arg == "--" then
      move(list, i, #list, #out + 1, out)
      break
    end
    if takes[arg] and type(value) == "string" and value:match("^%-%.?%d") then
      out[#out + 1] = arg:sub(1, 2) == "--" and arg .. "=" .. value or arg .. value
      i = i + 2
    else
      out[#out + 1] = arg
      i = i + 1
    end
  end
  return out
end

-- The overview `tessera help` prints.
local function overview()
  local lines = {
    format("tessera %s: music decomposition and mosaics with non-negative matrix "
      .. "factorization, scripted in Lua 5.4", require("tessera").version),
    "",
    "usage: tessera [OPTIONS] SCRIPT.lua [ARGS...]   run a Lua script ('-' reads stdin)",
    "       tessera [OPTIONS] -e CODE [-e CODE...]   run Lua chunks",
    "       tessera [-i]                             interactive Lua (REPL), tessera loaded as",
    "                                                the globals 'tessera' and 't'",
    "       tessera [--debug] COMMAND [ARGS...]      run a command",
    "",
    "commands:",
  }
  local width = 0
  for _, name in ipairs(order) do width = math.max(width, #name) end
  for _, name in ipairs(order) do
    lines[#lines + 1] = format("  %-" .. width .. "s  %s", name, registry[name].help)
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "options:"
  lines[#lines + 1] = "  -e CODE        run the Lua chunk CODE (may be repeated)"
  lines[#lines + 1] = "  -l NAME        require NAME into the global NAME"
  lines[#lines + 1] = "  -i             enter the REPL after the script"
  lines[#lines + 1] = "  -v, --version  print the versions of tessera and Lua"
  lines[#lines + 1] = "  -h, --help     print this list"
  lines[#lines + 1] = "  --debug        print the traceback of an error (or TESSERA_DEBUG=1)"
  lines[#lines + 1] = ""
  lines[#lines + 1] = "'tessera help COMMAND' shows the arguments and options of a command."
  return concat(lines, "\n")
end

cli.register {
  name = "help",
  help = "list the commands, or show the arguments and options of one",
  setup = function(parser)
    parser:argument("command", "The command to describe."):args("?")
  end,
  run = function(args)
    if args.command then
      io.write(cli.parser(args.command):get_help(), "\n")
    else
      io.write(overview(), "\n")
    end
  end,
}

cli.register {
  name = "version",
  help = "print the versions of tessera and Lua",
  run = function()
    local h = host()
    if h then
      io.write(format("tessera %s (%s)\n", h.version, h.lua_release))
    else -- the stock lua5.4 gives only its major.minor version
      io.write(format("tessera %s (%s)\n", require("tessera").version, _VERSION))
    end
  end,
}

for _, name in ipairs(cli.modules) do
  cli.register(require("tessera.cmd." .. name))
end

--- cli.main(args) -> status or nil: runs the command args[1] with the arguments
-- args[2..]; no command is `help`. Raises "unknown command ..." or "<name>: <parse
-- error> (try 'tessera help <name>')". An error from the command loses its
-- "file.lua:N: " prefix, which tells a user of the command nothing, unless debugging.
-- @tab args the arguments, args[1] the command
-- @return what the command returns
-- @raise "unknown command ..."; "<name>: <parse error> (try 'tessera help <name>')"; the command's errors.
-- @usage tessera.cli.main({"info", "/usr/share/sonic-pi/samples/loop_amen.flac"})
function cli.main(args)
  if type(args) ~= "table" then
    error(format("bad argument #1 to 'main' (table expected, got %s)", type(args)), 2)
  end
  local name = args[1] or "help"
  local command = registry[name] or unknown(name)
  local parser, helped = cli.parser(name)
  local ok, parsed = parser:pparse(join_negative_values(parser, move(args, 2, #args, 1, {})))
  if helped() then
    io.write(parser:get_help(), "\n")
    return 0
  end
  if not ok then
    error(format("%s: %s (try 'tessera help %s')", name, parse_error(parser, parsed), name), 0)
  end
  if cli.debugging() then return command.run(parsed) end
  local ran, result = pcall(command.run, parsed)
  if ran then return result end
  if type(result) == "string" then result = cli.strip_position(result) end
  error(result, 0)
end

return cli
