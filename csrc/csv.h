/* CSV files <-> float32 matrices, for people: one matrix row per line, comma-separated
 * numbers. A memory parser (fuzzable) and file wrappers around it. */
#ifndef TSR_CSV_H
#define TSR_CSV_H

#include "matrix.h"

/* Parses CSV text in buf[0..len) (not NUL-terminated; never read past len). Lines end in
 * \n or \r\n; fields are separated by commas, spaces and tabs around a field are ignored,
 * a field is anything strtod takes whole (so nan and inf too) in at most 127 characters. A first line none of whose
 * fields is a number is a header and is skipped. Blank lines may only trail. Ragged rows,
 * bad numbers, finite values outside float32's range, interior blank lines and text with
 * no data row are errors (TSR_EFORMAT) naming the line and column (1-based).
 * Returns TSR_OK with out->data allocated by tsr_alloc (the caller frees it with tsr_free
 * or tsr_matrix_release); otherwise TSR_EFORMAT, TSR_ELIMIT or TSR_ENOMEM with the reason
 * in err, and *out = {0, 0, NULL}. */
int tsr_csv_parse(const char *buf, size_t len, tsr_matrix *out, tsr_error *err);

/* Reads the CSV file at path with tsr_csv_parse. Returns as it does, or TSR_EIO; err reads
 * "cannot open 'path': <reason>" or "'path': <what is wrong>". */
int tsr_csv_load(const char *path, tsr_matrix *out, tsr_error *err);

/* Writes m as CSV, one row per line, each value with %.9g (float32 round-trips), no
 * header. Refuses NaN and Inf (TSR_ENOTFINITE) and matrices with no elements (TSR_EEMPTY:
 * CSV cannot say their shape), err naming the reason. Writes to a temporary name and
 * renames it into place, so on any failure (TSR_EIO, err naming path) nothing is left. */
int tsr_csv_save(const char *path, const tsr_matrix *m, tsr_error *err);

#endif
