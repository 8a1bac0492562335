# tessera: the C module tessera.core (lua/tessera/core.so), the host bin/tessera, and the
# targets a newcomer types: make, make test, make demo, make bench, make install, make clean.

CFLAGS ?= -O2 -g
WARN = -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes -Wformat=2 -Wvla \
       -Werror=implicit-function-declaration
SAN = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# Recursive (=) on purpose: pkg-config runs at recipe time, after install-deps.
PKG_CFLAGS = $(shell pkg-config --cflags lua5.4 fftw3f fftw3 sndfile samplerate openblas)
# -z nodelete keeps core.so, and so OpenBLAS whose idle threads would crash after a dlclose,
# loaded when lua_close unloads C modules.
LIBS = $(shell pkg-config --libs fftw3f fftw3 sndfile samplerate openblas) -llapacke -lm -lpthread -Wl,-z,nodelete
LUA_LIBS = $(shell pkg-config --libs lua5.4)
HOST_LIBS = -lreadline
# -MMD -MP: each object's header dependencies in build/.../*.d, included below.
ALL_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -fPIC -MMD -MP $(WARN) $(CFLAGS) $(PKG_CFLAGS)

# A parallel build by default, one job per core (counted once), unless -j was given.
ifeq ($(filter -j%,$(MAKEFLAGS)),)
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 2)
endif

# The NMF, one file per concern (csrc/nmf/, see docs/DECISIONS.md); its kernels one file per
# instruction set, built with that set's flags below.
NMF = params fit mu mu_gemm cd cd_pass general nmfd nmfd_blocks objective init model kernels \
      kernels_generic kernels_avx2 kernels_avx512 cd_kernels_generic cd_kernels_avx2 \
      nmfd_kernels_generic nmfd_kernels_avx2 nmfd_kernels_avx512 \
      cd_kernels_avx512
KERNELS = common memory simd pool matrix npy csv audio stft stft_generic stft_avx2 stft_avx512 hash \
          hash_sha listen pghi crosssynth resample names audio_probe \
          $(NMF:%=nmf/%)
BINDINGS = l_core l_aux l_memory l_matrix l_audio l_stft l_nmf l_nmf_model l_util l_listen l_crosssynth \
           l_sandbox
# The separation metrics (tessera.eval): BSS Eval on double-precision FFTW and LAPACK.
KERNELS += eval eval_bss
BINDINGS += l_eval
# Harmonic/percussive separation (tessera.hpss): median filters and masks.
KERNELS += hpss
BINDINGS += l_hpss
# Making music (tessera.pitch, tessera.morph): pitch shift and spectral morph of templates.
KERNELS += pitch morph
BINDINGS += l_pitch l_morph
OBJS = $(KERNELS:%=build/%.o) $(BINDINGS:%=build/lua/%.o)
SAN_OBJS = $(KERNELS:%=build/asan/%.o) $(BINDINGS:%=build/asan/lua/%.o)

.PHONY: all deps test-deps test asan demo bench bench-memory bench-compare clean fuzz memcheck \
        doc doc-deps install uninstall test-install test-cluster

all: lua/tessera/core.so bin/tessera

# Installs what is missing (a quick dpkg check when nothing is): the run group for building,
# running and the demo; the test group (busted, references, Chromium, clang, valgrind...) only
# for the targets that test (with the doc group: a spec builds the API reference).
deps:
	@scripts/install-deps.sh run

test-deps: deps
	@scripts/install-deps.sh test doc

doc-deps: deps
	@scripts/install-deps.sh doc

build/%.o: csrc/%.c | deps
	@mkdir -p $(@D)
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) -c $< -o $@

build/asan/%.o: csrc/%.c | deps
	@mkdir -p $(@D)
	@echo "  CC-SAN  $<"
	@$(CC) $(ALL_CFLAGS) -O1 $(SAN) -c $< -o $@

-include $(OBJS:.o=.d) $(SAN_OBJS:.o=.d) build/main.d build/asan/main.d

# The instruction sets of the kernel files, by their names' ending: each is built with its
# own flags, and only its table is chosen at run time when the CPU has them (csrc/simd.h).
ifeq ($(shell uname -m),x86_64)
build/%_avx2.o: ALL_CFLAGS += -mavx2 -mfma
build/%_avx512.o: ALL_CFLAGS += -mavx512f -mavx512vl -mavx2 -mfma
build/%_sha.o: ALL_CFLAGS += -msha -msse4.1 -mssse3
# The NMFD block products are plain vector arithmetic: -std=c11 would keep acc += a * b as a
# multiply and an add; contracted, each is one FMA where the instruction set has it.
build/nmf/nmfd_kernels_%.o build/asan/nmf/nmfd_kernels_%.o: ALL_CFLAGS += -ffp-contract=fast
endif

# The STFT's float loops call sqrtf, which the compiler vectorises only without errno; no
# contraction into FMA, so that its SIMD copies round exactly as the portable one. Its
# threads are the pool's; its loops' `omp simd` pragmas need only -fopenmp-simd (no runtime).
build/stft.o build/asan/stft.o build/stft_%.o build/asan/stft_%.o: ALL_CFLAGS += -fno-math-errno -ffp-contract=off -fopenmp-simd

