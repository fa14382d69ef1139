/* jinja2's tests (is defined, is string, ...) and filters (trim, tojson,
 * selectattr, sort, ...) with their Python semantics. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jinja_ev.h"

/* ---------- tests ---------- */
int jx_run_test(ev *E, const char *name, jx_val v, const args *a, size_t pos)
{
    jx *J = E->J;
    jx_val arg = a->n_pos ? a->pos[0] : jv_undef(NULL);
    static const char *const unary[] = {"defined", "undefined", "none", "string", "mapping", "iterable",
                                        "sequence", "number", "integer", "float", "boolean", "true", "false",
                                        "callable", "odd", "even", "lower", "upper", NULL};
    int takes = 1;
    for (int i = 0; unary[i]; i++) if (!strcmp(name, unary[i])) takes = 0;
    if (a->n_kw) jx_fail(J, BD_EUNSUP, pos, "keyword arguments to tests are not supported");
    if (a->n_pos > takes)
        jx_fail(J, BD_EINPUT, pos, "TypeError: test_%s() takes %d positional argument%s but %d were given",
                name, takes + 1, takes ? "s" : "", a->n_pos + 1);
    if (!strcmp(name, "defined")) return v.t != JV_UNDEF;
    if (!strcmp(name, "undefined")) return v.t == JV_UNDEF;
    if (!strcmp(name, "none")) return v.t == JV_NONE;
    if (!strcmp(name, "string")) return v.t == JV_STR;
    if (!strcmp(name, "mapping")) return v.t == JV_DICT && !(v.flag & JF_NS);
    if (!strcmp(name, "iterable")) return v.t == JV_STR || v.t == JV_LIST || v.t == JV_UNDEF ||
                                          (v.t == JV_DICT && !(v.flag & JF_NS));
    if (!strcmp(name, "sequence")) return v.t == JV_STR || v.t == JV_UNDEF || (v.t == JV_LIST && !JX_LAZY(v)) || (v.t == JV_DICT && !(v.flag & JF_NS));
    if (!strcmp(name, "number")) return is_numv(v);
    if (!strcmp(name, "integer")) return v.t == JV_INT;
    if (!strcmp(name, "float")) return v.t == JV_FLOAT;
    if (!strcmp(name, "boolean")) return v.t == JV_BOOL;
    if (!strcmp(name, "true")) return v.t == JV_BOOL && v.u.b;
    if (!strcmp(name, "false")) return v.t == JV_BOOL && !v.u.b;
    if (!strcmp(name, "callable")) return v.t == JV_FUNC || v.t == JV_MACRO || v.t == JV_UNDEF;
    if (!strcmp(name, "odd") || !strcmp(name, "even")) {
        /* value % 2 == 1 / == 0, with Python's float modulo */
        if (!is_numv(v)) jx_bad_operands(J, "%", v, jv_int(2), pos);
        double m = is_int(v) ? (double)(((ival(v) % 2) + 2) % 2) : jx_py_fmod(v.u.f, 2.0);
        return name[0] == 'o' ? m == 1.0 : m == 0.0;
    }
    if (!strcmp(name, "divisibleby")) {
        if (!is_numv(v) || !is_numv(arg)) jx_bad_operands(J, "%", v, arg, pos);
        if (fval(arg) == 0) jx_fail(J, BD_EINPUT, pos, "ZeroDivisionError: integer modulo by zero");
        if (is_int(v) && is_int(arg)) return ival(v) % ival(arg) == 0;
        return jx_py_fmod(fval(v), fval(arg)) == 0;
    }
    if (!strcmp(name, "lower") || !strcmp(name, "upper")) {
        jx_str *s = jx_as_str(J, v);
        return jx_str_pred(J, s, name[0] == 'l' ? M_ISLOWER : M_ISUPPER);
    }
    if (!strcmp(name, "sameas")) {
        if (v.t != arg.t) return 0;
        if (v.t == JV_NONE || v.t == JV_UNDEF) return v.t == JV_NONE || v.u.s == arg.u.s;
        if (v.t == JV_BOOL) return v.u.b == arg.u.b;
        if (v.t == JV_INT) return v.u.i == arg.u.i && v.u.i >= -5 && v.u.i <= 256;
        return v.u.fn == arg.u.fn;
    }
    static const struct { const char *n; int op; } cmps[] = {
        {"eq", CMP_EQ}, {"equalto", CMP_EQ}, {"==", CMP_EQ}, {"ne", CMP_NE}, {"!=", CMP_NE},
        {"lt", CMP_LT}, {"lessthan", CMP_LT}, {"<", CMP_LT}, {"le", CMP_LE}, {"<=", CMP_LE},
        {"gt", CMP_GT}, {"greaterthan", CMP_GT}, {">", CMP_GT}, {"ge", CMP_GE}, {">=", CMP_GE},
        {"in", CMP_IN}, {NULL, 0}};
    for (int i = 0; cmps[i].n; i++)
        if (!strcmp(name, cmps[i].n)) {
            if (!a->n_pos) jx_fail(J, BD_EINPUT, pos, "TypeError: test '%s' needs an argument", name);
            return jx_cmp_op(J, cmps[i].op, v, arg, pos);
        }
    if (!strcmp(name, "filter") || !strcmp(name, "test") || !strcmp(name, "escaped"))
        jx_fail(J, BD_EUNSUP, pos, "unsupported test '%s'", name);
    jx_fail(J, BD_EINPUT, pos, "No test named '%s'.", name);
}

