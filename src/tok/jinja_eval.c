/* Evaluator of the Jinja2 subset: statements, expressions, scoping (a fresh
 * scope per loop iteration and per macro call, none for if blocks, as jinja2
 * compiles them), jinja2's default Undefined, attribute/item lookup with the
 * ImmutableSandboxedEnvironment restrictions, and Python's operators. Calls,
 * filters/tests and str methods live in jinja_call.c, jinja_filter.c and
 * jinja_str.c. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jinja_ev.h"

/* ---------- frames ---------- */
jx_frame *jx_frame_new(jx *J, jx_frame *parent)
{
    jx_frame *f = jx_alloc(J, sizeof *f);
    memset(f, 0, sizeof *f);
    f->parent = parent;
    return f;
}

void jx_frame_set(jx *J, jx_frame *f, const char *name, jx_val v)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->names[i], name) == 0) { f->vals[i] = v; return; }
    if (f->n == f->cap) {
        size_t cap = f->cap ? jx_mul(J, f->cap, 2) : 8;
        const char **nn = jx_alloc(J, jx_mul(J, cap, sizeof *nn));
        jx_val *nv = jx_alloc(J, jx_mul(J, cap, sizeof *nv));
        if (f->n) {
            memcpy(nn, f->names, f->n * sizeof *nn);
            memcpy(nv, f->vals, f->n * sizeof *nv);
        }
        f->names = nn;
        f->vals = nv;
        f->cap = cap;
    }
    f->names[f->n] = name;
    f->vals[f->n] = v;
    f->n++;
}

static int frame_get(const jx_frame *f, const char *name, jx_val *out)
{
    for (; f; f = f->parent)
        for (size_t i = f->n; i-- > 0;)
            if (strcmp(f->names[i], name) == 0) { *out = f->vals[i]; return 1; }
    return 0;
}

/* ---------- helpers ---------- */
void jx_step(ev *E, size_t pos)
{
    if (++E->J->steps > E->J->max_steps)
        jx_fail(E->J, BD_EINPUT, pos, "template exceeds the step limit (%lld)", E->J->max_steps);
}

jx_str *jx_fmt_str(jx *J, const char *fmt, const char *a, const char *b)
{
    char tmp[300];
    snprintf(tmp, sizeof tmp, fmt, a, b ? b : "");
    return jx_strn(J, tmp, strlen(tmp));
}

_Noreturn void jx_fail_undef(jx *J, jx_val u, size_t pos)
{
    jx_fail(J, BD_EINPUT, pos, "UndefinedError: %s", u.u.s ? u.u.s->p : "value is undefined");
}

jx_val jx_mkfunc(jx *J, int id, jx_val self)
{
    jx_val v = {JV_FUNC, 0, {0}};
    v.u.fn = jx_alloc(J, sizeof *v.u.fn);
    v.u.fn->id = id;
    v.u.fn->self = self;
    return v;
}


/* A sequence's items as a list (iteration order): list/tuple items, dict keys,
 * string characters; undefined iterates as empty. */
jx_list *jx_iter_list(jx *J, jx_val v, size_t pos)
{
    jx_list *l;
    switch (v.t) {
    case JV_LIST:
        if (v.u.l->lazy_err) jx_fail(J, BD_EINPUT, pos, "%s", v.u.l->lazy_err->p);
        return v.u.l;
    case JV_UNDEF:
        l = jx_alloc(J, sizeof *l);
        l->n = 0;
        l->v = NULL;
        return l;
    case JV_DICT:
        if (v.flag & JF_NS) break;
        l = jx_alloc(J, sizeof *l);
        l->n = v.u.d->n;
        l->v = jx_alloc(J, jx_mul(J, l->n ? l->n : 1, sizeof(jx_val)));
        for (size_t i = 0; i < l->n; i++) l->v[i] = v.u.d->k[i];
        return l;
    case JV_STR: {
        size_t n = jx_utf8_len(v.u.s->p, v.u.s->n), i = 0, k = 0;
        l = jx_alloc(J, sizeof *l);
        l->n = n;
        l->v = jx_alloc(J, jx_mul(J, n ? n : 1, sizeof(jx_val)));
        while (i < v.u.s->n) {
            size_t st = i;
            jx_utf8_next(v.u.s->p, v.u.s->n, &i);
            l->v[k++] = jv_strn(J, v.u.s->p + st, i - st);
        }
        return l;
    }
    default: break;
    }
    jx_fail(J, BD_EINPUT, pos, "TypeError: '%s' object is not iterable", tname(v));
}

jx_val jx_list_of(jx *J, jx_list *l, int tuple)
{
    (void)J;
    jx_val v = {JV_LIST, (uint8_t)(tuple ? JF_TUPLE : 0), {0}};
    v.u.l = l;
    return v;
}

jx_val jx_gen_of(jx *J, jx_list *l, int flag)
{
    jx_val v = jx_list_of(J, l, 0);
    v.flag = (uint8_t)flag;
    return v;
}

/* jinja2's generator filters fail on a non-iterable input only when the
 * result is iterated: return such a generator, carrying the error. */
int jx_lazy_fail(jx *J, jx_val v, const char *msg, jx_val *out)
{
    int bad = v.t == JV_LIST ? v.u.l->lazy_err != NULL
            : !(v.t == JV_STR || v.t == JV_UNDEF || (v.t == JV_DICT && !(v.flag & JF_NS)));
    if (!bad) return 0;
    jx_list *l = jx_alloc(J, sizeof *l);
    if (v.t == JV_LIST) l->lazy_err = v.u.l->lazy_err;
    else if (msg) l->lazy_err = jx_strn(J, msg, strlen(msg));
    else {
        char tmp[128];
        snprintf(tmp, sizeof tmp, "TypeError: '%s' object is not iterable", jx_type_name(v));
        l->lazy_err = jx_strn(J, tmp, strlen(tmp));
    }
    *out = jx_gen_of(J, l, JF_GEN);
    return 1;
}

