/* The closest known name to a misspelt one (names.h). */
#include "names.h"

#include <string.h>

#define MAX_NAME 64

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; }

static int min3(int a, int b, int c) {
  int m = a < b ? a : b;
  return m < c ? m : c;
}

int tsr_name_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > MAX_NAME || lb > MAX_NAME) return MAX_NAME + 1;
  /* Three rows of the dynamic programme: the one before last is for swaps. */
  int rows[3][MAX_NAME + 1];
  int *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
  for (size_t j = 0; j <= lb; j++) prev[j] = (int)j;
  for (size_t i = 1; i <= la; i++) {
    cur[0] = (int)i;
    for (size_t j = 1; j <= lb; j++) {
      int cost = lower(a[i - 1]) != lower(b[j - 1]);
      cur[j] = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
          lower(a[i - 2]) == lower(b[j - 1]) && prev2[j - 2] + 1 < cur[j])
        cur[j] = prev2[j - 2] + 1;
    }
    int *t = prev2;
    prev2 = prev;
    prev = cur;
    cur = t;
  }
  return prev[lb];
}

const char *tsr_closest_name(const char *name, const char *const *candidates, size_t n) {
  const char *best = NULL;
  int best_d = 3; /* more than 2 edits is never a suggestion */
  size_t len = strlen(name);
  for (size_t i = 0; i < n && candidates[i] != NULL; i++) {
    if (strcmp(name, candidates[i]) == 0) return NULL;
    size_t lc = strlen(candidates[i]);
    size_t longer = len > lc ? len : lc;
    int d = tsr_name_distance(name, candidates[i]);
    /* Case only, one edit of a name of 3 letters or more, two of one of 8 or more: "hanning"
     * is not taken for "hamming", two edits away in seven letters. */
    int close = d == 0 || (d == 1 && longer >= 3) || (d == 2 && longer >= 8);
    if (d < best_d && close) {
      best = candidates[i];
      best_d = d;
    }
  }
  return best;
}
