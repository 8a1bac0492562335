/* Shared declarations of the Lua bindings (module tessera.core): the userdata types and
 * the helpers every binding uses. Only csrc/lua/ includes Lua headers. */
#ifndef L_TESSERA_H
#define L_TESSERA_H

#include <lauxlib.h>
#include <lua.h>

#include "../audio.h"
#include "../matrix.h"
#include "../stft.h"
#include "../tessera.h"

#define TSR_MATRIX_MT "tessera.Matrix"
#define TSR_AUDIO_MT "tessera.Audio"
#define TSR_SPECTROGRAM_MT "tessera.Spectrogram"

/* Matrix userdata. Its user value 1 is what holds the memory: the data block
 * (lmem_push_block) when it owns it, the matrix it views (owns == 0) otherwise. */
typedef struct lmatrix {
  tsr_matrix m;
  int owns;
} lmatrix;

/* Audio userdata: its samples are the data block in its user value 1. */
typedef struct laudio {
  tsr_audio a;
} laudio;

/* Spectrogram userdata: its complex data is the data block in its user value 1. */
typedef struct lspectrogram {
  tsr_spectrogram s;
} lspectrogram;

/* Makes the bytes of L's heap part of the kernels' live count (memory.c), by putting a
 * counting allocator in front of L's; once per state (luaopen_tessera_core calls it). */
void lmem_count_heap(lua_State *L);
/* The one way the bindings allocate data that outlives a call: pushes a userdata holding
 * `bytes` (zero-filled when `zero`) and returns its 64-byte aligned data, which lives as long
 * as that userdata (make it the user value of the object that uses it). When the memory cap
 * refuses the request even after a full collection, raises "<who>: <what> needs 12.5 MB,
 * more than the memory cap (10.0 MB)". */
void *lmem_push_block(lua_State *L, size_t bytes, int zero, const char *who,
                      const char *what);
/* Takes in a kernel's result that arrived in tsr_alloc memory: calls copy(result, who) in
 * protected mode (it pushes the new object holding a copy, through lmem_push_block), then
 * release(result) however that went, then raises copy's error if it failed. Returns the
 * new object, left on the stack. */
void *lmem_adopt(lua_State *L, lua_CFunction copy, void *result, const char *who,
                 void (*release)(void *result));

/* Pushes a new rows x cols Matrix, zero-filled. Raises a Lua error (naming `who` and the
 * size) when the size overflows or memory is short; never returns NULL. */
lmatrix *lmatrix_push(lua_State *L, int64_t rows, int64_t cols, const char *who);
/* The same, its data not zero-filled, for a caller that writes every entry. */
lmatrix *lmatrix_push_unfilled(lua_State *L, int64_t rows, int64_t cols, const char *who);
/* Pushes a new Matrix holding a copy of m's data, then frees m's (a kernel's result). */
lmatrix *lmatrix_adopt(lua_State *L, tsr_matrix *m, const char *who);
/* The Matrix at arg, or a Lua argument error. */
lmatrix *lmatrix_check(lua_State *L, int arg);
/* The Matrix at arg or NULL when it is not one. */
lmatrix *lmatrix_test(lua_State *L, int arg);

/* Pushes new Audio of frames x channels at sr, zero-filled; raises like lmatrix_push. */
laudio *laudio_push(lua_State *L, int64_t frames, int channels, int sr, const char *who);
laudio *laudio_check(lua_State *L, int arg);
/* Pushes new Audio holding a copy of a's samples, then frees a's (a kernel's result). */
laudio *laudio_adopt(lua_State *L, tsr_audio *a, const char *who);

/* Pushes a new Spectrogram with the given geometry, zero-filled; raises like lmatrix_push. */
lspectrogram *lspectrogram_push(lua_State *L, const tsr_spectrogram *shape, const char *who);
lspectrogram *lspectrogram_check(lua_State *L, int arg);

/* Raises "<who>: <detail>" from a kernel status: the detail is err->msg when set, else
 * tsr_strerror(status). Release what you hold before calling: it does not return. */
int laux_fail(lua_State *L, const char *who, int status, const tsr_error *err);

/* Reads integer field `key` of the options table at `arg` (absent or nil: def).
 * Raises "bad argument #arg to 'who' (key must be an integer, got ...)" otherwise. */
lua_Integer laux_opt_integer(lua_State *L, int arg, const char *key, lua_Integer def);
lua_Number laux_opt_number(lua_State *L, int arg, const char *key, lua_Number def);
int laux_opt_boolean(lua_State *L, int arg, const char *key, int def);
/* String option; the result stays valid while the options table is on the stack. */
const char *laux_opt_string(lua_State *L, int arg, const char *key, const char *def);

/* Pushes and returns "; did you mean 'x'?" when x, one of valid (NULL-terminated), is what
 * name misspells (tsr_closest_name), else "": the tail of every message refusing a name. */
const char *laux_did_you_mean(lua_State *L, const char *name, const char *const valid[]);

/* Pushes a Lua list of names (NULL-terminated): a binding's option list made visible to the
 * Lua layer, so each list is written once. */
void laux_push_names(lua_State *L, const char *const names[]);

/* Raises "bad argument #arg to ... (unknown option 'x' (valid: a, b, c); did you mean 'y'?)" unless every key
 * of the options table at arg (absent or nil: nothing to check) is one of valid
 * (NULL-terminated), so a misspelt option is never silently ignored. */
void laux_check_options(lua_State *L, int arg, const char *const valid[]);

/* Raises "bad argument #arg (<what> is R x C, expected r x c)" unless M is rows x cols. */
void laux_check_shape(lua_State *L, int arg, const char *what, const lmatrix *M, int64_t rows,
                      int64_t cols);
/* The one check of a Matrix's entries (tsr_check_entries: NaN, infinite, negative) as the
 * error "<who>: <name> has ..."; does not return on failure. */
void laux_check_entries(lua_State *L, const char *who, const tsr_matrix *m, const char *name);

/* The beta of a loss name ("euclidean" 2, "kl" 1, "is" 0), *name (may be NULL) set to the
 * name's constant; else raises "bad argument #arg (invalid loss ...)" (l_nmf.c). */
double lnmf_loss_beta(lua_State *L, int arg, const char *s, const char **name);
/* Adds the Model's helpers (l_nmf_model.c) to the table on top of the stack. */
void nmf_model_functions(lua_State *L);

/* Registration of each type and its functions into the module table on top of the stack. */
void matrix_open(lua_State *L);
void audio_open(lua_State *L);
void stft_open(lua_State *L);
void nmf_open(lua_State *L);
void util_open(lua_State *L);
void listen_open(lua_State *L);
void sandbox_open(lua_State *L);
void crosssynth_open(lua_State *L);
void eval_open(lua_State *L);
void hpss_open(lua_State *L);
void pitch_open(lua_State *L);
void morph_open(lua_State *L);

/* The module tessera.core: every area's table, and core.type (l_core.c). */
int luaopen_tessera_core(lua_State *L);

#endif