jx_list *jx_new_list(jx *J, size_t n)
{
    jx_list *l = jx_alloc(J, sizeof *l);
    l->n = n;
    l->v = jx_alloc(J, jx_mul(J, n ? n : 1, sizeof(jx_val)));
    return l;
}

/* code-point offsets of a string: off[i] = byte offset of character i, off[n] = len */
size_t *jx_cp_offsets(jx *J, const jx_str *s, size_t *n_cp)
{
    size_t n = jx_utf8_len(s->p, s->n), i = 0, k = 0;
    size_t *off = jx_alloc(J, jx_mul(J, n + 1, sizeof *off));
    while (i < s->n) {
        off[k++] = i;
        jx_utf8_next(s->p, s->n, &i);
    }
    off[k] = s->n;
    *n_cp = n;
    return off;
}

/* Python's slice.indices() */
static void slice_indices(jx *J, jx_val st, jx_val sp, jx_val sd, int64_t len, int64_t *start, int64_t *stop,
                          int64_t *stepv, size_t pos)
{
    int64_t s = 1;
    if (sd.t != JV_NONE && sd.t != JV_UNDEF) {
        if (!is_int(sd)) jx_fail(J, BD_EINPUT, pos, "TypeError: slice indices must be integers or None");
        s = ival(sd);
        if (s == 0) jx_fail(J, BD_EINPUT, pos, "ValueError: slice step cannot be zero");
    }
    int64_t lo, hi;
    if (st.t == JV_NONE || st.t == JV_UNDEF) lo = s < 0 ? len - 1 : 0;
    else {
        if (!is_int(st)) jx_fail(J, BD_EINPUT, pos, "TypeError: slice indices must be integers or None");
        lo = ival(st);
        if (lo < 0) { lo += len; if (lo < 0) lo = s < 0 ? -1 : 0; }
        else if (lo >= len) lo = s < 0 ? len - 1 : len;
    }
    if (sp.t == JV_NONE || sp.t == JV_UNDEF) hi = s < 0 ? -1 : len;
    else {
        if (!is_int(sp)) jx_fail(J, BD_EINPUT, pos, "TypeError: slice indices must be integers or None");
        hi = ival(sp);
        if (hi < 0) { hi += len; if (hi < 0) hi = s < 0 ? -1 : 0; }
        else if (hi >= len) hi = s < 0 ? len - 1 : len;
    }
    *start = lo;
    *stop = hi;
    *stepv = s;
}

jx_val jx_do_slice(jx *J, jx_val obj, jx_val a, jx_val b, jx_val c, size_t pos)
{
    if (obj.t == JV_UNDEF) jx_fail_undef(J, obj, pos);
    if ((obj.t == JV_LIST && !JX_LAZY(obj)) || obj.t == JV_STR) {
        size_t ncp = 0, *off = NULL;
        int64_t len;
        if (obj.t == JV_STR) { off = jx_cp_offsets(J, obj.u.s, &ncp); len = (int64_t)ncp; }
        else len = (int64_t)obj.u.l->n;
        int64_t lo, hi, s;
        slice_indices(J, a, b, c, len, &lo, &hi, &s, pos);
        int64_t cnt = 0;
        if (s > 0 && hi > lo) cnt = (hi - lo + s - 1) / s;
        else if (s < 0 && lo > hi) cnt = (lo - hi + (-s) - 1) / (-s);
        if (obj.t == JV_STR) {
            jx_buf buf = {0};
            jx_buf_put(J, &buf, "", 0);
            for (int64_t k = 0, i = lo; k < cnt; k++, i += s)
                jx_buf_put(J, &buf, obj.u.s->p + off[i], off[i + 1] - off[i]);
            return jv_strn(J, buf.p, buf.n);
        }
        jx_list *l = jx_new_list(J, (size_t)cnt);
        for (int64_t k = 0, i = lo; k < cnt; k++, i += s) l->v[k] = obj.u.l->v[i];
        return jx_list_of(J, l, obj.flag & JF_TUPLE);
    }
    return jv_undef(jx_fmt_str(J, "'%s object' is not subscriptable with a slice%s", tname(obj), NULL));
}

int jx_method_id(jx_val obj, const char *name)
{
    static const struct { const char *n; int id; } smeth[] = {
        {"strip", M_STRIP}, {"lstrip", M_LSTRIP}, {"rstrip", M_RSTRIP}, {"startswith", M_STARTSWITH},
        {"endswith", M_ENDSWITH}, {"split", M_SPLIT}, {"rsplit", M_RSPLIT}, {"upper", M_UPPER},
        {"lower", M_LOWER}, {"title", M_TITLE}, {"capitalize", M_CAPITALIZE}, {"replace", M_REPLACE},
        {"join", M_JOIN}, {"find", M_FIND}, {"count", M_COUNT}, {"isdigit", M_ISDIGIT},
        {"isalpha", M_ISALPHA}, {"isspace", M_ISSPACE}, {"isupper", M_ISUPPER}, {"islower", M_ISLOWER},
        {"splitlines", M_SPLITLINES}, {"format", M_FORMAT}, {NULL, 0}};
    static const struct { const char *n; int id; } dmeth[] = {
        {"items", M_ITEMS}, {"keys", M_KEYS}, {"values", M_VALUES}, {"get", M_GET}, {NULL, 0}};
    static const struct { const char *n; int id; } lmeth[] = {{"index", M_INDEX}, {"count", M_LCOUNT}, {NULL, 0}};
    if (obj.t == JV_STR) {
        for (int i = 0; smeth[i].n; i++) if (strcmp(smeth[i].n, name) == 0) return smeth[i].id;
    } else if (obj.t == JV_DICT && !(obj.flag & JF_NS)) {
        for (int i = 0; dmeth[i].n; i++) if (strcmp(dmeth[i].n, name) == 0) return dmeth[i].id;
    } else if (obj.t == JV_LIST && !JX_LAZY(obj)) {
        for (int i = 0; lmeth[i].n; i++) if (strcmp(lmeth[i].n, name) == 0) return lmeth[i].id;
    }
    return 0;
}

