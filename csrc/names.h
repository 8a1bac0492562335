/* Names a user can misspell (options, losses, windows, commands): which known name was
 * meant. The one "did you mean" of tessera: the bindings (laux_suggest), the Lua library
 * (core.util.closest, args.did_you_mean) and the host's option check all ask it. */
#ifndef TSR_NAMES_H
#define TSR_NAMES_H

#include <stddef.h>

/* The optimal string alignment distance between a and b, case folded (ASCII): the fewest
 * insertions, deletions, substitutions and swaps of two neighbouring letters that turn one
 * into the other, no letter edited twice. Names longer than 64 bytes count as far (65). */
int tsr_name_distance(const char *a, const char *b);

/* The candidate closest to name (the first of equals), or NULL when none is close: a
 * difference of case only, one edit in names of 3 letters or more, two in names of 8 or
 * more ("han" -> "hann", "lose" -> "loss", "grifinlim" -> "griffinlim"; never "is" -> "kl"
 * or "hanning" -> "hamming"). An exact match is not a suggestion (NULL). The result
 * points into candidates; n of them, or up to a NULL entry when n is (size_t)-1. */
const char *tsr_closest_name(const char *name, const char *const *candidates, size_t n);

#endif