/* ---------- filters ---------- */

/* environment.getattr with a dotted path, as jinja2's make_attrgetter */
jx_val jx_attr_path(jx *J, jx_val v, const jx_str *path, size_t pos)
{
    size_t i = 0;
    while (i <= path->n) {
        const char *dot = memchr(path->p + i, '.', path->n - i);
        size_t e = dot ? (size_t)(dot - path->p) : path->n;
        char part[256];
        size_t len = e - i < sizeof part - 1 ? e - i : sizeof part - 1;
        memcpy(part, path->p + i, len);
        part[len] = 0;
        int all_digits = len > 0;
        for (size_t k = 0; k < len; k++) if (part[k] < '0' || part[k] > '9') all_digits = 0;
        if (all_digits && len < 18) v = jx_get_item(J, v, jv_int(strtoll(part, NULL, 10)), pos);
        else v = jx_get_item(J, v, jv_str(J, part), pos);
        if (!dot) break;
        i = e + 1;
    }
    return v;
}

static jx_val select_filter(ev *E, const char *name, jx_val v, const args *a, size_t pos)
{
    jx *J = E->J;
    int by_attr = !strcmp(name, "selectattr") || !strcmp(name, "rejectattr");
    int reject = name[0] == 'r';
    int k = 0;
    const jx_str *attr = NULL;
    if (a->n_kw) jx_fail(J, BD_EUNSUP, pos, "keyword arguments to %s are not supported", name);
    if (by_attr) {
        if (a->n_pos < 1) jx_fail(J, BD_EINPUT, pos, "TypeError: %s needs an attribute name", name);
        attr = jx_need_str(J, a->pos[0], "attribute", pos);
        k = 1;
    }
    const char *test = NULL;
    if (a->n_pos > k) test = jx_need_str(J, a->pos[k], "test name", pos)->p;
    args targs = {a->pos + k + 1, a->n_pos > k + 1 ? a->n_pos - k - 1 : 0, NULL, NULL, 0};
    jx_val lz;
    if (jx_lazy_fail(J, v, NULL, &lz)) return lz;
    jx_list *in = jx_iter_list(J, v, pos);
    jx_list *out = jx_new_list(J, in->n);
    out->n = 0;
    for (size_t i = 0; i < in->n; i++) {
        jx_step(E, pos);
        jx_val x = by_attr ? jx_attr_path(J, in->v[i], attr, pos) : in->v[i];
        int ok = test ? jx_run_test(E, test, x, &targs, pos) : jx_truthy(x);
        if (ok != reject) out->v[out->n++] = in->v[i];
    }
    return jx_gen_of(J, out, JF_GEN);
}

/* sort / min / max: Python's stable sorted() with jinja2's keys (strings
 * compared lower-cased unless case_sensitive; attribute paths, comma separated). */