/* The methods of list and dict that modify them: the immutable sandbox makes them unsafe. */
int jx_is_mutating(jx_val obj, const char *name)
{
    static const char *const lm[] = {"append", "clear", "copy", "extend", "insert", "pop", "remove",
                                     "reverse", "sort", NULL};
    static const char *const dm[] = {"clear", "pop", "popitem", "setdefault", "update", "copy", NULL};
    const char *const *m = (obj.t == JV_LIST && !JX_LAZY(obj)) ? lm : (obj.t == JV_DICT && !(obj.flag & JF_NS)) ? dm : NULL;
    for (int i = 0; m && m[i]; i++) if (strcmp(m[i], name) == 0) return 1;
    return 0;
}

static jx_val loop_attr(jx *J, struct jx_loop *L, const char *name)
{
    if (!strcmp(name, "index")) return jv_int(L->index0 + 1);
    if (!strcmp(name, "index0")) return jv_int(L->index0);
    if (!strcmp(name, "revindex")) return jv_int(L->length - L->index0);
    if (!strcmp(name, "revindex0")) return jv_int(L->length - L->index0 - 1);
    if (!strcmp(name, "first")) return jv_bool(L->index0 == 0);
    if (!strcmp(name, "last")) return jv_bool(L->index0 == L->length - 1);
    if (!strcmp(name, "length")) return jv_int(L->length);
    if (!strcmp(name, "depth")) return jv_int(1);
    if (!strcmp(name, "depth0")) return jv_int(0);
    if (!strcmp(name, "previtem"))
        return L->index0 > 0 ? L->items->v[L->index0 - 1] : jv_undef(jx_fmt_str(J, "there is no previous item%s", "", NULL));
    if (!strcmp(name, "nextitem"))
        return L->index0 + 1 < L->length ? L->items->v[L->index0 + 1]
                                         : jv_undef(jx_fmt_str(J, "there is no next item%s", "", NULL));
    if (!strcmp(name, "cycle")) {
        jx_val self = {JV_LOOP, 0, {0}};
        self.u.loop = L;
        return jx_mkfunc(J, F_CYCLE, self);
    }
    if (!strcmp(name, "changed"))
        jx_fail(J, BD_EUNSUP, (size_t)-1, "loop.changed is not supported");
    return jv_undef(jx_fmt_str(J, "'LoopContext object' has no attribute '%s'%s", name, NULL));
}

/* jinja2's environment.getattr: attribute first, then item. */
jx_val jx_get_attr(jx *J, jx_val obj, const char *name, size_t pos)
{
    if (obj.t == JV_UNDEF) jx_fail_undef(J, obj, pos);
    if (name[0] == '_')
        return jv_undef(jx_fmt_str(J, "access to attribute '%s' of '%s' object is unsafe.", name, tname(obj)));
    if (obj.t == JV_LOOP) return loop_attr(J, obj.u.loop, name);
    int m = jx_method_id(obj, name);
    if (m) return jx_mkfunc(J, m, obj);
    if (jx_is_mutating(obj, name))
        return jv_undef(jx_fmt_str(J, "access to attribute '%s' of '%s' object is unsafe.", name, tname(obj)));
    if (obj.t == JV_DICT) {
        jx_val k = jv_str(J, name);
        int i = jx_dict_find(J, obj.u.d, k);
        if (i >= 0) return obj.u.d->v[i];
        if (obj.flag & JF_NS)
            return jv_undef(jx_fmt_str(J, "'Namespace object' has no attribute '%s'%s", name, NULL));
    }
    return jv_undef(jx_fmt_str(J, "'%s object' has no attribute '%s'", tname(obj), name));
}

/* jinja2's environment.getitem: item first, then attribute for string keys. */
jx_val jx_get_item(jx *J, jx_val obj, jx_val key, size_t pos)
{
    if (obj.t == JV_UNDEF) jx_fail_undef(J, obj, pos);
    if (obj.t == JV_DICT && !(obj.flag & JF_NS)) {
        int i = jx_dict_find(J, obj.u.d, key);
        if (i >= 0) return obj.u.d->v[i];
    } else if (((obj.t == JV_LIST && !JX_LAZY(obj)) || obj.t == JV_STR) && is_int(key)) {
        int64_t k = ival(key);
        if (obj.t == JV_LIST) {
            int64_t n = (int64_t)obj.u.l->n;
            if (k < 0) k += n;
            if (k >= 0 && k < n) return obj.u.l->v[k];
        } else {
            size_t ncp, *off = jx_cp_offsets(J, obj.u.s, &ncp);
            int64_t n = (int64_t)ncp;
            if (k < 0) k += n;
            if (k >= 0 && k < n) return jv_strn(J, obj.u.s->p + off[k], off[k + 1] - off[k]);
        }
    }
    if (key.t == JV_STR) {
        jx_val v = jx_get_attr(J, obj, key.u.s->p, pos);
        if (v.t != JV_UNDEF || obj.t != JV_DICT) return v;
        return jv_undef(jx_fmt_str(J, "'dict object' has no attribute '%s'%s", key.u.s->p, NULL));
    }
    jx_buf b = {0};
    jx_repr(J, &b, key, 0);
    return jv_undef(jx_fmt_str(J, "'%s object' has no element %s", tname(obj), b.p ? b.p : ""));
}

