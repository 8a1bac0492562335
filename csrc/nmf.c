/* nmf kernel. (Being written.) */
#include "tessera.h"
