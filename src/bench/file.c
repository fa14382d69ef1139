#include "file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int bd_file_read(const char *path, char **data, size_t *len, bd_err *err)
{
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return bd_fail(err, BD_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    if (!b) { fclose(f); return bd_oom(err, path); }
    for (;;) {
        if (cap - n < 2) {
            if (cap > ((size_t)1 << 40)) { free(b); fclose(f); return bd_fail(err, BD_EINPUT, "%s: too large", path); }
            char *nb = realloc(b, cap * 2);
            if (!nb) { free(b); fclose(f); return bd_oom(err, path); }
            b = nb;
            cap *= 2;
        }
        size_t got = fread(b + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { free(b); return bd_fail(err, BD_EIO, "%s: read error", path); }
    b[n] = 0;
    *data = b;
    *len = n;
    return 0;
}

int bd_data_find(const char *dir, const char *const *rel, int n_rel, const char *what,
                 const char *howto, char *out, size_t out_size, bd_err *err)
{
    char tried[2048] = "";
    size_t tl = 0;
    /* dir may list several folders separated by ':' (searched in order), so
     * data from different places (e.g. a PyPI package's copy) can be combined */
    for (const char *d = dir;;) {
        const char *e = strchr(d, ':');
        size_t dl = e ? (size_t)(e - d) : strlen(d);
        for (int i = 0; i < n_rel && dl > 0; i++) {
            int k = snprintf(out, out_size, "%.*s/%s", (int)dl, d, rel[i]);
            if (k < 0 || (size_t)k >= out_size) continue;
            struct stat st;
            if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) return 0;
            int w = snprintf(tried + tl, sizeof tried - tl, "%s%s", tl ? ", " : "", out);
            if (w > 0 && (size_t)w < sizeof tried - tl) tl += (size_t)w;
        }
        if (!e) break;
        d = e + 1;
    }
    out[0] = 0;
    return bd_fail(err, BD_EINPUT, "%s not found (looked for %s); %s", what, tried, howto);
}
