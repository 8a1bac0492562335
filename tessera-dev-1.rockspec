-- luarocks --lua-version 5.4 make --tree TREE: builds with the Makefile and installs the
-- host (bin/tessera), the Lua modules and tessera.core into a LuaRocks tree. The C
-- libraries and the Lua modules tessera uses (argparse, cjson, luv) are Debian's:
-- scripts/install-deps.sh run installs them (make does, before it builds).
rockspec_format = "3.0"
package = "tessera"
version = "dev-1"
source = {
  url = "git+file://.",
}
description = {
  summary = "Music decomposition and mosaics with non-negative matrix factorization",
  detailed = [[
tessera factorises magnitude spectrograms (NMF, NMFD, beta-divergences, coordinate
descent), listens to the components, and builds new music from them: mosaics,
cross-synthesis, live coding, batch runs over collections. The numeric core is C
(FFTW, libsndfile, libsamplerate, OpenBLAS); the library and the command line are Lua 5.4.
]],
  labels = { "audio", "music", "nmf" },
  -- No license field: the project has not chosen one yet (luarocks lint asks for it;
  -- luarocks make does not).
}
dependencies = {
  "lua >= 5.4, < 5.5",
}
external_dependencies = {
  FFTW3 = { header = "fftw3.h" },
  SNDFILE = { header = "sndfile.h" },
  SAMPLERATE = { header = "samplerate.h" },
  LAPACKE = { header = "lapacke.h" },
}
build = {
  type = "make",
  build_target = "all",
  build_variables = {
    CFLAGS = "$(CFLAGS)",
  },
  install_target = "install",
  -- LuaRocks' own folders of this rock; it then deploys them into the tree (bin/,
  -- share/lua/5.4, lib/lua/5.4). The man page stays in the rock's folder.
  install_variables = {
    PREFIX = "$(PREFIX)",
    BINDIR = "$(BINDIR)",
    LUADIR = "$(LUADIR)",
    LIBDIR = "$(LIBDIR)",
    MANDIR = "$(PREFIX)/man",
  },
}
