/* stft kernel. (Being written.) */
#include "tessera.h"
