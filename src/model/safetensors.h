/* safetensors reader: an 8-byte little-endian header length, a JSON header
 * {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {}}
 * and the data. Every entry is validated: known dtype, shape product without
 * overflow, end - begin == elements x dtype size, within the file, no overlaps. */
#ifndef BD_SAFETENSORS_H
#define BD_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "../util/err.h"

typedef struct bd_st_entry {
    char *name;           /* owned */
    char dtype[12];       /* "F32", "BF16", ... */
    int elem_size;        /* bytes per element */
    int ndim;
    int64_t shape[8];
    const uint8_t *data;  /* into the caller's buffer */
    uint64_t nbytes;
} bd_st_entry;

typedef struct bd_st {
    int n;
    bd_st_entry *e;
    uint64_t header_len;  /* JSON bytes; data starts at 8 + header_len */
} bd_st;

/* Parses base[0..size) (the caller keeps it mapped); path names the file in messages. */
int bd_st_parse(const char *path, const void *base, size_t size, bd_st **out, bd_err *err);
void bd_st_free(bd_st *s);
const bd_st_entry *bd_st_find(const bd_st *s, const char *name);

#endif