static int64_t add_ovf(jx *J, int64_t a, int64_t b, size_t pos)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r)) jx_fail(J, BD_EUNSUP, pos, "integer overflow (big integers are not supported)");
    return r;
}

static int64_t mul_ovf(jx *J, int64_t a, int64_t b, size_t pos)
{
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r)) jx_fail(J, BD_EUNSUP, pos, "integer overflow (big integers are not supported)");
    return r;
}

static jx_val repeat(jx *J, jx_val seq, int64_t k, size_t pos)
{
    if (k < 0) k = 0;
    if (seq.t == JV_STR) {
        size_t n = jx_mul(J, seq.u.s->n, (size_t)k);
        if (n > J->mem_cap) jx_fail(J, BD_EINPUT, pos, "string repetition exceeds the memory limit");
        jx_str *s = jx_alloc(J, sizeof *s + n + 1);
        s->n = n;
        for (int64_t i = 0; i < k; i++) memcpy(s->p + (size_t)i * seq.u.s->n, seq.u.s->p, seq.u.s->n);
        s->p[n] = 0;
        jx_val v = {JV_STR, 0, {0}};
        v.u.s = s;
        return v;
    }
    size_t n = jx_mul(J, seq.u.l->n, (size_t)k);
    if (n > J->mem_cap / sizeof(jx_val)) jx_fail(J, BD_EINPUT, pos, "list repetition exceeds the memory limit");
    jx_list *l = jx_new_list(J, n);
    for (size_t i = 0; i < n; i++) l->v[i] = seq.u.l->v[i % seq.u.l->n];
    return jx_list_of(J, l, seq.flag & JF_TUPLE);
}

_Noreturn void jx_bad_operands(jx *J, const char *op, jx_val a, jx_val b, size_t pos)
{
    if (a.t == JV_UNDEF) jx_fail_undef(J, a, pos);
    if (b.t == JV_UNDEF) jx_fail_undef(J, b, pos);
    jx_fail(J, BD_EINPUT, pos, "TypeError: unsupported operand type(s) for %s: '%s' and '%s'", op, tname(a), tname(b));
}

double jx_py_fmod(double a, double b)
{
    double m = fmod(a, b);
    if (m != 0 && ((b < 0) != (m < 0))) m += b;
    return m;
}

jx_val jx_binop(jx *J, int op, jx_val a, jx_val b, size_t pos)
{
    if (op == '+') {
        if (is_int(a) && is_int(b)) return jv_int(add_ovf(J, ival(a), ival(b), pos));
        if (is_numv(a) && is_numv(b)) return jv_float(fval(a) + fval(b));
        if (a.t == JV_STR && b.t == JV_STR) {
            size_t n = a.u.s->n + b.u.s->n;
            jx_str *s = jx_alloc(J, sizeof *s + n + 1);
            s->n = n;
            memcpy(s->p, a.u.s->p, a.u.s->n);
            memcpy(s->p + a.u.s->n, b.u.s->p, b.u.s->n);
            s->p[n] = 0;
            jx_val v = {JV_STR, 0, {0}};
            v.u.s = s;
            return v;
        }
        if (a.t == JV_LIST && b.t == JV_LIST && !JX_LAZY(a) && !JX_LAZY(b) && (a.flag & JF_TUPLE) == (b.flag & JF_TUPLE)) {
            jx_list *l = jx_new_list(J, a.u.l->n + b.u.l->n);
            if (a.u.l->n) memcpy(l->v, a.u.l->v, a.u.l->n * sizeof(jx_val));
            if (b.u.l->n) memcpy(l->v + a.u.l->n, b.u.l->v, b.u.l->n * sizeof(jx_val));
            return jx_list_of(J, l, a.flag & JF_TUPLE);
        }
        if (a.t == JV_STR && b.t != JV_UNDEF)
            jx_fail(J, BD_EINPUT, pos, "TypeError: can only concatenate str (not \"%s\") to str", tname(b));
        jx_bad_operands(J, "+", a, b, pos);
    }
    if (op == '-') {
        if (is_int(a) && is_int(b)) {
            int64_t r;
            if (__builtin_sub_overflow(ival(a), ival(b), &r)) jx_fail(J, BD_EUNSUP, pos, "integer overflow");
            return jv_int(r);
        }
        if (is_numv(a) && is_numv(b)) return jv_float(fval(a) - fval(b));
        jx_bad_operands(J, "-", a, b, pos);
    }
    if (op == '*') {
        if (is_int(a) && is_int(b)) return jv_int(mul_ovf(J, ival(a), ival(b), pos));
        if (is_numv(a) && is_numv(b)) return jv_float(fval(a) * fval(b));
        if ((a.t == JV_STR || (a.t == JV_LIST && !JX_LAZY(a))) && is_int(b)) return repeat(J, a, ival(b), pos);
        if ((b.t == JV_STR || (b.t == JV_LIST && !JX_LAZY(b))) && is_int(a)) return repeat(J, b, ival(a), pos);
        jx_bad_operands(J, "*", a, b, pos);
    }
    if (op == '/' || op == OP_FLOORDIV || op == '%') {
        const char *opn = op == '/' ? "/" : op == '%' ? "%" : "//";
        if (op == '%' && a.t == JV_STR) jx_fail(J, BD_EUNSUP, pos, "'%%' string formatting is not supported");
        if (!is_numv(a) || !is_numv(b)) jx_bad_operands(J, opn, a, b, pos);
        if (fval(b) == 0.0)
            jx_fail(J, BD_EINPUT, pos, "ZeroDivisionError: %s", op == '/' ? "division by zero" :
                    is_int(a) && is_int(b) ? (op == '%' ? "integer modulo by zero" : "integer division or modulo by zero")
                                           : "float modulo");
        if (op == '/') return jv_float(fval(a) / fval(b));
        if (is_int(a) && is_int(b)) {
            int64_t x = ival(a), y = ival(b);
            if (x == INT64_MIN && y == -1) jx_fail(J, BD_EUNSUP, pos, "integer overflow");
            int64_t q = x / y, r = x % y;
            if (r != 0 && ((r < 0) != (y < 0))) { q--; r += y; }
            return jv_int(op == '%' ? r : q);
        }
        double x = fval(a), y = fval(b);
        double m = jx_py_fmod(x, y);
        if (op == '%') return jv_float(m);
        return jv_float(floor((x - m) / y + 0.5) == (x - m) / y ? (x - m) / y : floor(x / y));
    }
    if (op == OP_POW) {
        if (!is_numv(a) || !is_numv(b)) jx_bad_operands(J, "** or pow()", a, b, pos);
        if (is_int(a) && is_int(b) && ival(b) >= 0) {
            int64_t base = ival(a), e = ival(b), r = 1;
            while (e > 0) {
                if (e & 1) r = mul_ovf(J, r, base, pos);
                e >>= 1;
                if (e) base = mul_ovf(J, base, base, pos);
            }
            return jv_int(r);
        }
        if (fval(a) == 0.0 && fval(b) < 0)
            jx_fail(J, BD_EINPUT, pos, "ZeroDivisionError: 0.0 cannot be raised to a negative power");
        return jv_float(pow(fval(a), fval(b)));
    }
    jx_fail(J, BD_EUNSUP, pos, "unsupported operator");
}

