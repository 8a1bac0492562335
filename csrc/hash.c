/* SHA-256 (FIPS 180-4), written plainly, and with the x86 SHA extensions where the CPU has
 * them (hash_sha.c): batch hashes every input for its stamp, where the plain rounds'
 * cost shows in a batch of short loops (docs/DECISIONS.md). */
#include "hash.h"
#include "simd.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const uint32_t K[64] = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void compress_plain(uint32_t state[8], const unsigned char block[64]) {
  uint32_t w[64];
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)block[4 * i] << 24 | (uint32_t)block[4 * i + 1] << 16 |
           (uint32_t)block[4 * i + 2] << 8 | (uint32_t)block[4 * i + 3];
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
  uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
  for (int i = 0; i < 64; i++) {
    uint32_t t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
    uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    h = g; g = f; f = e; e = d + t1;
    d = c; c = b; b = a; a = t1 + t2;
  }
  state[0] += a; state[1] += b; state[2] += c; state[3] += d;
  state[4] += e; state[5] += f; state[6] += g; state[7] += h;
}

static void compress(uint32_t state[8], const unsigned char *data, size_t blocks) {
#ifdef TSR_HAVE_SHA_NI
  if (tsr_simd_sha()) {
    tsr_sha256_compress_ni(state, K, data, blocks);
    return;
  }
#endif
  for (; blocks > 0; blocks--, data += 64) compress_plain(state, data);
}

void tsr_sha256_init(tsr_sha256 *h) {
  static const uint32_t initial[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                      0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  memcpy(h->state, initial, sizeof initial);
  h->length = 0;
  h->used = 0;
}

void tsr_sha256_update(tsr_sha256 *h, const void *data, size_t len) {
  const unsigned char *p = data;
  h->length += len;
  while (len > 0) {
    if (h->used == 0 && len >= 64) { /* whole blocks straight from the input */
      size_t blocks = len / 64;
      compress(h->state, p, blocks);
      p += blocks * 64;
      len -= blocks * 64;
      continue;
    }
    size_t take = 64 - h->used;
    if (take > len) take = len;
    memcpy(h->block + h->used, p, take);
    h->used += take;
    p += take;
    len -= take;
    if (h->used == 64) {
      compress(h->state, h->block, 1);
      h->used = 0;
    }
  }
}

void tsr_sha256_final(tsr_sha256 *h, unsigned char digest[32]) {
  uint64_t bits = h->length * 8;
  unsigned char pad = 0x80;
  tsr_sha256_update(h, &pad, 1);
  unsigned char zero = 0;
  while (h->used != 56) tsr_sha256_update(h, &zero, 1);
  unsigned char len_be[8];
  for (int i = 0; i < 8; i++) len_be[i] = (unsigned char)(bits >> (56 - 8 * i));
  tsr_sha256_update(h, len_be, 8);
  for (int i = 0; i < 8; i++) {
    digest[4 * i] = (unsigned char)(h->state[i] >> 24);
    digest[4 * i + 1] = (unsigned char)(h->state[i] >> 16);
    digest[4 * i + 2] = (unsigned char)(h->state[i] >> 8);
    digest[4 * i + 3] = (unsigned char)h->state[i];
  }
}

int tsr_sha256_file(const char *path, unsigned char digest[32], tsr_error *err) {
  int fd = tsr_open_regular(path, err); /* a FIFO or /dev/zero would never end */
  if (fd < 0) return TSR_EIO;
  tsr_sha256 h;
  tsr_sha256_init(&h);
  unsigned char buf[65536];
  int status = TSR_OK;
  for (;;) {
    if (tsr_interrupted()) { /* Ctrl-C, SIGTERM, a recipe's time limit */
      tsr_seterror(err, "cannot read '%s': interrupted", path);
      status = TSR_EINTR;
      break;
    }
    ssize_t got = read(fd, buf, sizeof buf);
    if (got == 0) break;
    if (got < 0) {
      if (errno == EINTR) continue;
      tsr_seterror(err, "cannot read '%s': %s", path, strerror(errno));
      status = TSR_EIO;
      break;
    }
    tsr_sha256_update(&h, buf, (size_t)got);
  }
  close(fd);
  if (status == TSR_OK) tsr_sha256_final(&h, digest);
  return status;
}

void tsr_hex(const unsigned char *digest, size_t len, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < len; i++) {
    out[2 * i] = digits[digest[i] >> 4];
    out[2 * i + 1] = digits[digest[i] & 15];
  }
  out[2 * len] = '\0';
}
