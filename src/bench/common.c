/* Shared pieces of the benchmark interface: clearing, registry, loading. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/sha256.h"
#include "bench.h"
#include "benches.h"

void bd_ask_clear(bd_ask *a)
{
    free(a->text);
    free(a->gen);
    memset(a, 0, sizeof *a);
}

void bd_item_out_clear(bd_item_out *o)
{
    free(o->skip_reason);
    free(o->output);
    free(o->answer);
    free(o->scores);
    memset(o, 0, sizeof *o);
}

void bd_metric_defs_free(bd_metric_def *d, size_t n)
{
    if (!d) return;
    for (size_t i = 0; i < n; i++) {
        free(d[i].name);
        free(d[i].grp);
        free(d[i].spec);
    }
    free(d);
}

char *bd_json_escape_dup(const char *s)
{
    size_t n = strlen(s);
    if (n > ((size_t)1 << 40)) return NULL;
    char *o = malloc(n * 6 + 3), *p = o;
    if (!o) return NULL;
    *p++ = '"';
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        switch (*c) {
        case '"': *p++ = '\\'; *p++ = '"'; break;
        case '\\': *p++ = '\\'; *p++ = '\\'; break;
        case '\n': *p++ = '\\'; *p++ = 'n'; break;
        case '\r': *p++ = '\\'; *p++ = 'r'; break;
        case '\t': *p++ = '\\'; *p++ = 't'; break;
        default:
            if (*c < 0x20) p += sprintf(p, "\\u%04x", *c);
            else *p++ = (char)*c;
        }
    }
    *p++ = '"';
    *p = 0;
    return o;
}

static const bd_bench_def *const ALL[] = {
    &bd_bench_crows, &bd_bench_crows_lmeval, &bd_bench_goqa, &bd_bench_worldbench,
    &bd_bench_dt, &bd_bench_dt_sampled, &bd_bench_discrim, &bd_bench_discrim_effects,
    &bd_bench_discrim_gen,
};

const bd_bench_def *const *bd_benches(size_t *n)
{
    *n = sizeof ALL / sizeof ALL[0];
    return ALL;
}

const bd_bench_def *bd_bench_find(const char *name)
{
    for (size_t i = 0; i < sizeof ALL / sizeof ALL[0]; i++)
        if (!strcmp(ALL[i]->name, name)) return ALL[i];
    return NULL;
}

void bd_bench_data_free(bd_bench_data *d)
{
    if (!d) return;
    for (size_t i = 0; i < d->n; i++) {
        if (d->keys) free(d->keys[i]);
        if (d->groups) free(d->groups[i]);
    }
    free(d->keys);
    free(d->groups);
    for (int i = 0; i < d->n_files; i++) free(d->files[i]);
    if (d->priv && d->def && d->def->free_priv) d->def->free_priv(d->priv);
    free(d);
}

static int cmp_key_row(const void *a, const void *b)
{
    const char *const *x = a, *const *y = b;
    int c = strcmp(*x, *y);
    return c ? c : (*x < *y ? -1 : *x > *y);
}

/* Item keys identify results in the database (INSERT OR IGNORE, resume,
 * pairing with the baseline): two rows with one key would silently keep one
 * result and drop the other, so a dataset with a repeated key is refused. */
static int check_keys(const bd_bench_data *d, bd_err *err)
{
    if (d->n < 2) return 0;
    const char **k = malloc(d->n * sizeof *k);
    if (!k) return bd_oom(err, "key check");
    for (size_t i = 0; i < d->n; i++) k[i] = d->keys[i];
    qsort(k, d->n, sizeof *k, cmp_key_row);
    int rc = 0;
    for (size_t i = 1; i < d->n && !rc; i++)
        if (!strcmp(k[i - 1], k[i])) {
            size_t a = 0, b = 0;
            for (size_t j = 0; j < d->n; j++) {
                if (d->keys[j] == k[i - 1]) a = j;
                if (d->keys[j] == k[i]) b = j;
            }
            rc = bd_fail(err, BD_EINPUT, "%s: %s: rows %zu and %zu have the same item key \"%s\" (results would overwrite "
                         "each other)", d->def->name, d->n_files ? d->files[0] : "dataset", a < b ? a : b, a < b ? b : a, k[i]);
        }
    free(k);
    return rc;
}

int bd_bench_load(const bd_bench_def *def, const char *dir, bd_bench_data **out, bd_err *err)
{
    *out = NULL;
    bd_bench_data *d = calloc(1, sizeof *d);
    if (!d) return bd_oom(err, "bench data");
    d->def = def;
    int rc = def->load(dir, d, err);
    if (!rc) rc = check_keys(d, err);
    if (rc) { bd_bench_data_free(d); return rc; }
    *out = d;
    return 0;
}

int bd_bench_data_sha256(const bd_bench_data *d, char hex[65], bd_err *err)
{
    if (d->n_files == 1) return bd_sha256_file(d->files[0], hex, err);
    bd_sha256_ctx c;
    bd_sha256_init(&c);
    for (int i = 0; i < d->n_files; i++) {
        char h[65];
        int rc = bd_sha256_file(d->files[i], h, err);
        if (rc) return rc;
        const char *base = strrchr(d->files[i], '/');
        base = base ? base + 1 : d->files[i];
        bd_sha256_update(&c, h, 64);
        bd_sha256_update(&c, "  ", 2);
        bd_sha256_update(&c, base, strlen(base));
        bd_sha256_update(&c, "\n", 1);
    }
    uint8_t dg[32];
    bd_sha256_final(&c, dg);
    bd_sha256_to_hex(dg, hex);
    return 0;
}