int jx_compare_lt(jx *J, jx_val a, jx_val b, size_t pos, int depth)
{
    if (depth > 200) jx_fail(J, BD_EINPUT, pos, "values nested too deeply to compare");
    if (is_numv(a) && is_numv(b)) {
        if (a.t == JV_FLOAT || b.t == JV_FLOAT) return fval(a) < fval(b);
        return ival(a) < ival(b);
    }
    if (a.t == JV_STR && b.t == JV_STR) {
        size_t n = a.u.s->n < b.u.s->n ? a.u.s->n : b.u.s->n;
        int c = memcmp(a.u.s->p, b.u.s->p, n);
        return c < 0 || (c == 0 && a.u.s->n < b.u.s->n);
    }
    if (a.t == JV_LIST && b.t == JV_LIST && !JX_LAZY(a) && !JX_LAZY(b) && (a.flag & JF_TUPLE) == (b.flag & JF_TUPLE)) {
        size_t n = a.u.l->n < b.u.l->n ? a.u.l->n : b.u.l->n;
        for (size_t i = 0; i < n; i++)
            if (!jx_equal(J, a.u.l->v[i], b.u.l->v[i], depth + 1))
                return jx_compare_lt(J, a.u.l->v[i], b.u.l->v[i], pos, depth + 1);
        return a.u.l->n < b.u.l->n;
    }
    if (a.t == JV_UNDEF) jx_fail_undef(J, a, pos);
    if (b.t == JV_UNDEF) jx_fail_undef(J, b, pos);
    jx_fail(J, BD_EINPUT, pos, "TypeError: '<' not supported between instances of '%s' and '%s'", tname(a), tname(b));
}

int jx_contains(jx *J, jx_val container, jx_val item, size_t pos)
{
    switch (container.t) {
    case JV_STR:
        if (item.t != JV_STR)
            jx_fail(J, BD_EINPUT, pos, "TypeError: 'in <string>' requires string as left operand, not %s", tname(item));
        if (item.u.s->n == 0) return 1;
        return memmem(container.u.s->p, container.u.s->n, item.u.s->p, item.u.s->n) != NULL;
    case JV_LIST:
        if (container.u.l->lazy_err) jx_fail(J, BD_EINPUT, pos, "%s", container.u.l->lazy_err->p);
        for (size_t i = 0; i < container.u.l->n; i++)
            if (jx_equal(J, container.u.l->v[i], item, 0)) return 1;
        return 0;
    case JV_DICT:
        if (container.flag & JF_NS) break;
        return jx_dict_find(J, container.u.d, item) >= 0;
    case JV_UNDEF: return 0;
    default: break;
    }
    jx_fail(J, BD_EINPUT, pos, "TypeError: argument of type '%s' is not iterable", tname(container));
}

int jx_cmp_op(jx *J, int op, jx_val a, jx_val b, size_t pos)
{
    switch (op) {
    case CMP_EQ: return jx_equal(J, a, b, 0);
    case CMP_NE: return !jx_equal(J, a, b, 0);
    case CMP_LT: return jx_compare_lt(J, a, b, pos, 0);
    case CMP_GT: return jx_compare_lt(J, b, a, pos, 0);
    case CMP_LE: return jx_compare_lt(J, a, b, pos, 0) || jx_equal(J, a, b, 0);
    case CMP_GE: return jx_compare_lt(J, b, a, pos, 0) || jx_equal(J, a, b, 0);
    case CMP_IN: return jx_contains(J, b, a, pos);
    default: return !jx_contains(J, b, a, pos);
    }
}

