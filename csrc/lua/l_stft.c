/* tessera.Spectrogram and the STFT bindings. (Being written: see issue 2.) */
#include "l_tessera.h"

void stft_open(lua_State *L) { (void)L; }
