/* npy kernel. (Being written.) */
#include "tessera.h"