static jx_val sort_key(jx *J, jx_val x, const jx_str *attr, int cs, int multi, size_t pos)
{
    if (multi) {
        /* sort's make_multi_attrgetter: the key is a list, one item per
         * comma-separated attribute (or [item]); equal undefined parts then
         * compare equal instead of failing */
        if (attr && memchr(attr->p, ',', attr->n)) {
            jx_list *parts = jx_str_split(J, attr, jv_str(J, ","), -1, 0, pos).u.l;
            jx_list *k = jx_new_list(J, parts->n);
            for (size_t i = 0; i < parts->n; i++) k->v[i] = sort_key(J, x, parts->v[i].u.s, cs, 0, pos);
            return jx_list_of(J, k, 0);
        }
        jx_list *k = jx_new_list(J, 1);
        k->v[0] = sort_key(J, x, attr, cs, 0, pos);
        return jx_list_of(J, k, 0);
    }
    if (attr) x = jx_attr_path(J, x, attr, pos);
    if (!cs && x.t == JV_STR) return jx_str_case(J, x.u.s, CASE_LOWER);
    return x;
}

static jx_val sort_filter(ev *E, const char *name, jx_val v, const args *a, size_t pos)
{
    jx *J = E->J;
    jx_val o[3];
    int h[3];
    int is_sort = name[1] == 'o';
    if (is_sort) {
        static const char *const p[] = {"reverse", "case_sensitive", "attribute"};
        jx_bind(J, pos, name, p, 3, 0, a, o, h);
    } else {
        static const char *const p[] = {"case_sensitive", "attribute"};
        jx_bind(J, pos, name, p, 2, 0, a, o + 1, h + 1);
        h[0] = 0;
    }
    int rev = h[0] && jx_truthy(o[0]), cs = h[1] && jx_truthy(o[1]);
    const jx_str *attr = (h[2] && o[2].t != JV_NONE) ? jx_as_str(J, o[2]) : NULL;
    jx_list *src = jx_iter_list(J, v, pos);
    size_t n = src->n;
    jx_val *keys = jx_alloc(J, jx_mul(J, n ? n : 1, sizeof *keys));
    for (size_t i = 0; i < n; i++) keys[i] = sort_key(J, src->v[i], attr, cs, is_sort, pos);
    if (!is_sort) {
        if (!n) return jv_undef(jx_fmt_str(J, "No aggregated item, sequence was empty.%s", "", NULL));
        size_t best = 0;
        for (size_t i = 1; i < n; i++) {
            jx_step(E, pos);
            if (name[1] == 'i' ? jx_compare_lt(J, keys[i], keys[best], pos, 0) : jx_compare_lt(J, keys[best], keys[i], pos, 0))
                best = i;
        }
        return src->v[best];
    }
    /* stable insertion sort over indices (sequences in templates are small) */
    size_t *ord = jx_alloc(J, jx_mul(J, n ? n : 1, sizeof *ord));
    for (size_t i = 0; i < n; i++) ord[i] = i;
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0; j--) {
            jx_step(E, pos);
            jx_val x = keys[ord[j]], y = keys[ord[j - 1]];
            if (!(rev ? jx_compare_lt(J, y, x, pos, 0) : jx_compare_lt(J, x, y, pos, 0))) break;
            size_t t = ord[j]; ord[j] = ord[j - 1]; ord[j - 1] = t;
        }
    jx_list *l = jx_new_list(J, n);
    for (size_t i = 0; i < n; i++) l->v[i] = src->v[ord[i]];
    return jx_list_of(J, l, 0);
}

static jx_val filter_tojson(ev *E, jx_val v, const args *a, size_t pos)
{
    jx *J = E->J;
    static const char *const p[] = {"ensure_ascii", "indent", "separators", "sort_keys"};
    jx_val o[4];
    int h[4];
    jx_bind(J, pos, "tojson", p, 4, 0, a, o, h);
    if (h[0] && jx_truthy(o[0])) jx_fail(J, BD_EUNSUP, pos, "tojson(ensure_ascii=true) is not supported");
    int indent = -1;
    const char *isep = ", ", *ksep = ": ";
    if (h[1] && o[1].t != JV_NONE) {
        if (o[1].t == JV_STR) jx_fail(J, BD_EUNSUP, pos, "tojson with a string indent is not supported");
        indent = (int)jx_need_int(J, o[1], "indent", pos);
        if (indent < 0) indent = 0;
        if (indent > 64) jx_fail(J, BD_EUNSUP, pos, "tojson indent above 64 is not supported");
        isep = ",";
    }
    if (h[2] && o[2].t != JV_NONE) {
        if (o[2].t != JV_LIST || o[2].u.l->n != 2)
            jx_fail(J, BD_EINPUT, pos, "tojson separators must be a pair of strings");
        isep = jx_need_str(J, o[2].u.l->v[0], "separator", pos)->p;
        ksep = jx_need_str(J, o[2].u.l->v[1], "separator", pos)->p;
    }
    jx_buf b = {0};
    jx_buf_put(J, &b, "", 0);
    jx_json(J, &b, v, indent, isep, ksep, h[3] && jx_truthy(o[3]), 0, pos);
    return jv_strn(J, b.p, b.n);
}