/* ---------- argument binding ---------- */

/* Binds args to params (Python call rules); out[i] gets the value, have[i] whether given. */
void jx_bind(jx *J, size_t pos, const char *fname, const char *const *params, int n_params,
                 int n_required, const args *a, jx_val *out, int *have)
{
    for (int i = 0; i < n_params; i++) { out[i] = jv_none(); have[i] = 0; }
    if (a->n_pos > n_params)
        jx_fail(J, BD_EINPUT, pos, "TypeError: %s() takes at most %d arguments (%d given)", fname, n_params, a->n_pos);
    for (int i = 0; i < a->n_pos; i++) { out[i] = a->pos[i]; have[i] = 1; }
    for (int k = 0; k < a->n_kw; k++) {
        int hit = -1;
        for (int i = 0; i < n_params; i++) if (strcmp(params[i], a->kw[k]) == 0) hit = i;
        if (hit < 0) jx_fail(J, BD_EINPUT, pos, "TypeError: %s() got an unexpected keyword argument '%s'", fname, a->kw[k]);
        if (have[hit]) jx_fail(J, BD_EINPUT, pos, "TypeError: %s() got multiple values for argument '%s'", fname, a->kw[k]);
        out[hit] = a->kwv[k];
        have[hit] = 1;
    }
    for (int i = 0; i < n_required; i++)
        if (!have[i]) jx_fail(J, BD_EINPUT, pos, "TypeError: %s() missing required argument '%s'", fname, params[i]);
}

jx_str *jx_need_str(jx *J, jx_val v, const char *what, size_t pos)
{
    if (v.t != JV_STR) {
        if (v.t == JV_UNDEF) jx_fail_undef(J, v, pos);
        jx_fail(J, BD_EINPUT, pos, "TypeError: %s must be str, not %s", what, tname(v));
    }
    return v.u.s;
}

int64_t jx_need_int(jx *J, jx_val v, const char *what, size_t pos)
{
    if (!is_int(v)) {
        if (v.t == JV_UNDEF) jx_fail_undef(J, v, pos);
        jx_fail(J, BD_EINPUT, pos, "TypeError: %s must be an integer, not %s", what, tname(v));
    }
    return ival(v);
}

/* ---------- expressions ---------- */

static void eval_args(ev *E, jx_node *n, jx_frame *f, args *a)
{
    jx *J = E->J;
    a->n_pos = n->n_items;
    a->n_kw = n->n_items2;
    a->pos = jx_alloc(J, (size_t)(n->n_items + 1) * sizeof(jx_val));
    a->kwv = jx_alloc(J, (size_t)(n->n_items2 + 1) * sizeof(jx_val));
    a->kw = n->kw;
    for (int i = 0; i < n->n_items; i++) a->pos[i] = jx_eval_node(E, n->items[i], f);
    for (int i = 0; i < n->n_items2; i++) a->kwv[i] = jx_eval_node(E, n->items2[i], f);
}

static jx_val lookup(ev *E, jx_node *n, jx_frame *f)
{
    jx *J = E->J;
    jx_val v;
    if (frame_get(f, n->s, &v)) return v;
    if (!strcmp(n->s, "raise_exception")) return jx_mkfunc(J, F_RAISE, jv_none());
    if (!strcmp(n->s, "strftime_now")) return jx_mkfunc(J, F_STRFTIME, jv_none());
    if (!strcmp(n->s, "namespace")) return jx_mkfunc(J, F_NAMESPACE, jv_none());
    if (!strcmp(n->s, "dict")) return jx_mkfunc(J, F_DICT, jv_none());
    if (!strcmp(n->s, "range")) return jx_mkfunc(J, F_RANGE, jv_none());
    if (!strcmp(n->s, "lipsum") || !strcmp(n->s, "cycler") || !strcmp(n->s, "joiner"))
        jx_fail(J, BD_EUNSUP, n->pos, "unsupported global '%s'", n->s);
    return jv_undef(jx_fmt_str(J, "'%s' is undefined%s", n->s, NULL));
}

