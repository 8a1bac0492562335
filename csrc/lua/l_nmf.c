/* NMF bindings. (Being written: see issue 3.) */
#include "l_tessera.h"

void nmf_open(lua_State *L) { (void)L; }
