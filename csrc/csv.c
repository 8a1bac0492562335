/* csv kernel. (Being written.) */
#include "tessera.h"
