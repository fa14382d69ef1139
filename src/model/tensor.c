/* Dtype tables, half-precision conversions and the scalar reference
 * dequantization of the GGML block formats. Block layouts follow the GGUF
 * specification (all multi-byte fields little-endian, scales as fp16). */
#include "tensor.h"

#include <string.h>

typedef struct dtype_info { const char *name; size_t block_bytes; int block_elems; } dtype_info;

static const dtype_info dtypes[BD_DTYPE_COUNT] = {
    [BD_F32] = {"f32", 4, 1},
    [BD_F16] = {"f16", 2, 1},
    [BD_BF16] = {"bf16", 2, 1},
    [BD_Q8_0] = {"q8_0", 34, 32},   /* fp16 d, int8 q[32] */
    [BD_Q4_0] = {"q4_0", 18, 32},   /* fp16 d, 16 bytes of nibbles */
    [BD_Q4_1] = {"q4_1", 20, 32},   /* fp16 d, fp16 m, 16 bytes of nibbles */
    [BD_Q4_K] = {"q4_K", 144, 256}, /* fp16 d, fp16 dmin, 12 bytes 6-bit scales/mins, 128 bytes nibbles */
    [BD_Q5_K] = {"q5_K", 176, 256}, /* as q4_K plus 32 bytes of fifth bits */
    [BD_Q6_K] = {"q6_K", 210, 256}, /* ql[128], qh[64], int8 scales[16], fp16 d */
    [BD_PACKED] = {"packed", 0, 1},
};

size_t bd_dtype_block_bytes(bd_dtype t)
{
    return (unsigned)t < BD_DTYPE_COUNT ? dtypes[t].block_bytes : 0;
}

int bd_dtype_block_elems(bd_dtype t)
{
    return (unsigned)t < BD_DTYPE_COUNT ? dtypes[t].block_elems : 1;
}

const char *bd_dtype_name(bd_dtype t)
{
    return (unsigned)t < BD_DTYPE_COUNT ? dtypes[t].name : "?";
}

size_t bd_dtype_row_bytes(bd_dtype t, int64_t n)
{
    int be = bd_dtype_block_elems(t);
    return (size_t)(n / be) * bd_dtype_block_bytes(t);
}

int64_t bd_tensor_nelem(const bd_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

float bd_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: normalise the mantissa */
            int e = -1;
            do { man <<= 1; e++; } while (!(man & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t bd_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000, ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) /* inf or nan (keep nan quiet and non-zero) */
        return (uint16_t)(sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 | ((ax >> 13) & 0x3ff) : 0));
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); /* rounds to >= 65520: inf */
    if (ax < 0x38800000u) { /* result is subnormal or zero */
        if (ax < 0x33000000u) return (uint16_t)sign; /* below half the smallest subnormal */
        uint32_t e = ax >> 23, m = (ax & 0x7fffff) | 0x800000;
        int shift = (int)(126 - e); /* 14..24 */
        uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
        return (uint16_t)(sign | q);
    }
    uint32_t q = ((ax >> 13) - ((127 - 15) << 10)), rem = ax & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (q & 1))) q++; /* may carry into the exponent: correct */
    return (uint16_t)(sign | q);
}

float bd_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t bd_f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40); /* quiet nan */
    x += 0x7fff + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

static float ld_f16(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, 2);
    return bd_f16_to_f32(h);
}

/* The 6-bit scale and min of sub-block j (0..7) of a q4_K/q5_K block. */
static void k_scale_min(int j, const uint8_t *q, uint8_t *sc, uint8_t *mn)
{
    if (j < 4) {
        *sc = q[j] & 63;
        *mn = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4));
        *mn = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

static void dq_q8_0(const uint8_t *b, float *y)
{
    float d = ld_f16(b);
    const int8_t *q = (const int8_t *)(b + 2);
    for (int j = 0; j < 32; j++) y[j] = d * q[j];
}

static void dq_q4_0(const uint8_t *b, float *y)
{
    float d = ld_f16(b);
    const uint8_t *q = b + 2;
    for (int j = 0; j < 16; j++) {
        y[j] = d * ((q[j] & 0xf) - 8);
        y[j + 16] = d * ((q[j] >> 4) - 8);
    }
}

static void dq_q4_1(const uint8_t *b, float *y)
{
    float d = ld_f16(b), m = ld_f16(b + 2);
    const uint8_t *q = b + 4;
    for (int j = 0; j < 16; j++) {
        y[j] = d * (q[j] & 0xf) + m;
        y[j + 16] = d * (q[j] >> 4) + m;
    }
}

