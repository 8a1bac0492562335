/* libFuzzer harness: the CSV parser (tessera.matrix.load of a .csv file). The input is not
 * NUL-terminated, as a mapped file is not. */
#include <stddef.h>
#include <stdint.h>

#include "../csrc/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tsr_matrix m = {0, 0, NULL};
  tsr_error err = {{0}};
  if (tsr_csv_parse((const char *)data, size, &m, &err) == TSR_OK) {
    float v;
    (void)tsr_matrix_min(&m, &v);
    (void)tsr_matrix_check_finite(&m, &err);
  }
  tsr_matrix_release(&m);
  return 0;
}
