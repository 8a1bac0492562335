/* Dense float32 matrices, column-major (element (i, j) at data[i + j*rows]), so BLAS takes
 * them as they are. The struct is plain data: whoever allocates `data` frees it. */
#ifndef TSR_MATRIX_H
#define TSR_MATRIX_H

#include "tessera.h"

typedef struct tsr_matrix {
  int64_t rows, cols;
  float *data;
} tsr_matrix;

#endif
