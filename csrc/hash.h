/* SHA-256 of memory and of files: content keys for the decomposition cache and checksums
 * that detect a truncated or altered cache entry. */
#ifndef TSR_HASH_H
#define TSR_HASH_H

#include "tessera.h"

typedef struct tsr_sha256 {
  uint32_t state[8];
  uint64_t length;      /* bytes hashed so far */
  unsigned char block[64];
  size_t used;          /* bytes waiting in block */
} tsr_sha256;

void tsr_sha256_init(tsr_sha256 *h);
void tsr_sha256_update(tsr_sha256 *h, const void *data, size_t len);
/* Writes the 32-byte digest; h must be initialised again before reuse. */
void tsr_sha256_final(tsr_sha256 *h, unsigned char digest[32]);

/* Hashes a whole file; returns TSR_OK or TSR_EIO with the reason in err. */
int tsr_sha256_file(const char *path, unsigned char digest[32], tsr_error *err);

/* The compression of `blocks` 64-byte blocks with the x86 SHA extensions (hash_sha.c, built
 * with their flags): call only when tsr_simd_sha() says the CPU has them. K is SHA-256's
 * round constants. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TSR_HAVE_SHA_NI 1
void tsr_sha256_compress_ni(uint32_t state[8], const uint32_t K[64], const unsigned char *data,
                            size_t blocks);
#endif

/* Lowercase hex of a digest into out (65 bytes with the terminating NUL). */
void tsr_hex(const unsigned char *digest, size_t len, char *out);

#endif