jx_val jx_eval_node(ev *E, jx_node *n, jx_frame *f)
{
    jx *J = E->J;
    jx_step(E, n->pos);
    switch (n->kind) {
    case E_CONST: return n->v;
    case E_NAME: return lookup(E, n, f);
    case E_GETATTR: return jx_get_attr(J, jx_eval_node(E, n->a, f), n->s, n->pos);
    case E_GETITEM: {
        jx_val o = jx_eval_node(E, n->a, f);
        return jx_get_item(J, o, jx_eval_node(E, n->b, f), n->pos);
    }
    case E_SLICE: {
        jx_val o = jx_eval_node(E, n->a, f);
        jx_val a = n->b ? jx_eval_node(E, n->b, f) : jv_none();
        jx_val b = n->c ? jx_eval_node(E, n->c, f) : jv_none();
        jx_val c = n->d ? jx_eval_node(E, n->d, f) : jv_none();
        return jx_do_slice(J, o, a, b, c, n->pos);
    }
    case E_CALL: {
        jx_val fn = jx_eval_node(E, n->a, f);
        args a;
        eval_args(E, n, f, &a);
        return jx_call_value(E, fn, &a, n->pos);
    }
    case E_FILTER: {
        jx_val v = n->a ? jx_eval_node(E, n->a, f) : jv_undef(NULL);
        args a;
        eval_args(E, n, f, &a);
        return jx_apply_filter(E, n->s, v, &a, n->pos);
    }
    case E_TEST: {
        jx_val v = jx_eval_node(E, n->a, f);
        args a;
        eval_args(E, n, f, &a);
        return jv_bool(jx_run_test(E, n->s, v, &a, n->pos));
    }
    case E_BIN: {
        jx_val a = jx_eval_node(E, n->a, f);
        jx_val b = jx_eval_node(E, n->b, f);
        return jx_binop(J, n->op, a, b, n->pos);
    }
    case E_NEG: case E_POS: {
        jx_val a = jx_eval_node(E, n->a, f);
        if (a.t == JV_UNDEF) jx_fail_undef(J, a, n->pos);
        if (is_int(a)) {
            if (n->kind == E_POS) return jv_int(ival(a));
            if (ival(a) == INT64_MIN) jx_fail(J, BD_EUNSUP, n->pos, "integer overflow");
            return jv_int(-ival(a));
        }
        if (a.t == JV_FLOAT) return jv_float(n->kind == E_NEG ? -a.u.f : a.u.f);
        jx_fail(J, BD_EINPUT, n->pos, "TypeError: bad operand type for unary %c: '%s'", n->kind == E_NEG ? '-' : '+', tname(a));
    }
    case E_NOT: return jv_bool(!jx_truthy(jx_eval_node(E, n->a, f)));
    case E_AND: {
        jx_val a = jx_eval_node(E, n->a, f);
        return jx_truthy(a) ? jx_eval_node(E, n->b, f) : a;
    }
    case E_OR: {
        jx_val a = jx_eval_node(E, n->a, f);
        return jx_truthy(a) ? a : jx_eval_node(E, n->b, f);
    }
    case E_CMP: {
        jx_val l = jx_eval_node(E, n->a, f);
        for (int i = 0; i < n->n_items; i++) {
            jx_val r = jx_eval_node(E, n->items[i], f);
            if (!jx_cmp_op(J, n->ops[i], l, r, n->pos)) return jv_bool(0);
            l = r;
        }
        return jv_bool(1);
    }
    case E_COND:
        if (jx_truthy(jx_eval_node(E, n->a, f))) return jx_eval_node(E, n->b, f);
        if (n->c) return jx_eval_node(E, n->c, f);
        return jv_undef(jx_fmt_str(J, "the inline if-expression on line %s evaluated to false and no else section was defined.%s", "?", NULL));
    case E_LIST: case E_TUPLE: {
        jx_list *l = jx_new_list(J, (size_t)n->n_items);
        for (int i = 0; i < n->n_items; i++) l->v[i] = jx_eval_node(E, n->items[i], f);
        return jx_list_of(J, l, n->kind == E_TUPLE);
    }
    case E_DICT: {
        jx_val d = jv_dict(J);
        for (int i = 0; i < n->n_items; i++) {
            jx_val k = jx_eval_node(E, n->items[i], f);
            if (k.t == JV_LIST && !(k.flag & JF_TUPLE)) jx_fail(J, BD_EINPUT, n->pos, "TypeError: unhashable type: 'list'");
            if (k.t == JV_DICT) jx_fail(J, BD_EINPUT, n->pos, "TypeError: unhashable type: 'dict'");
            if (k.t == JV_UNDEF) jx_fail(J, BD_EUNSUP, n->pos, "an undefined dict key is not supported");
            jx_dict_set(J, d.u.d, k, jx_eval_node(E, n->items2[i], f));
        }
        return d;
    }
    case E_CONCAT: {
        jx_buf b = {0};
        jx_buf_put(J, &b, "", 0);
        for (int i = 0; i < n->n_items; i++) jx_to_str(J, &b, jx_eval_node(E, n->items[i], f), 0);
        return jv_strn(J, b.p, b.n);
    }
    default: break;
    }
    jx_fail(J, BD_EUNSUP, n->pos, "unsupported expression");
}

/* ---------- statements ---------- */
static void assign(ev *E, jx_node *target, jx_val v, jx_frame *f, size_t pos)
{
    jx *J = E->J;
    if (target->kind == E_NAME) { jx_frame_set(J, f, target->s, v); return; }
    if (target->kind == E_TUPLE) {
        if (v.t == JV_UNDEF) jx_fail_undef(J, v, pos);
        jx_list *l = jx_iter_list(J, v, pos);
        if (l->n != (size_t)target->n_items)
            jx_fail(J, BD_EINPUT, pos, "ValueError: %s values to unpack (expected %d, got %zu)",
                    l->n > (size_t)target->n_items ? "too many" : "not enough", target->n_items, l->n);
        for (int i = 0; i < target->n_items; i++) jx_frame_set(J, f, target->items[i]->s, l->v[i]);
        return;
    }
    if (target->kind == E_NSREF) {
        jx_val ns;
        if (!frame_get(f, target->s, &ns) || ns.t != JV_DICT || !(ns.flag & JF_NS))
            jx_fail(J, BD_EINPUT, pos, "TemplateRuntimeError: cannot assign attribute on non-namespace object");
        jx_val key = target->b->v;
        if (key.u.s->p[0] == '_')
            jx_fail(J, BD_EINPUT, pos, "SecurityError: Chat templates cannot store underscore-prefixed attributes "
                    "on a namespace, but got '%s'. Please rename the attribute.", key.u.s->p);
        jx_dict_set(J, ns.u.d, key, v);
        return;
    }
    jx_fail(J, BD_EUNSUP, pos, "unsupported assignment target");
}

static int exec_node(ev *E, jx_node *n, jx_frame *f);