jx_val jx_apply_filter(ev *E, const char *name, jx_val v, const args *a, size_t pos)
{
    jx *J = E->J;
    jx_val o[4];
    int h[4];
#define BIND(...) do { static const char *const p_[] = {__VA_ARGS__}; \
    jx_bind(J, pos, name, p_, (int)(sizeof p_ / sizeof *p_), 0, a, o, h); } while (0)
#define NOARGS() do { if (a->n_pos || a->n_kw) jx_fail(J, BD_EINPUT, pos, "TypeError: filter %s takes no arguments", name); } while (0)
    if (!strcmp(name, "trim")) {
        BIND("chars");
        jx_str *s = jx_as_str(J, v);
        return jx_str_strip(J, s, (h[0] && o[0].t != JV_NONE) ? jx_need_str(J, o[0], "chars", pos) : NULL, 1, 1);
    }
    if (!strcmp(name, "length") || !strcmp(name, "count")) {
        NOARGS();
        switch (v.t) {
        case JV_STR: return jv_int((int64_t)jx_utf8_len(v.u.s->p, v.u.s->n));
        case JV_LIST: if (!(v.flag & JF_GEN)) return jv_int((int64_t)v.u.l->n); break;
        case JV_DICT: if (!(v.flag & JF_NS)) return jv_int((int64_t)v.u.d->n); break;
        case JV_UNDEF: return jv_int(0);
        default: break;
        }
        jx_fail(J, BD_EINPUT, pos, "TypeError: object of type '%s' has no len()", tname(v));
    }
    if (!strcmp(name, "tojson")) return filter_tojson(E, v, a, pos);
    if (!strcmp(name, "default") || !strcmp(name, "d")) {
        BIND("default_value", "boolean");
        jx_val dv = h[0] ? o[0] : jv_strn(J, "", 0);
        if (v.t == JV_UNDEF || (h[1] && jx_truthy(o[1]) && !jx_truthy(v))) return dv;
        return v;
    }
    if (!strcmp(name, "upper") || !strcmp(name, "lower") || !strcmp(name, "capitalize")) {
        NOARGS();
        return jx_str_case(J, jx_as_str(J, v), name[0] == 'u' ? CASE_UPPER : name[0] == 'l' ? CASE_LOWER : CASE_CAP);
    }
    if (!strcmp(name, "title")) { NOARGS(); return jx_jinja_title(J, jx_as_str(J, v)); }
    if (!strcmp(name, "string")) {
        NOARGS();
        jx_str *s = jx_as_str(J, v);
        jx_val r = {JV_STR, 0, {0}};
        r.u.s = s;
        return r;
    }
    if (!strcmp(name, "safe")) {
        /* Markup(value): a string (Markup's escaping operators are not modelled) */
        NOARGS();
        jx_val r = {JV_STR, 0, {0}};
        r.u.s = jx_as_str(J, v);
        return r;
    }
    if (!strcmp(name, "int")) {
        BIND("default", "base");
        if (v.t == JV_UNDEF) jx_fail_undef(J, v, pos);   /* int(Undefined) raises */
        jx_val dv = h[0] ? o[0] : jv_int(0);
        int64_t base = h[1] ? jx_need_int(J, o[1], "base", pos) : 10;
        if (is_int(v)) return jv_int(ival(v));
        if (v.t == JV_FLOAT) {
            if (isnan(v.u.f)) return dv;
            if (isinf(v.u.f)) jx_fail(J, BD_EINPUT, pos, "OverflowError: cannot convert float infinity to integer");
            if (fabs(v.u.f) >= 9.2e18) jx_fail(J, BD_EUNSUP, pos, "integer overflow (big integers are not supported)");
            return jv_int((int64_t)v.u.f);
        }
        if (v.t == JV_STR) {
            jx_val t = jx_str_strip(J, v.u.s, NULL, 1, 1);
            char *end;
            const char *p = t.u.s->p;
            if (*p && base >= 2 && base <= 36) {
                errno = 0;
                long long x = strtoll(p, &end, (int)base);
                if (*end == 0 && end != p) {
                    if (errno == ERANGE) jx_fail(J, BD_EUNSUP, pos, "integer overflow (big integers are not supported)");
                    return jv_int(x);
                }
                double f = strtod(p, &end);
                if (*end == 0 && end != p && !isnan(f)) {
                    if (isinf(f)) jx_fail(J, BD_EINPUT, pos, "OverflowError: cannot convert float infinity to integer");
                    if (fabs(f) >= 9.2e18) jx_fail(J, BD_EUNSUP, pos, "integer overflow (big integers are not supported)");
                    return jv_int((int64_t)f);
                }
            }
            return dv;
        }
        return dv;
    }
    if (!strcmp(name, "float")) {
        BIND("default");
        if (v.t == JV_UNDEF) jx_fail_undef(J, v, pos);
        jx_val dv = h[0] ? o[0] : jv_float(0.0);
        if (is_numv(v)) return jv_float(fval(v));
        if (v.t == JV_STR) {
            jx_val t = jx_str_strip(J, v.u.s, NULL, 1, 1);
            char *end;
            double f = strtod(t.u.s->p, &end);
            if (*end == 0 && end != t.u.s->p) return jv_float(f);
        }
        return dv;
    }
    if (!strcmp(name, "abs")) {
        NOARGS();
        if (is_int(v)) {
            if (ival(v) == INT64_MIN) jx_fail(J, BD_EUNSUP, pos, "integer overflow");
            return jv_int(ival(v) < 0 ? -ival(v) : ival(v));
        }
        if (v.t == JV_FLOAT) return jv_float(fabs(v.u.f));
        jx_fail(J, BD_EINPUT, pos, "TypeError: bad operand type for abs(): '%s'", tname(v));
    }
    if (!strcmp(name, "join")) {
        BIND("d", "attribute");
        jx_str *sep = h[0] ? jx_need_str(J, o[0], "join separator", pos) : jx_strn(J, "", 0);
        jx_list *l = jx_iter_list(J, v, pos);
        jx_buf b = {0};
        jx_buf_put(J, &b, "", 0);
        for (size_t i = 0; i < l->n; i++) {
            jx_step(E, pos);
            if (i) jx_buf_put(J, &b, sep->p, sep->n);
            jx_val x = l->v[i];
            if (h[1] && o[1].t != JV_NONE) x = jx_attr_path(J, x, jx_as_str(J, o[1]), pos);
            jx_to_str(J, &b, x, 0);
        }
        return jv_strn(J, b.p, b.n);
    }
    if (!strcmp(name, "first") || !strcmp(name, "last")) {
        NOARGS();
        if (name[0] == 'l' && v.t == JV_LIST && (v.flag & JF_GEN))
            jx_fail(J, BD_EINPUT, pos, "TypeError: 'generator' object is not reversible");
        jx_list *l = jx_iter_list(J, v, pos);
        if (!l->n) return jv_undef(jx_fmt_str(J, "No %s item, sequence was empty.%s", name, NULL));
        return name[0] == 'f' ? l->v[0] : l->v[l->n - 1];
    }
    if (!strcmp(name, "items")) {
        NOARGS();
        if (v.t == JV_UNDEF) return jx_gen_of(J, jx_new_list(J, 0), JF_GEN);
        if (v.t != JV_DICT || (v.flag & JF_NS)) {
            jx_val lz;
            jx_lazy_fail(J, jv_int(0), "TypeError: Can only get item pairs from a mapping.", &lz);
            return lz;
        }
        jx_list *l = jx_new_list(J, v.u.d->n);
        for (size_t i = 0; i < v.u.d->n; i++) {
            jx_list *p = jx_new_list(J, 2);
            p->v[0] = v.u.d->k[i];
            p->v[1] = v.u.d->v[i];
            l->v[i] = jx_list_of(J, p, 1);
        }
        return jx_gen_of(J, l, JF_GEN);
    }
    if (!strcmp(name, "list")) {
        NOARGS();
        jx_list *src = jx_iter_list(J, v, pos), *l = jx_new_list(J, src->n);
        if (src->n) memcpy(l->v, src->v, src->n * sizeof(jx_val));
        return jx_list_of(J, l, 0);
    }
    if (!strcmp(name, "reverse")) {
        NOARGS();
        if (v.t == JV_STR) return jx_do_slice(J, v, jv_none(), jv_none(), jv_int(-1), pos);
        jx_list *src = jx_iter_list(J, v, pos), *l = jx_new_list(J, src->n);
        for (size_t i = 0; i < src->n; i++) l->v[i] = src->v[src->n - 1 - i];
        /* reversed() of a sequence is a lazy iterator; of a generator, a list */
        return (v.t == JV_LIST && (v.flag & JF_GEN)) ? jx_list_of(J, l, 0) : jx_gen_of(J, l, JF_GEN);
    }
    if (!strcmp(name, "replace")) {
        BIND("old", "new", "count");
        if (!h[0] || !h[1]) jx_fail(J, BD_EINPUT, pos, "TypeError: replace() needs old and new");
        int64_t cnt = (h[2] && o[2].t != JV_NONE) ? jx_need_int(J, o[2], "count", pos) : -1;
        return jx_str_replace(J, jx_as_str(J, v), jx_need_str(J, o[0], "old", pos), jx_as_str(J, o[1]), cnt);
    }
    if (!strcmp(name, "selectattr") || !strcmp(name, "rejectattr") || !strcmp(name, "select") ||
        !strcmp(name, "reject"))
        return select_filter(E, name, v, a, pos);
    if (!strcmp(name, "map")) {
        jx_val lz;
        if (jx_lazy_fail(J, v, NULL, &lz)) return lz;
        jx_list *src = jx_iter_list(J, v, pos), *l = jx_new_list(J, src->n);
        if (a->n_kw) {
            jx_val attr = jv_undef(NULL), dflt = jv_undef(NULL);
            int has_default = 0;
            for (int k = 0; k < a->n_kw; k++) {
                if (!strcmp(a->kw[k], "attribute")) attr = a->kwv[k];
                else if (!strcmp(a->kw[k], "default")) { dflt = a->kwv[k]; has_default = 1; }
                else jx_fail(J, BD_EINPUT, pos, "TypeError: map() got an unexpected keyword argument '%s'", a->kw[k]);
            }
            jx_str *path = jx_need_str(J, attr, "map attribute", pos);
            for (size_t i = 0; i < src->n; i++) {
                jx_val x = jx_attr_path(J, src->v[i], path, pos);
                l->v[i] = (x.t == JV_UNDEF && has_default) ? dflt : x;
            }
            return jx_gen_of(J, l, JF_GEN);
        }
        if (!a->n_pos) jx_fail(J, BD_EINPUT, pos, "map() needs a filter name or attribute=");
        const char *fname = jx_need_str(J, a->pos[0], "filter name", pos)->p;
        args fa = {a->pos + 1, a->n_pos - 1, NULL, NULL, 0};
        for (size_t i = 0; i < src->n; i++) {
            jx_step(E, pos);
            l->v[i] = jx_apply_filter(E, fname, src->v[i], &fa, pos);
        }
        return jx_gen_of(J, l, JF_GEN);
    }
    if (!strcmp(name, "unique")) {
        NOARGS();
        jx_val lz;
        if (jx_lazy_fail(J, v, NULL, &lz)) return lz;
        jx_list *src = jx_iter_list(J, v, pos), *l = jx_new_list(J, src->n);
        l->n = 0;
        for (size_t i = 0; i < src->n; i++) {
            int dup = 0;
            for (size_t k = 0; k < l->n && !dup; k++) {
                jx_step(E, pos);
                jx_val x = src->v[i], y = l->v[k];
                if (x.t == JV_STR && y.t == JV_STR) dup = jx_equal(J, jx_str_case(J, x.u.s, CASE_LOWER), jx_str_case(J, y.u.s, CASE_LOWER), 0);
                else dup = jx_equal(J, x, y, 0);
            }
            if (!dup) l->v[l->n++] = src->v[i];
        }
        return jx_gen_of(J, l, JF_GEN);
    }
    if (!strcmp(name, "indent")) {
        BIND("width", "first", "blank");
        jx_str *ind;
        if (h[0] && o[0].t == JV_STR) ind = o[0].u.s;
        else {
            int64_t w = h[0] ? jx_need_int(J, o[0], "width", pos) : 4;
            if (w < 0) w = 0;
            if (w > 4096) jx_fail(J, BD_EUNSUP, pos, "indent width above 4096 is not supported");
            char sp[4097];
            memset(sp, ' ', (size_t)w);
            ind = jx_strn(J, sp, (size_t)w);
        }
        /* s + "\n", split into lines, rejoined with indentation (jinja2's do_indent,
         * whose `s += "\n"` fails for anything but a string) */
        if (v.t == JV_UNDEF) jx_fail_undef(J, v, pos);
        if (v.t != JV_STR) jx_fail(J, BD_EINPUT, pos, "TypeError: indent needs a string, not %s", tname(v));
        jx_str *src = v.u.s;
        jx_buf t = {0};
        jx_buf_put(J, &t, src->p, src->n);
        jx_buf_putc(J, &t, '\n');
        jx_list *lines = jx_splitlines(J, jx_strn(J, t.p, t.n));
        jx_buf b = {0};
        jx_buf_put(J, &b, "", 0);
        if (h[1] && jx_truthy(o[1])) jx_buf_put(J, &b, ind->p, ind->n);
        int blank = h[2] && jx_truthy(o[2]);
        for (size_t i = 0; i < lines->n; i++) {
            jx_str *ln = lines->v[i].u.s;
            if (i) {
                jx_buf_putc(J, &b, '\n');
                if (blank || ln->n) jx_buf_put(J, &b, ind->p, ind->n);
            }
            jx_buf_put(J, &b, ln->p, ln->n);
        }
        return jv_strn(J, b.p, b.n);
    }
    if (!strcmp(name, "sort") || !strcmp(name, "min") || !strcmp(name, "max"))
        return sort_filter(E, name, v, a, pos);
    if (!strcmp(name, "sum")) {
        BIND("attribute", "start");
        jx_list *l = jx_iter_list(J, v, pos);
        jx_val acc = h[1] ? o[1] : jv_int(0);
        for (size_t i = 0; i < l->n; i++) {
            jx_step(E, pos);
            jx_val x = (h[0] && o[0].t != JV_NONE) ? jx_attr_path(J, l->v[i], jx_as_str(J, o[0]), pos) : l->v[i];
            acc = jx_binop(J, '+', acc, x, pos);
        }
        return acc;
    }
    if (!strcmp(name, "round")) {
        BIND("precision", "method");
        int64_t prec = h[0] ? jx_need_int(J, o[0], "precision", pos) : 0;
        const char *method = h[1] ? jx_need_str(J, o[1], "method", pos)->p : "common";
        if (strcmp(method, "common") && strcmp(method, "ceil") && strcmp(method, "floor"))
            jx_fail(J, BD_EINPUT, pos, "FilterArgumentError: method must be common, ceil or floor");
        if (prec < 0 || prec > 300) jx_fail(J, BD_EUNSUP, pos, "round with precision %lld is not supported", (long long)prec);
        if (v.t == JV_UNDEF) jx_fail_undef(J, v, pos);
        if (!is_numv(v)) jx_fail(J, BD_EINPUT, pos, "TypeError: type %s doesn't define __round__ method", tname(v));
        if (!strcmp(method, "common")) {
            if (is_int(v)) return jv_int(ival(v));    /* round(int, n) stays an int */
            if (!isfinite(v.u.f)) return v;
            /* correctly rounded decimal text, ties to even on the exact binary value: Python's round() */
            char buf[400];
            snprintf(buf, sizeof buf, "%.*f", (int)prec, v.u.f);
            return jv_float(strtod(buf, NULL));
        }
        double m = pow(10.0, (double)prec), x = fval(v) * m;
        return jv_float((method[0] == 'c' ? ceil(x) : floor(x)) / m);
    }
    static const char *const unsup[] = {"dictsort", "batch", "slice",
                                        "center", "wordcount", "wordwrap", "truncate", "escape", "e",
                                        "forceescape", "format", "groupby", "urlize", "urlencode", "xmlattr",
                                        "striptags", "filesizeformat", "pprint", "random", "attr", NULL};
    for (int i = 0; unsup[i]; i++)
        if (!strcmp(name, unsup[i])) jx_fail(J, BD_EUNSUP, pos, "unsupported filter '%s'", name);
    jx_fail(J, BD_EINPUT, pos, "No filter named '%s'.", name);
#undef BIND
#undef NOARGS
}

