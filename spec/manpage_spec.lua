-- Specs for the man page docs/tessera.1: it renders without a warning, and it cannot go
-- stale silently: every command tessera.cli knows has its section there, naming every
-- option the command accepts, and every TESSERA_* variable the code reads is in
-- ENVIRONMENT.
local cli = require "tessera.cli"
local helpers = require "helpers"

local q = helpers.shell_quote
local PAGE = helpers.root .. "/docs/tessera.1"

-- The page's text with roff's escaped minus signs as plain '-'.
local function page_text()
  return (assert(helpers.read_file(PAGE)):gsub("\\%-", "-"))
end

-- name -> the text of its ".SS name ..." section (up to the next .SS or .SH).
local function command_sections(text)
  local sections, name, lines = {}, nil, nil
  local function close()
    if name then sections[name] = table.concat(lines, "\n") end
  end
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    local ss = line:match("^%.SS%s+([%w_-]+)")
    if ss or line:match("^%.SH") then
      close()
      name, lines = ss, {}
    elseif name then
      lines[#lines + 1] = line
    end
  end
  close()
  return sections
end

-- The names a user types for each option of a command: its long alias, else its short one.
local function option_names(name)
  local parser = cli.parser(name)
  local names = {}
  for _, option in ipairs(parser._options) do
    local aliases = option._aliases
    local long
    for _, alias in ipairs(aliases) do
      if alias:match("^%-%-") then long = alias end
    end
    if long ~= "--help" then names[#names + 1] = long or aliases[1] end
  end
  return names
end

-- Whether text names option as a whole word (--hop, not the start of --hpss-kernel).
local function names_option(text, option)
  local pattern = "%f[%w-]" .. option:gsub("%-", "%%-") .. "%f[^%w-]"
  return text:find(pattern) ~= nil
end

describe("docs/tessera.1", function()
  it("has the sections of a man page", function()
    local text = page_text()
    for _, section in ipairs({ "NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "COMMANDS",
      "ENVIRONMENT", "FILES", "EXIT STATUS", "EXAMPLES", "SEE ALSO" }) do
      local pattern = '\n%.SH "?' .. section:gsub(" ", "%%s") .. '"?\n'
      assert.truthy(text:find(pattern), section)
    end
  end)

  it("describes every command tessera.cli knows, with every option it takes", function()
    local sections = command_sections(page_text())
    local commands = cli.commands()
    assert.is_true(#commands >= 13)
    for _, command in ipairs(commands) do
      local section = sections[command.name]
      assert(section, "no .SS section for the command '" .. command.name .. "' in docs/tessera.1")
      for _, option in ipairs(option_names(command.name)) do
        assert(names_option(section, option), "docs/tessera.1: the section of '" .. command.name
          .. "' does not mention its option " .. option)
      end
    end
  end)

  it("notices a command or an option it does not describe", function()
    local sections = command_sections(page_text())
    assert.is_nil(sections["no-such-command"])
    assert.is_false(names_option(sections.decompose, "--hpss-kern"))
    assert.is_false(names_option(sections.decompose, "--no-such-option"))
    assert.is_true(names_option(sections.decompose, "--hpss-kernel"))
    assert.is_true(names_option(sections.decompose, "-k"))
  end)

  it("lists every TESSERA_* variable the code reads under ENVIRONMENT", function()
    local text = page_text()
    local environment = text:match("\n%.SH ENVIRONMENT\n(.-)\n%.SH ")
    assert(environment, "no ENVIRONMENT section")
    local out = helpers.run("cd " .. q(helpers.root) .. " && grep -rhoE --include='*.lua' --include='*.c' "
      .. [['getenv[ (]*"TESSERA_[A-Z0-9_]+' lua csrc]])
    local seen = 0
    for name in out:gmatch("TESSERA_[A-Z0-9_]+") do
      seen = seen + 1
      assert(environment:find(name, 1, true), "docs/tessera.1 does not describe " .. name)
    end
    assert.is_true(seen >= 8)
  end)

  it("renders with groff -man and man without a warning", function()
    local out, ok = helpers.run("groff -man -ww -z " .. q(PAGE) .. " 2>&1")
    assert(ok, out)
    assert.equal("", out)
    out, ok = helpers.run("MANWIDTH=80 man --warnings -l " .. q(PAGE) .. " 2>&1 >/dev/null")
    assert(ok, out)
    assert.equal("", out)
    local rendered = helpers.run("MANWIDTH=80 man -l " .. q(PAGE) .. " 2>/dev/null")
    assert.truthy(rendered:find("tessera decompose /usr/share/sonic-pi/samples/loop_amen.flac", 1, true))
    assert.truthy(rendered:find("\nEXIT STATUS\n", 1, true))
  end)
end)
