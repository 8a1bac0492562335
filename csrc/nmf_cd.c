/* Coordinate-descent NMF solver. (Being written.) */
#include "nmf.h"
