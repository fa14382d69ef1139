/* GGUF v2/v3 reader: header, metadata key/values, tensor infos. Every count,
 * length and offset is validated against the file size before use, so after a
 * successful bd_gguf_open every string, array and tensor extent lies inside
 * the mmapped file and callers need no further bounds checks.
 *
 * Tensor data is never converted here: a tensor is a view of its stored bytes
 * (F32/F16/BF16 or a GGML block format) in the read-only mapping. The engine
 * computes from the stored dtype directly; quantized blocks are dequantized
 * on the fly, one row or block at a time (see bd_dequant_row in tensor.h). */
#ifndef BD_GGUF_H
#define BD_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "../util/err.h"

typedef enum bd_gguf_type {
    BD_GGUF_U8 = 0, BD_GGUF_I8 = 1, BD_GGUF_U16 = 2, BD_GGUF_I16 = 3,
    BD_GGUF_U32 = 4, BD_GGUF_I32 = 5, BD_GGUF_F32 = 6, BD_GGUF_BOOL = 7,
    BD_GGUF_STRING = 8, BD_GGUF_ARRAY = 9, BD_GGUF_U64 = 10, BD_GGUF_I64 = 11,
    BD_GGUF_F64 = 12
} bd_gguf_type;

typedef struct bd_gguf_str { uint64_t len; const char *ptr; } bd_gguf_str; /* not NUL-terminated */

typedef struct bd_gguf_kv {
    bd_gguf_str key;
    bd_gguf_type type;
    uint64_t offset;            /* file offset of the value, for error messages */
    union { uint64_t u; int64_t i; double f; bd_gguf_str s; } v; /* scalars */
    bd_gguf_type arr_type;      /* for arrays */
    uint64_t arr_len;
    const void *arr_data;       /* for numeric arrays: raw little-endian elements */
    bd_gguf_str *arr_strs;      /* for string arrays: arr_len entries (owned) */
} bd_gguf_kv;

typedef struct bd_gguf_tensor {
    bd_gguf_str name;
    uint32_t n_dims;
    uint64_t dims[4];  /* GGUF order: dims[0] is the contiguous dimension */
    uint32_t ggml_type;
    uint64_t offset;   /* relative to the data section */
    /* Filled by bd_gguf_open after validation: */
    int dtype;         /* bd_dtype of ggml_type */
    uint64_t nbytes;   /* byte extent of the data */
    const void *data;  /* base + data_offset + offset */
} bd_gguf_tensor;

typedef struct bd_gguf {
    char path[4096];
    const uint8_t *base;   /* mmapped file */
    size_t size;
    uint32_t version;
    uint64_t n_kv, n_tensors;
    bd_gguf_kv *kv;
    bd_gguf_tensor *tensors;
    uint64_t alignment;
    uint64_t data_offset;
    int mapped;            /* base is our mmap (unmapped by bd_gguf_close) */
} bd_gguf;

int bd_gguf_open(const char *path, bd_gguf **out, bd_err *err);
void bd_gguf_close(bd_gguf *g);
const bd_gguf_kv *bd_gguf_find(const bd_gguf *g, const char *key);
/* Typed getters: return 0 and set *out if the key exists with a compatible
 * type; BD_EINPUT (naming file, key and expected type) if the type is wrong;
 * 1 (no error set) if absent. */
int bd_gguf_get_u64(const bd_gguf *g, const char *key, uint64_t *out, bd_err *err);
int bd_gguf_get_f64(const bd_gguf *g, const char *key, double *out, bd_err *err);
int bd_gguf_get_str(const bd_gguf *g, const char *key, bd_gguf_str *out, bd_err *err);
int bd_gguf_get_bool(const bd_gguf *g, const char *key, int *out, bd_err *err);

/* Finds a tensor info by name, NULL if absent. */
const bd_gguf_tensor *bd_gguf_find_tensor(const bd_gguf *g, const char *name);
/* Maps a ggml type id (F32=0, F16=1, Q4_0=2, Q4_1=3, Q8_0=8, Q4_K=12, Q5_K=13,
 * Q6_K=14, BF16=30) to a bd_dtype; -1 for any other id. */
int bd_gguf_dtype(uint32_t ggml_type);
/* Name of a ggml type id ("q4_K", "iq2_xs", ...) for messages; "?" if unknown. */
const char *bd_gguf_type_name(uint32_t ggml_type);
/* Parses a GGUF image already in memory (base/size stay owned by the caller
 * and must outlive *out); `path` is used in messages only. For fuzzing and
 * tests; bd_gguf_open mmaps a file and calls this. */
int bd_gguf_parse(const char *path, const void *base, size_t size, bd_gguf **out, bd_err *err);

#endif
