/* audio kernel. (Being written.) */
#include "tessera.h"
