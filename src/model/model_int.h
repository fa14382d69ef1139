/* Shared internals of the model loaders (not used outside src/model/). */
#ifndef BD_MODEL_INT_H
#define BD_MODEL_INT_H

#include <stdint.h>

#include "model.h"

/* Appends a tensor view to m->tensors (capacity grows); returns it or NULL (err set). */
bd_tensor *bd_model_add(bd_model *m, const char *name, bd_dtype dt, int ndim, const int64_t *shape,
                        const void *data, size_t nbytes, bd_err *err);
/* mmaps a whole file read-only and records it in m->maps (unmapped on free). */
int bd_model_map(bd_model *m, const char *path, const uint8_t **base, size_t *size, bd_err *err);
/* Validates config values and the bound tensors' dtypes and shapes against
 * the config; src names the file for messages. */
int bd_model_check(bd_model *m, const char *src, bd_err *err);
/* Reads a whole small file (NUL-terminated, malloc'd), at most max bytes. */
int bd_read_small_file(const char *path, size_t max, char **out, size_t *len, bd_err *err);

/* Loaders cap the tensor table: far above real models (a few thousand), low
 * enough that a hostile header cannot make the tables huge. */
#define BD_MAX_TENSORS 65536

/* A sorted view of m->tensors by name for O(log n) lookups while binding;
 * build it after the last bd_model_add. Duplicate names are an error. */
typedef struct bd_name_index { bd_tensor **v; int n; } bd_name_index;
int bd_name_index_build(bd_model *m, const char *src, bd_name_index *ix, bd_err *err);
bd_tensor *bd_name_index_find(const bd_name_index *ix, const char *name);
void bd_name_index_free(bd_name_index *ix);

int bd_load_gguf(bd_model *m, const char *path, bd_err *err);
int bd_load_hf(bd_model *m, const char *dir, bd_err *err);
int bd_load_llama2c(bd_model *m, const char *path, bd_err *err);

#endif
