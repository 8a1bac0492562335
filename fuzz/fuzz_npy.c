/* libFuzzer harness: the .npy parser (tessera.matrix.load of a .npy file). */
#include <stddef.h>
#include <stdint.h>

#include "../csrc/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tsr_matrix m = {0, 0, NULL};
  tsr_error err = {{0}};
  if (tsr_npy_parse(data, size, &m, &err) == TSR_OK) {
    (void)tsr_matrix_sum(&m);
    (void)tsr_matrix_check_finite(&m, &err);
  }
  tsr_matrix_release(&m);
  return 0;
}
