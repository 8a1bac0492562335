/* NumPy .npy files <-> float32 matrices: a parser that works on a memory buffer (so it can
 * be fuzzed) and file wrappers around it. */
#ifndef TSR_NPY_H
#define TSR_NPY_H

#include "matrix.h"

/* Parses a whole .npy file held in buf[0..len): format versions 1.0, 2.0 and 3.0; dtypes
 * f4 and f8 in either byte order, and i1/i2/i4/i8, u1/u2/u4/u8 (converted to float32;
 * an f8 finite value outside float32's range is an error); C or Fortran order; shape (n,)
 * gives an n x 1 matrix, (r, c) an r x c one, any other number of dimensions is an error.
 * Never reads outside the buffer. Returns TSR_OK with out->data allocated by tsr_alloc
 * (the caller frees it with tsr_free or tsr_matrix_release); otherwise TSR_EFORMAT,
 * TSR_ELIMIT or TSR_ENOMEM with the reason in err, and *out = {0, 0, NULL}. */
int tsr_npy_parse(const void *buf, size_t len, tsr_matrix *out, tsr_error *err);

/* Reads the .npy file at path (mapped, not copied) with tsr_npy_parse. Returns as it does,
 * or TSR_EIO; err reads "cannot open 'path': <reason>" or "'path': <what is wrong>". */
int tsr_npy_load(const char *path, tsr_matrix *out, tsr_error *err);

/* Writes m as a version 1.0 .npy file, float32 in the machine's byte order, Fortran order
 * (the column-major data written as it is). Refuses NaN and Inf (TSR_ENOTFINITE, err
 * naming the first one). Writes to a temporary name and renames it into place, so on any
 * failure (TSR_EIO, err naming path) no file is left behind. */
int tsr_npy_save(const char *path, const tsr_matrix *m, tsr_error *err);

#endif
