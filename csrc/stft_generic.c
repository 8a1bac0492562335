/* The STFT's portable loops: the table of every CPU without AVX2 (see stft_kernels.h). */
#include "stft_kernels.h"

STFT_SIMPLE_KERNELS(generic)

const stft_kernels tsr_stft_generic = {all_finite_generic, window_generic, split_generic,
                                       split_magnitude_generic, magnitude_generic};
