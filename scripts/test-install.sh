#!/usr/bin/env bash
# make test-install: tessera installed as a user would, then used from / with nothing of the
# checkout in sight. Twice: `make install PREFIX=<scratch>` and `luarocks make --tree
# <scratch>` (Debian's luarocks, for Lua 5.4). Each time the stock lua5.4, with LUA_PATH and
# LUA_CPATH naming the install, requires tessera and fits an NMF to a sonic-pi loop, and the
# installed host runs `help`, every command's --help, `info` and `batch` on the loop. Then the
# install is removed again (make uninstall, luarocks remove) and must leave nothing behind.
# Exits 1 with "test-install: <what failed>" on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

LOOP=/usr/share/sonic-pi/samples/loop_amen.flac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() {
  echo "test-install: $*" >&2
  exit 1
}

# Runs a command, its output into $work/log; on failure shows the log and fails with $1.
quiet() {
  local what=$1
  shift
  "$@" >"$work/log" 2>&1 || {
    cat "$work/log" >&2
    fail "$what failed (status $?)"
  }
}

# From /, with no variable that could lead back to the checkout.
from_root() {
  (cd / && env -u TESSERA_LUA_PATH -u LUA_PATH -u LUA_PATH_5_4 -u LUA_CPATH -u LUA_CPATH_5_4 \
    -u LUA_INIT -u LUA_INIT_5_4 -u MAKEFLAGS "$@")
}

# check NAME TREE: the install in TREE (bin/, share/lua/5.4, lib/lua/5.4) works from /.
check() {
  local name=$1 tree=$2
  local bin=$tree/bin/tessera out=$work/out-${name// /-}
  [ -x "$bin" ] || fail "$name: no executable $bin"
  [ -f "$tree/lib/lua/5.4/tessera/core.so" ] || fail "$name: no $tree/lib/lua/5.4/tessera/core.so"

  # The stock interpreter: tessera and tessera.core from the install, an STFT and an NMF of a
  # real loop, the model saved into a scratch folder.
  mkdir -p "$out"
  from_root LUA_PATH="$tree/share/lua/5.4/?.lua;$tree/share/lua/5.4/?/init.lua;;" \
    LUA_CPATH="$tree/lib/lua/5.4/?.so;;" lua5.4 - "$tree" "$LOOP" "$out" >"$work/log" 2>&1 <<'EOF' ||
local tree, loop, out = ...
local tessera = require "tessera"
local lua_file = package.searchpath("tessera", package.path)
local so_file = package.searchpath("tessera.core", package.cpath)
assert(lua_file:sub(1, #tree) == tree, "tessera loaded from " .. lua_file)
assert(so_file:sub(1, #tree) == tree, "tessera.core loaded from " .. so_file)
local a = tessera.audio.load(loop, { sr = 22050 })
local V = tessera.stft(a, { magnitude = true })
local m = tessera.nmf(V, { k = 4, max_iter = 50 })
local n, k = m.W:shape()
assert(n == 1025 and k == 4, ("W is %d x %d, expected 1025 x 4"):format(n, k))
m:save(out)
assert(io.open(out .. "/W.npy"), "no W.npy in " .. out)
assert(require("tessera.batch").host() == tree .. "/bin/tessera", "batch's host is not the installed one")
print("nmf ok", tessera.version)
EOF
    { cat "$work/log" >&2; fail "$name: lua5.4 from / could not use the install in $tree"; }

  # The installed host: its modules from the install, help, every command's help, info.
  local path
  path=$(from_root "$bin" -e 'io.write(package.searchpath("tessera.cli", package.path) or "none")') ||
    fail "$name: $bin -e failed"
  [ "$path" = "$tree/share/lua/5.4/tessera/cli.lua" ] ||
    fail "$name: the installed host loads tessera.cli from $path, not from $tree/share/lua/5.4"
  from_root "$bin" help >"$work/help" 2>&1 || { cat "$work/help" >&2; fail "$name: tessera help failed"; }
  local commands
  commands=$(awk '/^commands:/ { on = 1; next } /^$/ { on = 0 } on { print $1 }' "$work/help")
  [ "$(wc -w <<<"$commands")" -ge 10 ] || fail "$name: tessera help lists only: $commands"
  for c in $commands; do
    from_root "$bin" "$c" --help >"$work/log" 2>&1 || { cat "$work/log" >&2; fail "$name: tessera $c --help failed"; }
    head -1 "$work/log" | grep -q "^Usage: tessera $c" ||
      fail "$name: tessera $c --help printed: $(head -1 "$work/log")"
  done
  from_root "$bin" info "$LOOP" >"$work/log" 2>&1 || { cat "$work/log" >&2; fail "$name: tessera info failed"; }
  grep -q "sample rate  44100 Hz" "$work/log" || fail "$name: tessera info printed: $(cat "$work/log")"
  # batch: its worker processes are the installed host too.
  mkdir -p "$work/inputs"
  cp "$LOOP" "$work/inputs/"
  from_root "$bin" batch "$work/inputs" -o "$out/batch" -j 1 -k 2 --iter 10 --progress none >"$work/log" 2>&1 ||
    { cat "$work/log" >&2; fail "$name: tessera batch failed"; }
  [ -f "$out/batch/loop_amen.flac/W.npy" ] || fail "$name: tessera batch wrote no loop_amen.flac/W.npy"
  echo "test-install: $name: lua5.4 and $bin from / work ($(wc -w <<<"$commands") commands)"
}

# 1. make install into a scratch prefix, the man page found by man, make uninstall.
prefix=$work/prefix
quiet "make install PREFIX=$prefix" env -u MAKEFLAGS make -s install PREFIX="$prefix"
check "make install" "$prefix"
man_page=$(MANPATH="$prefix/share/man" man -w tessera 2>/dev/null) || true
[ "$man_page" = "$prefix/share/man/man1/tessera.1" ] || fail "man -w tessera found '$man_page', not the installed page"
quiet "make uninstall PREFIX=$prefix" env -u MAKEFLAGS make -s uninstall PREFIX="$prefix"
left=$(find "$prefix" -type f)
[ -z "$left" ] || fail "make uninstall left: $left"

# 2. luarocks make into a scratch tree, then luarocks remove.
command -v luarocks >/dev/null || fail "luarocks not found (scripts/install-deps.sh test installs it)"
tree=$work/rocks
quiet "luarocks make --tree $tree" env -u MAKEFLAGS luarocks --lua-version 5.4 make --tree "$tree" tessera-dev-1.rockspec
check "luarocks make" "$tree"
quiet "luarocks remove --tree $tree" luarocks --lua-version 5.4 remove --tree "$tree" tessera
[ ! -e "$tree/bin/tessera" ] && [ ! -e "$tree/share/lua/5.4/tessera" ] ||
  fail "luarocks remove left the install in $tree"

echo "test-install: ok"
