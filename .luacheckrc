-- luacheck configuration (Debian's lua-check): .ci/run checks lua/ spec/ examples/
-- scripts/ bench/ with it before the tests.
std = "lua54"
max_line_length = 120

-- busted's globals, in the specs only.
files["spec/"] = { std = "+busted" }

-- Recorded data (one fit's hashes a line), not code a person reads line by line.
files["spec/support/bitexact_expected.lua"] = { max_line_length = false }