static void dq_q4_k(const uint8_t *b, float *y)
{
    float d = ld_f16(b), dmin = ld_f16(b + 2);
    const uint8_t *scales = b + 4, *q = b + 16;
    for (int c = 0; c < 4; c++) { /* 64 values per chunk: low nibbles then high nibbles of 32 bytes */
        uint8_t sc, mn;
        k_scale_min(2 * c, scales, &sc, &mn);
        float d1 = d * sc, m1 = dmin * mn;
        k_scale_min(2 * c + 1, scales, &sc, &mn);
        float d2 = d * sc, m2 = dmin * mn;
        for (int l = 0; l < 32; l++) y[l] = d1 * (q[l] & 0xf) - m1;
        for (int l = 0; l < 32; l++) y[32 + l] = d2 * (q[l] >> 4) - m2;
        q += 32;
        y += 64;
    }
}

static void dq_q5_k(const uint8_t *b, float *y)
{
    float d = ld_f16(b), dmin = ld_f16(b + 2);
    const uint8_t *scales = b + 4, *qh = b + 16, *ql = b + 48;
    for (int c = 0; c < 4; c++) {
        uint8_t sc, mn;
        k_scale_min(2 * c, scales, &sc, &mn);
        float d1 = d * sc, m1 = dmin * mn;
        k_scale_min(2 * c + 1, scales, &sc, &mn);
        float d2 = d * sc, m2 = dmin * mn;
        int u1 = 1 << (2 * c), u2 = 2 << (2 * c);
        for (int l = 0; l < 32; l++) y[l] = d1 * ((ql[l] & 0xf) + ((qh[l] & u1) ? 16 : 0)) - m1;
        for (int l = 0; l < 32; l++) y[32 + l] = d2 * ((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
        ql += 32;
        y += 64;
    }
}

static void dq_q6_k(const uint8_t *b, float *y)
{
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc = (const int8_t *)(b + 192);
    float d = ld_f16(b + 208);
    for (int h = 0; h < 2; h++) { /* two halves of 128 values */
        for (int l = 0; l < 32; l++) {
            int is = l / 16;
            int q1 = (int)((ql[l] & 0xf) | ((qh[l] & 3) << 4)) - 32;
            int q2 = (int)((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32;
            int q3 = (int)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            int q4 = (int)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l] = d * sc[is] * q1;
            y[l + 32] = d * sc[is + 2] * q2;
            y[l + 64] = d * sc[is + 4] * q3;
            y[l + 96] = d * sc[is + 6] * q4;
        }
        y += 128;
        ql += 64;
        qh += 32;
        sc += 8;
    }
}

void bd_dequant_row(bd_dtype t, const void *src, float *dst, int64_t n)
{
    const uint8_t *p = src;
    switch (t) {
    case BD_F32:
        memcpy(dst, src, (size_t)n * 4);
        return;
    case BD_F16:
        for (int64_t i = 0; i < n; i++) dst[i] = ld_f16(p + 2 * i);
        return;
    case BD_BF16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            dst[i] = bd_bf16_to_f32(h);
        }
        return;
    default:
        break;
    }
    void (*blk)(const uint8_t *, float *);
    switch (t) {
    case BD_Q8_0: blk = dq_q8_0; break;
    case BD_Q4_0: blk = dq_q4_0; break;
    case BD_Q4_1: blk = dq_q4_1; break;
    case BD_Q4_K: blk = dq_q4_k; break;
    case BD_Q5_K: blk = dq_q5_k; break;
    case BD_Q6_K: blk = dq_q6_k; break;
    default: return;
    }
    int be = dtypes[t].block_elems;
    size_t bb = dtypes[t].block_bytes;
    for (int64_t i = 0; i < n / be; i++) blk(p + (size_t)i * bb, dst + i * be);
}

void bd_tensor_row(const bd_tensor *t, int64_t r, float *dst)
{
    if (t->dtype == BD_PACKED) {
        t->ops->row(t, r, dst);
        return;
    }
    int64_t n = t->shape[t->ndim - 1];
    const uint8_t *p = (const uint8_t *)t->data + (size_t)r * bd_dtype_row_bytes(t->dtype, n);
    bd_dequant_row(t->dtype, p, dst, n);
}
