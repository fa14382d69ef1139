/* A packed tensor as a few raw byte arrays plus integer parameters, so that
 * a transformed model can be saved and restored bit for bit (export.c).
 * parts() points into the tensor; restore() takes ownership of malloc'd
 * arrays of exactly the lengths parts() reported for the same shape. */
#ifndef BD_ACCEL_PARTS_H
#define BD_ACCEL_PARTS_H

#include <stddef.h>
#include <stdint.h>

#include "../model/tensor.h"
#include "../util/err.h"

enum { BD_PARTS_MAX = 4, BD_PARAMS_MAX = 4 };

typedef struct bd_parts {
    int n;
    const void *ptr[BD_PARTS_MAX];
    size_t len[BD_PARTS_MAX];
    int64_t param[BD_PARAMS_MAX];
} bd_parts;

int bd_bnb4_parts(const bd_tensor *t, bd_parts *p);
int bd_bnb4_restore(bd_tensor *t, void **bufs, const bd_parts *p, bd_err *err);
int bd_int8_parts(const bd_tensor *t, bd_parts *p);
int bd_int8_restore(bd_tensor *t, void **bufs, const bd_parts *p, bd_err *err);
int bd_sparse24_parts(const bd_tensor *t, bd_parts *p);
int bd_sparse24_restore(bd_tensor *t, void **bufs, const bd_parts *p, bd_err *err);
int bd_awq4_parts(const bd_tensor *t, bd_parts *p);
int bd_awq4_restore(bd_tensor *t, void **bufs, const bd_parts *p, bd_err *err);

#endif
