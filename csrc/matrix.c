/* matrix kernel. (Being written.) */
#include "tessera.h"
