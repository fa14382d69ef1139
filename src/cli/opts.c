#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static bd_opt *find(bd_opt *opts, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(opts[i].name, name) || (opts[i].alias && !strcmp(opts[i].alias, name)))
            return &opts[i];
    return NULL;
}

static void print_help(const bd_opt *opts, int n, const char *usage)
{
    printf("%s\n\noptions:\n", usage);
    for (int i = 0; i < n; i++) {
        char names[64];
        snprintf(names, sizeof names, "%s%s%s%s", opts[i].name, opts[i].alias ? ", " : "",
                 opts[i].alias ? opts[i].alias : "", opts[i].has_val ? " X" : "");
        printf("  %-22s %s\n", names, opts[i].help);
    }
}

int bd_opts_parse(int argc, char **argv, bd_opt *opts, int n, const char *usage)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { print_help(opts, n, usage); return -1; }
        const char *eq = (a[0] == '-' && a[1] == '-') ? strchr(a, '=') : NULL;
        char name[64];
        if (eq) {
            size_t k = (size_t)(eq - a);
            if (k >= sizeof name) k = sizeof name - 1;
            memcpy(name, a, k);
            name[k] = 0;
        } else {
            snprintf(name, sizeof name, "%s", a);
        }
        bd_opt *o = find(opts, n, name);
        if (!o) {
            fprintf(stderr, "biasdrift %s: unknown option '%s' (see --help)\n", argv[0], a);
            return 2;
        }
        if (!o->has_val) {
            if (eq) { fprintf(stderr, "biasdrift %s: option '%s' takes no value\n", argv[0], name); return 2; }
            o->val = "1";
        } else if (eq) {
            o->val = eq + 1;
        } else {
            if (i + 1 >= argc) {
                fprintf(stderr, "biasdrift %s: option '%s' needs a value\n", argv[0], name);
                return 2;
            }
            o->val = argv[++i];
        }
    }
    return 0;
}

const char *bd_opt_get(const bd_opt *opts, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(opts[i].name, name)) return opts[i].val;
    return NULL;
}

int bd_opt_int(const bd_opt *opts, int n, const char *name, long long lo, long long hi, long long *out)
{
    const char *v = bd_opt_get(opts, n, name);
    if (!v) return 0;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) {
        fprintf(stderr, "biasdrift: option %s: expected an integer in [%lld, %lld], got '%s'\n",
                name, lo, hi, v);
        return 2;
    }
    *out = x;
    return 0;
}

int bd_opt_float(const bd_opt *opts, int n, const char *name, double lo, double hi, double *out)
{
    const char *v = bd_opt_get(opts, n, name);
    if (!v) return 0;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(x) || x < lo || x > hi) {
        fprintf(stderr, "biasdrift: option %s: expected a number in [%g, %g], got '%s'\n",
                name, lo, hi, v);
        return 2;
    }
    *out = x;
    return 0;
}

int bd_cli_report(const bd_err *err)
{
    fprintf(stderr, "biasdrift: %s\n", err->msg[0] ? err->msg : "unknown error");
    return bd_exit_status(err->code ? err->code : BD_EFAIL);
}
