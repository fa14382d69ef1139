/* A named weight tensor: a view of bytes (usually into an mmapped file) with a
 * dtype and a shape in row-major (PyTorch/numpy) order. A linear layer's weight
 * is [out, in]: row r holds the `in` weights of output r, contiguous. */
#ifndef BD_TENSOR_H
#define BD_TENSOR_H

#include <stddef.h>
#include <stdint.h>

typedef enum bd_dtype {
    BD_F32 = 0,
    BD_F16,
    BD_BF16,
    BD_Q8_0,   /* GGUF block formats: blocks run along the last (row) dimension */
    BD_Q4_0,
    BD_Q4_1,
    BD_Q4_K,
    BD_Q5_K,
    BD_Q6_K,
    BD_PACKED, /* a format owned by an accel strategy: see bd_tensor.ops */
    BD_DTYPE_COUNT
} bd_dtype;

struct bd_tensor;

/* Kernels for a packed (accel) weight format. The engine calls matmul from
 * several threads at once on disjoint row ranges. Activations are fp32. */
typedef struct bd_wops {
    const char *name; /* e.g. "nf4", "int8", "awq4", "sparse24" */
    /* Optional: done once per call (single thread) before matmul, e.g. the
     * per-token activation quantization of LLM.int8. prep_size returns the
     * bytes of scratch needed for n tokens (0 = no prep). */
    size_t (*prep_size)(const struct bd_tensor *w, int n);
    void (*prep)(const struct bd_tensor *w, const float *x, int n, void *scratch);
    /* y[t*out + r] = sum_i W[r,i] * x[t*in + i], t in [0,n), r in [r0,r1). */
    void (*matmul)(const struct bd_tensor *w, const float *x, const void *scratch,
                   int n, float *y, int64_t r0, int64_t r1);
    /* Dequantize row r into dst[in] (used for embeddings lookups and tests). */
    void (*row)(const struct bd_tensor *w, int64_t r, float *dst);
    void (*free)(struct bd_tensor *w); /* frees w->data/w->aux if owned */
} bd_wops;

typedef struct bd_tensor {
    char name[96];
    bd_dtype dtype;
    int ndim;
    int64_t shape[4];   /* row-major; shape[ndim-1] is the contiguous dimension */
    const void *data;   /* stored bytes (mmap or owned heap) */
    size_t nbytes;      /* bytes of data (and aux) actually used: the memory figure */
    const bd_wops *ops; /* non-NULL only for BD_PACKED */
    void *aux;          /* format-specific state for ops (owned via ops->free) */
    int owned;          /* data is heap memory owned by the tensor */
} bd_tensor;

/* Bytes per block / elements per block of the GGUF-style dtypes; for scalar
 * types the block is one element. Returns 0 for BD_PACKED. */
size_t bd_dtype_block_bytes(bd_dtype t);
int bd_dtype_block_elems(bd_dtype t);
const char *bd_dtype_name(bd_dtype t);
/* Bytes of one row of n elements (n must be a multiple of the block size). */
size_t bd_dtype_row_bytes(bd_dtype t, int64_t n);
/* Reference (scalar) dequantization of n elements of a row of type t. */
void bd_dequant_row(bd_dtype t, const void *src, float *dst, int64_t n);
int64_t bd_tensor_nelem(const bd_tensor *t);
/* Row r of a 2-D tensor as fp32 (handles every dtype including packed). */
void bd_tensor_row(const bd_tensor *t, int64_t r, float *dst);

/* fp16 / bf16 scalar conversions (round-to-nearest-even on the way down). */
float bd_f16_to_f32(uint16_t h);
uint16_t bd_f32_to_f16(float f);
float bd_bf16_to_f32(uint16_t h);
uint16_t bd_f32_to_bf16(float f);

#endif
