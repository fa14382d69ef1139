/* SHA-256 (FIPS 180-4), for model digests, dataset hashes and prompt hashes. */
#ifndef BD_SHA256_H
#define BD_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct bd_sha256_ctx {
    uint32_t h[8];
    uint64_t nbytes;      /* message length so far */
    uint8_t buf[64];      /* pending partial block */
    size_t nbuf;
} bd_sha256_ctx;

void bd_sha256_init(bd_sha256_ctx *c);
void bd_sha256_update(bd_sha256_ctx *c, const void *data, size_t n);
void bd_sha256_final(bd_sha256_ctx *c, uint8_t out[32]);
/* One shot; hex is 64 lowercase hex digits + NUL. */
void bd_sha256(const void *data, size_t n, uint8_t out[32]);
void bd_sha256_hex(const void *data, size_t n, char hex[65]);
void bd_sha256_to_hex(const uint8_t d[32], char hex[65]);
/* Streams a file in blocks; errors name the file. */
int bd_sha256_file(const char *path, char hex[65], bd_err *err);

#endif
