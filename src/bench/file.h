/* Small file helpers for the benchmark loaders. */
#ifndef BD_BENCH_FILE_H
#define BD_BENCH_FILE_H

#include <stddef.h>

#include "../util/err.h"

/* Reads a whole file; *data is malloc'd and NUL-terminated. */
int bd_file_read(const char *path, char **data, size_t *len, bd_err *err);
/* Finds the first existing path among dir/rel[i], for each folder of dir (a
 * ':'-separated list, searched in order); writes it to out. If none
 * exists fails (BD_EINPUT) naming the file, every place looked and `howto`. */
int bd_data_find(const char *dir, const char *const *rel, int n_rel, const char *what,
                 const char *howto, char *out, size_t out_size, bd_err *err);

#endif