# The NMF's portable loops (those of every CPU without AVX2) are written for the vectoriser,
# which at -O2 GCC applies only to loops without a remainder; theirs have one. So is the
# check of entries (matrix.c). The CD files were always built without it. Recursive, so that
# the compiler is asked at recipe time, once install-deps has run.
VECTORISE = $(shell $(CC) -fvect-cost-model=dynamic -x c -c -o /dev/null /dev/null 2>/dev/null \
                    && echo -fvect-cost-model=dynamic)
VECTORISED = matrix $(filter-out nmf/cd nmf/cd_pass nmf/cd_kernels_%,$(NMF:%=nmf/%))
$(VECTORISED:%=build/%.o): ALL_CFLAGS += $(VECTORISE)

lua/tessera/core.so: $(OBJS)
	$(CC) -shared -o $@ $(OBJS) $(LIBS)

# The host links the core in (package.preload), so it needs no LUA_CPATH.
bin/tessera: build/main.o $(OBJS)
	@mkdir -p bin
	$(CC) -Wl,-E -o $@ build/main.o $(OBJS) $(LUA_LIBS) $(HOST_LIBS) $(LIBS)

bin/tessera-asan: build/asan/main.o $(SAN_OBJS)
	@mkdir -p bin
	$(CC) $(SAN) -Wl,-E -o $@ build/asan/main.o $(SAN_OBJS) $(LUA_LIBS) $(HOST_LIBS) $(LIBS)

asan: bin/tessera-asan

# Every spec, plainly under the stock lua5.4, then again under the sanitized host.
test: all asan | test-deps
	@scripts/run-specs.sh

# The batch on a real scheduler: a one-node Slurm started here runs examples/batch_slurm.sh
# as an array job, GNU parallel runs examples/batch_parallel.sh over ssh to localhost, and
# both merged results must equal one machine's batch (scripts/test-cluster.sh; root).
test-cluster: all | test-deps
	@scripts/install-deps.sh cluster
	@scripts/test-cluster.sh

demo: all
	@bin/tessera examples/paper.lua

bench: all | test-deps
	@scripts/bench.sh

# Peak memory of real runs (decompose, batch under --max-memory), appended to bench/results.md.
bench-memory: all | test-deps
	@bench/memory.sh

# The method comparison's grid (tessera.compare), cold and from the cache, into bench/results.md.
bench-compare: all
	@bin/tessera bench/compare_bench.lua

# libFuzzer harnesses (fuzz/) with ASan+UBSan, FUZZ_SECONDS (default 60) each.
fuzz: test-deps
	@scripts/fuzz.sh

# The specs under valgrind memcheck: no memory error, no definite or indirect leak.
memcheck: all | test-deps
	@scripts/memcheck.sh

# The API reference (HTML) from the doc comments, by Debian's lua-ldoc: docs/config.ld lists
# the sources; DOC_DIR (default build/doc) receives it, index.html first.
DOC_DIR ?= build/doc
doc: doc-deps
	@mkdir -p $(DOC_DIR)
	@cd docs && ldoc --fatalwarnings -q -c config.ld -d $(abspath $(DOC_DIR)) .
	@echo "  DOC     $(DOC_DIR)/index.html"

# make install: the host, the Lua modules, tessera.core and the man page under PREFIX (and
# DESTDIR, for packagers), in the layout the stock lua5.4 searches: LUADIR and LIBDIR are what
# LUA_PATH and LUA_CPATH name (a rockspec passes LuaRocks' own). The installed host finds its
# modules in ../share/lua/5.4 beside its bin/ folder (csrc/main.c).
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LUADIR ?= $(PREFIX)/share/lua/5.4
LIBDIR ?= $(PREFIX)/lib/lua/5.4
MANDIR ?= $(PREFIX)/share/man
LUA_MODULES = $(shell cd lua && find tessera -name '*.lua' | LC_ALL=C sort)

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/tessera $(DESTDIR)$(MANDIR)/man1
	install -m 755 bin/tessera $(DESTDIR)$(BINDIR)/tessera
	install -m 755 lua/tessera/core.so $(DESTDIR)$(LIBDIR)/tessera/core.so
	install -m 644 docs/tessera.1 $(DESTDIR)$(MANDIR)/man1/tessera.1
	@echo "  INSTALL $(words $(LUA_MODULES)) Lua modules in $(DESTDIR)$(LUADIR)/tessera"
	@for f in $(LUA_MODULES); do \
	  install -D -m 644 lua/$$f $(DESTDIR)$(LUADIR)/$$f || exit 1; \
	done

# The tessera/ folders under LUADIR and LIBDIR are tessera's own namespace: removed whole, so
# that a module dropped since an earlier install goes too.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/tessera $(DESTDIR)$(MANDIR)/man1/tessera.1
	rm -rf $(DESTDIR)$(LUADIR)/tessera $(DESTDIR)$(LIBDIR)/tessera

# make install into a scratch prefix and luarocks make into a scratch tree, each then used
# from / by the stock lua5.4 and the installed host.
test-install: all | test-deps
	@scripts/test-install.sh

# make print-KERNELS (any variable): its value, for scripts (fuzz.sh) that build the same list.
print-%:
	@echo $($*)

clean:
	rm -rf build bin lua/tessera/core.so