void jx_exec_body(ev *E, jx_node *body, jx_frame *f, int *r)
{
    *r = R_OK;
    for (int i = 0; i < body->n_items; i++) {
        *r = exec_node(E, body->items[i], f);
        if (*r != R_OK) return;
    }
}

static int exec_for(ev *E, jx_node *n, jx_frame *f)
{
    jx *J = E->J;
    jx_val seq = jx_eval_node(E, n->b, f);
    if (seq.t == JV_DICT && (seq.flag & JF_NS))
        jx_fail(J, BD_EINPUT, n->pos, "TypeError: 'Namespace' object is not iterable");
    jx_list *items = jx_iter_list(J, seq, n->pos);
    if (n->c) {
        jx_list *kept = jx_new_list(J, items->n);
        kept->n = 0;
        jx_frame *tf = NULL;
        for (size_t i = 0; i < items->n; i++) {
            jx_step(E, n->pos);
            if (!tf || tf->captured) tf = jx_frame_new(J, f);
            else tf->n = 0;
            assign(E, n->a, items->v[i], tf, n->pos);
            if (jx_truthy(jx_eval_node(E, n->c, tf))) kept->v[kept->n++] = items->v[i];
        }
        items = kept;
    }
    struct jx_loop *L = jx_alloc(J, sizeof *L);
    L->length = (int64_t)items->n;
    L->items = items;
    jx_val lv = {JV_LOOP, 0, {0}};
    lv.u.loop = L;
    jx_frame *it = NULL;
    for (size_t i = 0; i < items->n; i++) {
        jx_step(E, n->pos);
        /* each iteration starts a fresh scope; the frame's storage is reused
         * unless a macro defined in it keeps it alive */
        if (!it || it->captured) it = jx_frame_new(J, f);
        else it->n = 0;
        L->index0 = (int64_t)i;
        jx_frame_set(J, it, "loop", lv);
        assign(E, n->a, items->v[i], it, n->pos);
        int r;
        jx_exec_body(E, n->d, it, &r);
        if (r == R_BREAK) break;
    }
    if (items->n == 0 && n->n_items2) {
        int r;
        jx_exec_body(E, n->items2[0], f, &r);
        return r;
    }
    return R_OK;
}

static int exec_node(ev *E, jx_node *n, jx_frame *f)
{
    jx *J = E->J;
    jx_step(E, n->pos);
    switch (n->kind) {
    case N_BODY: { int r; jx_exec_body(E, n, f, &r); return r; }
    case N_TEXT: jx_buf_put(J, E->out, n->s, n->n); return R_OK;
    case N_OUTPUT: {
        jx_val v = jx_eval_node(E, n->a, f);
        if (v.t == JV_LOOP) {
            jx_buf_printf(J, E->out, "<LoopContext %lld/%lld>", (long long)v.u.loop->index0 + 1,
                          (long long)v.u.loop->length);
            return R_OK;
        }
        if (v.t == JV_FUNC || v.t == JV_MACRO)
            jx_fail(J, BD_EUNSUP, n->pos, "printing a %s is not supported", tname(v));
        jx_to_str(J, E->out, v, 0);
        return R_OK;
    }
    case N_IF:
        if (jx_truthy(jx_eval_node(E, n->a, f))) return exec_node(E, n->b, f);
        if (n->c) return exec_node(E, n->c, f);
        return R_OK;
    case N_FOR: return exec_for(E, n, f);
    case N_SET: assign(E, n->a, jx_eval_node(E, n->b, f), f, n->pos); return R_OK;
    case N_SETBLOCK: {
        jx_buf buf = {0}, *saved = E->out;
        jx_buf_put(J, &buf, "", 0);
        E->out = &buf;
        int r;
        jx_exec_body(E, n->b, f, &r);
        E->out = saved;
        if (r != R_OK) return r;   /* break/continue leave before the assignment */
        jx_val v = jv_strn(J, buf.p, buf.n);
        if (n->c) {
            /* the filter chain was parsed with a NULL innermost operand: apply it outside-in */
            jx_node *chain[64];
            int k = 0;
            for (jx_node *x = n->c; x && x->kind == E_FILTER; x = x->a) {
                if (k >= 64) jx_fail(J, BD_EUNSUP, n->pos, "filter chain too long");
                chain[k++] = x;
            }
            while (k-- > 0) {
                args a;
                eval_args(E, chain[k], f, &a);
                v = jx_apply_filter(E, chain[k]->s, v, &a, chain[k]->pos);
            }
        }
        assign(E, n->a, v, f, n->pos);
        return R_OK;
    }
    case N_MACRO: {
        jx_val m = {JV_MACRO, 0, {0}};
        m.u.mac = jx_alloc(J, sizeof *m.u.mac);
        m.u.mac->def = n;
        m.u.mac->closure = f;
        f->captured = 1;
        jx_frame_set(J, f, n->s, m);
        return R_OK;
    }
    case N_BREAK: return R_BREAK;
    case N_CONTINUE: return R_CONTINUE;
    default: break;
    }
    jx_fail(J, BD_EUNSUP, n->pos, "unsupported statement");
}

void jx_render(jx *J, jx_node *root, jx_dict *vars)
{
    jx_frame *f = jx_frame_new(J, NULL);
    for (size_t i = 0; i < vars->n; i++) jx_frame_set(J, f, vars->k[i].u.s->p, vars->v[i]);
    jx_buf out = {0};
    jx_buf_put(J, &out, "", 0);
    ev E = {J, &out, 0};
    int r;
    jx_exec_body(&E, root, f, &r);
    J->out = out.p;
    J->out_n = out.n;
}
