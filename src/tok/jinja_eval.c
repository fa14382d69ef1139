/* Evaluator of the Jinja2 subset: statements, expressions, scoping (a fresh
 * scope per loop iteration and per macro call, none for if blocks, as jinja2
 * compiles them), jinja2's default Undefined, the ImmutableSandboxedEnvironment
 * restrictions, and transformers' globals (raise_exception, strftime_now,
 * namespace, dict) and tojson override. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jinja.h"

enum { CMP_EQ = 1, CMP_NE, CMP_LT, CMP_LE, CMP_GT, CMP_GE, CMP_IN, CMP_NOTIN };
enum { R_OK, R_BREAK, R_CONTINUE };
#define MAX_CALL_DEPTH 64

struct jx_frame {
    jx_frame *parent;
    const char **names;
    jx_val *vals;
    size_t n, cap;
    int captured;        /* a macro closes over it: never reuse it */
};

enum fn_id {
    F_RAISE = 1, F_STRFTIME, F_NAMESPACE, F_DICT, F_RANGE, F_CYCLE,
    /* str methods */
    M_STRIP, M_LSTRIP, M_RSTRIP, M_STARTSWITH, M_ENDSWITH, M_SPLIT, M_RSPLIT, M_UPPER, M_LOWER,
    M_TITLE, M_CAPITALIZE, M_REPLACE, M_JOIN, M_FIND, M_COUNT, M_ISDIGIT, M_ISALPHA, M_ISSPACE,
    M_ISUPPER, M_ISLOWER, M_SPLITLINES, M_FORMAT,
    /* dict methods */
    M_ITEMS, M_KEYS, M_VALUES, M_GET,
    /* list methods */
    M_INDEX, M_LCOUNT
};

struct jx_func { int id; jx_val self; };
struct jx_loop { int64_t index0, length; jx_list *items; };
struct jx_macro { jx_node *def; jx_frame *closure; };

typedef struct ev {
    jx *J;
    jx_buf *out;
    int calls;
} ev;

/* ---------- frames ---------- */
static jx_frame *frame_new(jx *J, jx_frame *parent)
{
    jx_frame *f = jx_alloc(J, sizeof *f);
    memset(f, 0, sizeof *f);
    f->parent = parent;
    return f;
}

static void frame_set(jx *J, jx_frame *f, const char *name, jx_val v)
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
static void step(ev *E, size_t pos)
{
    if (++E->J->steps > E->J->max_steps)
        jx_fail(E->J, BD_EINPUT, pos, "template exceeds the step limit (%lld)", E->J->max_steps);
}

static jx_str *fmt_str(jx *J, const char *fmt, const char *a, const char *b)
{
    char tmp[300];
    snprintf(tmp, sizeof tmp, fmt, a, b ? b : "");
    return jx_strn(J, tmp, strlen(tmp));
}

_Noreturn static void fail_undef(jx *J, jx_val u, size_t pos)
{
    jx_fail(J, BD_EINPUT, pos, "UndefinedError: %s", u.u.s ? u.u.s->p : "value is undefined");
}

static jx_val mkfunc(jx *J, int id, jx_val self)
{
    jx_val v = {JV_FUNC, 0, {0}};
    v.u.fn = jx_alloc(J, sizeof *v.u.fn);
    v.u.fn->id = id;
    v.u.fn->self = self;
    return v;
}

static int is_int(jx_val v) { return v.t == JV_INT || v.t == JV_BOOL; }
static int is_numv(jx_val v) { return v.t == JV_INT || v.t == JV_BOOL || v.t == JV_FLOAT; }
static int64_t ival(jx_val v) { return v.t == JV_INT ? v.u.i : v.u.b; }
static double fval(jx_val v) { return v.t == JV_FLOAT ? v.u.f : (double)ival(v); }
static const char *tname(jx_val v) { return jx_type_name(v); }

/* A sequence's items as a list (iteration order): list/tuple items, dict keys,
 * string characters; undefined iterates as empty. */
static jx_list *iter_list(jx *J, jx_val v, size_t pos)
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

static jx_val list_of(jx *J, jx_list *l, int tuple)
{
    (void)J;
    jx_val v = {JV_LIST, (uint8_t)(tuple ? JF_TUPLE : 0), {0}};
    v.u.l = l;
    return v;
}

static jx_val gen_of(jx *J, jx_list *l, int flag)
{
    jx_val v = list_of(J, l, 0);
    v.flag = (uint8_t)flag;
    return v;
}

/* jinja2's generator filters fail on a non-iterable input only when the
 * result is iterated: return such a generator, carrying the error. */
static int lazy_fail(jx *J, jx_val v, const char *msg, jx_val *out)
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
    *out = gen_of(J, l, JF_GEN);
    return 1;
}

static jx_list *new_list(jx *J, size_t n)
{
    jx_list *l = jx_alloc(J, sizeof *l);
    l->n = n;
    l->v = jx_alloc(J, jx_mul(J, n ? n : 1, sizeof(jx_val)));
    return l;
}

/* code-point offsets of a string: off[i] = byte offset of character i, off[n] = len */
static size_t *cp_offsets(jx *J, const jx_str *s, size_t *n_cp)
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

static jx_val do_slice(jx *J, jx_val obj, jx_val a, jx_val b, jx_val c, size_t pos)
{
    if (obj.t == JV_UNDEF) fail_undef(J, obj, pos);
    if ((obj.t == JV_LIST && !JX_LAZY(obj)) || obj.t == JV_STR) {
        size_t ncp = 0, *off = NULL;
        int64_t len;
        if (obj.t == JV_STR) { off = cp_offsets(J, obj.u.s, &ncp); len = (int64_t)ncp; }
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
        jx_list *l = new_list(J, (size_t)cnt);
        for (int64_t k = 0, i = lo; k < cnt; k++, i += s) l->v[k] = obj.u.l->v[i];
        return list_of(J, l, obj.flag & JF_TUPLE);
    }
    return jv_undef(fmt_str(J, "'%s object' is not subscriptable with a slice%s", tname(obj), NULL));
}

static int method_id(jx_val obj, const char *name)
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
static int is_mutating(jx_val obj, const char *name)
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
        return L->index0 > 0 ? L->items->v[L->index0 - 1] : jv_undef(fmt_str(J, "there is no previous item%s", "", NULL));
    if (!strcmp(name, "nextitem"))
        return L->index0 + 1 < L->length ? L->items->v[L->index0 + 1]
                                         : jv_undef(fmt_str(J, "there is no next item%s", "", NULL));
    if (!strcmp(name, "cycle")) {
        jx_val self = {JV_LOOP, 0, {0}};
        self.u.loop = L;
        return mkfunc(J, F_CYCLE, self);
    }
    if (!strcmp(name, "changed"))
        jx_fail(J, BD_EUNSUP, (size_t)-1, "loop.changed is not supported");
    return jv_undef(fmt_str(J, "'LoopContext object' has no attribute '%s'%s", name, NULL));
}

/* jinja2's environment.getattr: attribute first, then item. */
static jx_val get_attr(jx *J, jx_val obj, const char *name, size_t pos)
{
    if (obj.t == JV_UNDEF) fail_undef(J, obj, pos);
    if (name[0] == '_')
        return jv_undef(fmt_str(J, "access to attribute '%s' of '%s' object is unsafe.", name, tname(obj)));
    if (obj.t == JV_LOOP) return loop_attr(J, obj.u.loop, name);
    int m = method_id(obj, name);
    if (m) return mkfunc(J, m, obj);
    if (is_mutating(obj, name))
        return jv_undef(fmt_str(J, "access to attribute '%s' of '%s' object is unsafe.", name, tname(obj)));
    if (obj.t == JV_DICT) {
        jx_val k = jv_str(J, name);
        int i = jx_dict_find(J, obj.u.d, k);
        if (i >= 0) return obj.u.d->v[i];
        if (obj.flag & JF_NS)
            return jv_undef(fmt_str(J, "'Namespace object' has no attribute '%s'%s", name, NULL));
    }
    return jv_undef(fmt_str(J, "'%s object' has no attribute '%s'", tname(obj), name));
}

/* jinja2's environment.getitem: item first, then attribute for string keys. */
static jx_val get_item(jx *J, jx_val obj, jx_val key, size_t pos)
{
    if (obj.t == JV_UNDEF) fail_undef(J, obj, pos);
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
            size_t ncp, *off = cp_offsets(J, obj.u.s, &ncp);
            int64_t n = (int64_t)ncp;
            if (k < 0) k += n;
            if (k >= 0 && k < n) return jv_strn(J, obj.u.s->p + off[k], off[k + 1] - off[k]);
        }
    }
    if (key.t == JV_STR) {
        jx_val v = get_attr(J, obj, key.u.s->p, pos);
        if (v.t != JV_UNDEF || obj.t != JV_DICT) return v;
        return jv_undef(fmt_str(J, "'dict object' has no attribute '%s'%s", key.u.s->p, NULL));
    }
    jx_buf b = {0};
    jx_repr(J, &b, key, 0);
    return jv_undef(fmt_str(J, "'%s object' has no element %s", tname(obj), b.p ? b.p : ""));
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
    jx_list *l = new_list(J, n);
    for (size_t i = 0; i < n; i++) l->v[i] = seq.u.l->v[i % seq.u.l->n];
    return list_of(J, l, seq.flag & JF_TUPLE);
}

_Noreturn static void bad_operands(jx *J, const char *op, jx_val a, jx_val b, size_t pos)
{
    if (a.t == JV_UNDEF) fail_undef(J, a, pos);
    if (b.t == JV_UNDEF) fail_undef(J, b, pos);
    jx_fail(J, BD_EINPUT, pos, "TypeError: unsupported operand type(s) for %s: '%s' and '%s'", op, tname(a), tname(b));
}

static double py_fmod(double a, double b)
{
    double m = fmod(a, b);
    if (m != 0 && ((b < 0) != (m < 0))) m += b;
    return m;
}

static jx_val binop(jx *J, int op, jx_val a, jx_val b, size_t pos)
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
            jx_list *l = new_list(J, a.u.l->n + b.u.l->n);
            if (a.u.l->n) memcpy(l->v, a.u.l->v, a.u.l->n * sizeof(jx_val));
            if (b.u.l->n) memcpy(l->v + a.u.l->n, b.u.l->v, b.u.l->n * sizeof(jx_val));
            return list_of(J, l, a.flag & JF_TUPLE);
        }
        if (a.t == JV_STR && b.t != JV_UNDEF)
            jx_fail(J, BD_EINPUT, pos, "TypeError: can only concatenate str (not \"%s\") to str", tname(b));
        bad_operands(J, "+", a, b, pos);
    }
    if (op == '-') {
        if (is_int(a) && is_int(b)) {
            int64_t r;
            if (__builtin_sub_overflow(ival(a), ival(b), &r)) jx_fail(J, BD_EUNSUP, pos, "integer overflow");
            return jv_int(r);
        }
        if (is_numv(a) && is_numv(b)) return jv_float(fval(a) - fval(b));
        bad_operands(J, "-", a, b, pos);
    }
    if (op == '*') {
        if (is_int(a) && is_int(b)) return jv_int(mul_ovf(J, ival(a), ival(b), pos));
        if (is_numv(a) && is_numv(b)) return jv_float(fval(a) * fval(b));
        if ((a.t == JV_STR || (a.t == JV_LIST && !JX_LAZY(a))) && is_int(b)) return repeat(J, a, ival(b), pos);
        if ((b.t == JV_STR || (b.t == JV_LIST && !JX_LAZY(b))) && is_int(a)) return repeat(J, b, ival(a), pos);
        bad_operands(J, "*", a, b, pos);
    }
    if (op == '/' || op == OP_FLOORDIV || op == '%') {
        const char *opn = op == '/' ? "/" : op == '%' ? "%" : "//";
        if (op == '%' && a.t == JV_STR) jx_fail(J, BD_EUNSUP, pos, "'%%' string formatting is not supported");
        if (!is_numv(a) || !is_numv(b)) bad_operands(J, opn, a, b, pos);
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
        double m = py_fmod(x, y);
        if (op == '%') return jv_float(m);
        return jv_float(floor((x - m) / y + 0.5) == (x - m) / y ? (x - m) / y : floor(x / y));
    }
    if (op == OP_POW) {
        if (!is_numv(a) || !is_numv(b)) bad_operands(J, "** or pow()", a, b, pos);
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

static int compare_lt(jx *J, jx_val a, jx_val b, size_t pos, int depth)
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
                return compare_lt(J, a.u.l->v[i], b.u.l->v[i], pos, depth + 1);
        return a.u.l->n < b.u.l->n;
    }
    if (a.t == JV_UNDEF) fail_undef(J, a, pos);
    if (b.t == JV_UNDEF) fail_undef(J, b, pos);
    jx_fail(J, BD_EINPUT, pos, "TypeError: '<' not supported between instances of '%s' and '%s'", tname(a), tname(b));
}

static int contains(jx *J, jx_val container, jx_val item, size_t pos)
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

static int cmp_op(jx *J, int op, jx_val a, jx_val b, size_t pos)
{
    switch (op) {
    case CMP_EQ: return jx_equal(J, a, b, 0);
    case CMP_NE: return !jx_equal(J, a, b, 0);
    case CMP_LT: return compare_lt(J, a, b, pos, 0);
    case CMP_GT: return compare_lt(J, b, a, pos, 0);
    case CMP_LE: return compare_lt(J, a, b, pos, 0) || jx_equal(J, a, b, 0);
    case CMP_GE: return compare_lt(J, b, a, pos, 0) || jx_equal(J, a, b, 0);
    case CMP_IN: return contains(J, b, a, pos);
    default: return !contains(J, b, a, pos);
    }
}

/* ---------- argument binding ---------- */
typedef struct args {
    jx_val *pos;
    int n_pos;
    const char **kw;
    jx_val *kwv;
    int n_kw;
} args;

/* Binds args to params (Python call rules); out[i] gets the value, have[i] whether given. */
static void bind(jx *J, size_t pos, const char *fname, const char *const *params, int n_params,
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

static jx_str *need_str(jx *J, jx_val v, const char *what, size_t pos)
{
    if (v.t != JV_STR) {
        if (v.t == JV_UNDEF) fail_undef(J, v, pos);
        jx_fail(J, BD_EINPUT, pos, "TypeError: %s must be str, not %s", what, tname(v));
    }
    return v.u.s;
}

static int64_t need_int(jx *J, jx_val v, const char *what, size_t pos)
{
    if (!is_int(v)) {
        if (v.t == JV_UNDEF) fail_undef(J, v, pos);
        jx_fail(J, BD_EINPUT, pos, "TypeError: %s must be an integer, not %s", what, tname(v));
    }
    return ival(v);
}

/* ---------- string operations (Python str semantics) ---------- */
static int in_chars(const jx_str *chars, uint32_t cp)
{
    size_t i = 0;
    while (i < chars->n) if (jx_utf8_next(chars->p, chars->n, &i) == cp) return 1;
    return 0;
}

static jx_val str_strip(jx *J, const jx_str *s, const jx_str *chars, int left, int right)
{
    size_t b = 0, e = s->n;
    if (left) {
        while (b < e) {
            size_t j = b;
            uint32_t cp = jx_utf8_next(s->p, e, &j);
            if (chars ? !in_chars(chars, cp) : !jx_py_space(cp)) break;
            b = j;
        }
    }
    if (right) {
        while (e > b) {
            size_t st = e - 1;
            while (st > b && ((unsigned char)s->p[st] & 0xC0) == 0x80) st--;
            size_t j = st;
            uint32_t cp = jx_utf8_next(s->p, e, &j);
            if (chars ? !in_chars(chars, cp) : !jx_py_space(cp)) break;
            e = st;
        }
    }
    return jv_strn(J, s->p + b, e - b);
}

static void put_upper(jx *J, jx_buf *b, uint32_t cp)
{
    if (cp == 0xDF) { jx_buf_put(J, b, "SS", 2); return; }   /* Python's full mapping of U+00DF */
    jx_utf8_put(J, b, jx_cp_upper(J, cp));
}

enum { CASE_UPPER, CASE_LOWER, CASE_TITLE, CASE_CAP };
static jx_val str_case(jx *J, const jx_str *s, int mode)
{
    jx_buf b = {0};
    jx_buf_put(J, &b, "", 0);
    size_t i = 0;
    int prev_cased = 0, first = 1;
    while (i < s->n) {
        uint32_t cp = jx_utf8_next(s->p, s->n, &i);
        switch (mode) {
        case CASE_UPPER: put_upper(J, &b, cp); break;
        case CASE_LOWER: jx_utf8_put(J, &b, jx_cp_lower(J, cp)); break;
        case CASE_TITLE:
            if (prev_cased) jx_utf8_put(J, &b, jx_cp_lower(J, cp));
            else put_upper(J, &b, cp);
            prev_cased = jx_cp_is_alpha(J, cp);
            break;
        default:
            if (first) put_upper(J, &b, cp);
            else jx_utf8_put(J, &b, jx_cp_lower(J, cp));
        }
        first = 0;
    }
    return jv_strn(J, b.p, b.n);
}

/* jinja2's title filter: words split at runs of [-\s({\[<], each word's first
 * character upper-cased and the rest lower-cased. */
static jx_val jinja_title(jx *J, const jx_str *s)
{
    jx_buf b = {0};
    jx_buf_put(J, &b, "", 0);
    size_t i = 0;
    int at_word_start = 1;
    while (i < s->n) {
        uint32_t cp = jx_utf8_next(s->p, s->n, &i);
        int delim = jx_py_space(cp) || cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<';
        if (delim) { jx_utf8_put(J, &b, cp); at_word_start = 1; continue; }
        if (at_word_start) put_upper(J, &b, cp);
        else jx_utf8_put(J, &b, jx_cp_lower(J, cp));
        at_word_start = 0;
    }
    return jv_strn(J, b.p, b.n);
}

static jx_val str_replace(jx *J, const jx_str *s, const jx_str *old, const jx_str *nw, int64_t count)
{
    jx_buf b = {0};
    jx_buf_put(J, &b, "", 0);
    if (old->n == 0) {
        size_t i = 0;
        int64_t done = 0;
        while (1) {
            if (count < 0 || done < count) { jx_buf_put(J, &b, nw->p, nw->n); done++; }
            if (i >= s->n) break;
            size_t st = i;
            jx_utf8_next(s->p, s->n, &i);
            jx_buf_put(J, &b, s->p + st, i - st);
        }
        return jv_strn(J, b.p, b.n);
    }
    size_t i = 0;
    int64_t done = 0;
    while (i <= s->n) {
        const char *hit = (count < 0 || done < count) ? memmem(s->p + i, s->n - i, old->p, old->n) : NULL;
        if (!hit) { jx_buf_put(J, &b, s->p + i, s->n - i); break; }
        jx_buf_put(J, &b, s->p + i, (size_t)(hit - (s->p + i)));
        jx_buf_put(J, &b, nw->p, nw->n);
        i = (size_t)(hit - s->p) + old->n;
        done++;
    }
    return jv_strn(J, b.p, b.n);
}

static jx_val str_split(jx *J, const jx_str *s, jx_val sepv, int64_t maxsplit, int from_right, size_t pos)
{
    jx_val parts[1];
    (void)parts;
    size_t cap = 16, n = 0;
    jx_val *v = jx_alloc(J, cap * sizeof *v);
#define ADD(p_, n_) do { if (n == cap) { jx_val *nv = jx_alloc(J, jx_mul(J, cap *= 2, sizeof *nv)); \
    memcpy(nv, v, n * sizeof *nv); v = nv; } v[n++] = jv_strn(J, (p_), (n_)); } while (0)
    if (sepv.t == JV_NONE || sepv.t == JV_UNDEF) {
        /* whitespace split, empty strings dropped */
        size_t ncp, *off = cp_offsets(J, s, &ncp);
        uint32_t *cps = jx_alloc(J, jx_mul(J, ncp + 1, sizeof *cps));
        for (size_t k = 0, i = 0; k < ncp; k++) cps[k] = jx_utf8_next(s->p, s->n, &i);
        if (!from_right) {
            size_t k = 0;
            int64_t splits = 0;
            while (k < ncp) {
                while (k < ncp && jx_py_space(cps[k])) k++;
                if (k >= ncp) break;
                if (maxsplit >= 0 && splits >= maxsplit) {
                    ADD(s->p + off[k], s->n - off[k]);
                    break;
                }
                size_t st = k;
                while (k < ncp && !jx_py_space(cps[k])) k++;
                ADD(s->p + off[st], off[k] - off[st]);
                splits++;
            }
        } else {
            size_t k = ncp;
            int64_t splits = 0;
            while (k > 0) {
                while (k > 0 && jx_py_space(cps[k - 1])) k--;
                if (k == 0) break;
                if (maxsplit >= 0 && splits >= maxsplit) {
                    ADD(s->p, off[k]);
                    break;
                }
                size_t e = k;
                while (k > 0 && !jx_py_space(cps[k - 1])) k--;
                ADD(s->p + off[k], off[e] - off[k]);
                splits++;
            }
            for (size_t a = 0; a < n / 2; a++) { jx_val t = v[a]; v[a] = v[n - 1 - a]; v[n - 1 - a] = t; }
        }
    } else {
        const jx_str *sep = need_str(J, sepv, "sep", pos);
        if (sep->n == 0) jx_fail(J, BD_EINPUT, pos, "ValueError: empty separator");
        if (!from_right) {
            size_t i = 0;
            int64_t splits = 0;
            while (1) {
                const char *hit = (maxsplit < 0 || splits < maxsplit) ? memmem(s->p + i, s->n - i, sep->p, sep->n) : NULL;
                if (!hit) { ADD(s->p + i, s->n - i); break; }
                ADD(s->p + i, (size_t)(hit - (s->p + i)));
                i = (size_t)(hit - s->p) + sep->n;
                splits++;
            }
        } else {
            size_t e = s->n;
            int64_t splits = 0;
            while (1) {
                const char *hit = NULL;
                if ((maxsplit < 0 || splits < maxsplit) && e >= sep->n)
                    for (size_t k = e - sep->n + 1; k-- > 0;)
                        if (memcmp(s->p + k, sep->p, sep->n) == 0) { hit = s->p + k; break; }
                if (!hit) { ADD(s->p, e); break; }
                ADD(hit + sep->n, (size_t)(s->p + e - (hit + sep->n)));
                e = (size_t)(hit - s->p);
                splits++;
            }
            for (size_t a = 0; a < n / 2; a++) { jx_val t = v[a]; v[a] = v[n - 1 - a]; v[n - 1 - a] = t; }
        }
    }
#undef ADD
    jx_list *l = jx_alloc(J, sizeof *l);
    l->n = n;
    l->v = v;
    return list_of(J, l, 0);
}

static int str_pred(jx *J, const jx_str *s, int id)
{
    size_t i = 0;
    int any_cased = 0;
    if (s->n == 0) return 0;
    while (i < s->n) {
        uint32_t cp = jx_utf8_next(s->p, s->n, &i);
        switch (id) {
        case M_ISDIGIT: if (!(cp >= '0' && cp <= '9')) return 0; break;
        case M_ISALPHA: if (!jx_cp_is_alpha(J, cp)) return 0; break;
        case M_ISSPACE: if (!jx_py_space(cp)) return 0; break;
        case M_ISUPPER:
            if (jx_cp_lower(J, cp) != cp) any_cased = 1;
            else if (jx_cp_upper(J, cp) != cp) return 0;
            break;
        default:
            if (jx_cp_upper(J, cp) != cp) any_cased = 1;
            else if (jx_cp_lower(J, cp) != cp) return 0;
        }
    }
    return (id == M_ISUPPER || id == M_ISLOWER) ? any_cased : 1;
}

static int prefix_match(jx *J, const jx_str *s, jx_val p, int end, size_t pos)
{
    if (p.t == JV_LIST && (p.flag & JF_TUPLE)) {
        for (size_t i = 0; i < p.u.l->n; i++)
            if (prefix_match(J, s, p.u.l->v[i], end, pos)) return 1;
        return 0;
    }
    const jx_str *x = need_str(J, p, end ? "endswith first arg" : "startswith first arg", pos);
    if (x->n > s->n) return 0;
    return memcmp(end ? s->p + s->n - x->n : s->p, x->p, x->n) == 0;
}

/* ---------- tests ---------- */
static int run_test(ev *E, const char *name, jx_val v, const args *a, size_t pos)
{
    jx *J = E->J;
    jx_val arg = a->n_pos ? a->pos[0] : jv_undef(NULL);
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
        if (!is_numv(v)) bad_operands(J, "%", v, jv_int(2), pos);
        double m = is_int(v) ? (double)(((ival(v) % 2) + 2) % 2) : py_fmod(v.u.f, 2.0);
        return name[0] == 'o' ? m == 1.0 : m == 0.0;
    }
    if (!strcmp(name, "divisibleby")) {
        if (!is_numv(v) || !is_numv(arg)) bad_operands(J, "%", v, arg, pos);
        if (fval(arg) == 0) jx_fail(J, BD_EINPUT, pos, "ZeroDivisionError: integer modulo by zero");
        if (is_int(v) && is_int(arg)) return ival(v) % ival(arg) == 0;
        return py_fmod(fval(v), fval(arg)) == 0;
    }
    if (!strcmp(name, "lower") || !strcmp(name, "upper")) {
        jx_str *s = jx_as_str(J, v);
        return str_pred(J, s, name[0] == 'l' ? M_ISLOWER : M_ISUPPER);
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
            return cmp_op(J, cmps[i].op, v, arg, pos);
        }
    if (!strcmp(name, "filter") || !strcmp(name, "test") || !strcmp(name, "escaped"))
        jx_fail(J, BD_EUNSUP, pos, "unsupported test '%s'", name);
    jx_fail(J, BD_EINPUT, pos, "No test named '%s'.", name);
}

/* ---------- filters ---------- */
static jx_val call_value(ev *E, jx_val fn, const args *a, size_t pos);
static jx_val apply_filter(ev *E, const char *name, jx_val v, const args *a, size_t pos);

/* environment.getattr with a dotted path, as jinja2's make_attrgetter */
static jx_val attr_path(jx *J, jx_val v, const jx_str *path, size_t pos)
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
        if (all_digits && len < 18) v = get_item(J, v, jv_int(strtoll(part, NULL, 10)), pos);
        else v = get_item(J, v, jv_str(J, part), pos);
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
        attr = need_str(J, a->pos[0], "attribute", pos);
        k = 1;
    }
    const char *test = NULL;
    if (a->n_pos > k) test = need_str(J, a->pos[k], "test name", pos)->p;
    args targs = {a->pos + k + 1, a->n_pos > k + 1 ? a->n_pos - k - 1 : 0, NULL, NULL, 0};
    jx_val lz;
    if (lazy_fail(J, v, NULL, &lz)) return lz;
    jx_list *in = iter_list(J, v, pos);
    jx_list *out = new_list(J, in->n);
    out->n = 0;
    for (size_t i = 0; i < in->n; i++) {
        step(E, pos);
        jx_val x = by_attr ? attr_path(J, in->v[i], attr, pos) : in->v[i];
        int ok = test ? run_test(E, test, x, &targs, pos) : jx_truthy(x);
        if (ok != reject) out->v[out->n++] = in->v[i];
    }
    return gen_of(J, out, JF_GEN);
}

static jx_val filter_tojson(ev *E, jx_val v, const args *a, size_t pos)
{
    jx *J = E->J;
    static const char *const p[] = {"ensure_ascii", "indent", "separators", "sort_keys"};
    jx_val o[4];
    int h[4];
    bind(J, pos, "tojson", p, 4, 0, a, o, h);
    if (h[0] && jx_truthy(o[0])) jx_fail(J, BD_EUNSUP, pos, "tojson(ensure_ascii=true) is not supported");
    int indent = -1;
    const char *isep = ", ", *ksep = ": ";
    if (h[1] && o[1].t != JV_NONE) {
        if (o[1].t == JV_STR) jx_fail(J, BD_EUNSUP, pos, "tojson with a string indent is not supported");
        indent = (int)need_int(J, o[1], "indent", pos);
        if (indent < 0) indent = 0;
        if (indent > 64) jx_fail(J, BD_EUNSUP, pos, "tojson indent above 64 is not supported");
        isep = ",";
    }
    if (h[2] && o[2].t != JV_NONE) {
        if (o[2].t != JV_LIST || o[2].u.l->n != 2)
            jx_fail(J, BD_EINPUT, pos, "tojson separators must be a pair of strings");
        isep = need_str(J, o[2].u.l->v[0], "separator", pos)->p;
        ksep = need_str(J, o[2].u.l->v[1], "separator", pos)->p;
    }
    jx_buf b = {0};
    jx_buf_put(J, &b, "", 0);
    jx_json(J, &b, v, indent, isep, ksep, h[3] && jx_truthy(o[3]), 0, pos);
    return jv_strn(J, b.p, b.n);
}

static jx_val apply_filter(ev *E, const char *name, jx_val v, const args *a, size_t pos)
{
    jx *J = E->J;
    jx_val o[4];
    int h[4];
#define BIND(...) do { static const char *const p_[] = {__VA_ARGS__}; \
    bind(J, pos, name, p_, (int)(sizeof p_ / sizeof *p_), 0, a, o, h); } while (0)
#define NOARGS() do { if (a->n_pos || a->n_kw) jx_fail(J, BD_EINPUT, pos, "TypeError: filter %s takes no arguments", name); } while (0)
    if (!strcmp(name, "trim")) {
        BIND("chars");
        jx_str *s = jx_as_str(J, v);
        return str_strip(J, s, (h[0] && o[0].t != JV_NONE) ? need_str(J, o[0], "chars", pos) : NULL, 1, 1);
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
        return str_case(J, jx_as_str(J, v), name[0] == 'u' ? CASE_UPPER : name[0] == 'l' ? CASE_LOWER : CASE_CAP);
    }
    if (!strcmp(name, "title")) { NOARGS(); return jinja_title(J, jx_as_str(J, v)); }
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
        if (v.t == JV_UNDEF) fail_undef(J, v, pos);   /* int(Undefined) raises */
        jx_val dv = h[0] ? o[0] : jv_int(0);
        int64_t base = h[1] ? need_int(J, o[1], "base", pos) : 10;
        if (is_int(v)) return jv_int(ival(v));
        if (v.t == JV_FLOAT) {
            if (isnan(v.u.f)) return dv;
            if (isinf(v.u.f)) jx_fail(J, BD_EINPUT, pos, "OverflowError: cannot convert float infinity to integer");
            if (fabs(v.u.f) >= 9.2e18) jx_fail(J, BD_EUNSUP, pos, "integer overflow (big integers are not supported)");
            return jv_int((int64_t)v.u.f);
        }
        if (v.t == JV_STR) {
            jx_val t = str_strip(J, v.u.s, NULL, 1, 1);
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
        if (v.t == JV_UNDEF) fail_undef(J, v, pos);
        jx_val dv = h[0] ? o[0] : jv_float(0.0);
        if (is_numv(v)) return jv_float(fval(v));
        if (v.t == JV_STR) {
            jx_val t = str_strip(J, v.u.s, NULL, 1, 1);
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
        jx_str *sep = h[0] ? need_str(J, o[0], "join separator", pos) : jx_strn(J, "", 0);
        jx_list *l = iter_list(J, v, pos);
        jx_buf b = {0};
        jx_buf_put(J, &b, "", 0);
        for (size_t i = 0; i < l->n; i++) {
            step(E, pos);
            if (i) jx_buf_put(J, &b, sep->p, sep->n);
            jx_val x = l->v[i];
            if (h[1] && o[1].t != JV_NONE) x = attr_path(J, x, jx_as_str(J, o[1]), pos);
            jx_to_str(J, &b, x, 0);
        }
        return jv_strn(J, b.p, b.n);
    }
    if (!strcmp(name, "first") || !strcmp(name, "last")) {
        NOARGS();
        if (name[0] == 'l' && v.t == JV_LIST && (v.flag & JF_GEN))
            jx_fail(J, BD_EINPUT, pos, "TypeError: 'generator' object is not reversible");
        jx_list *l = iter_list(J, v, pos);
        if (!l->n) return jv_undef(fmt_str(J, "No %s item, sequence was empty.%s", name, NULL));
        return name[0] == 'f' ? l->v[0] : l->v[l->n - 1];
    }
    if (!strcmp(name, "items")) {
        NOARGS();
        if (v.t == JV_UNDEF) return gen_of(J, new_list(J, 0), JF_GEN);
        if (v.t != JV_DICT || (v.flag & JF_NS)) {
            jx_val lz;
            lazy_fail(J, jv_int(0), "TypeError: Can only get item pairs from a mapping.", &lz);
            return lz;
        }
        jx_list *l = new_list(J, v.u.d->n);
        for (size_t i = 0; i < v.u.d->n; i++) {
            jx_list *p = new_list(J, 2);
            p->v[0] = v.u.d->k[i];
            p->v[1] = v.u.d->v[i];
            l->v[i] = list_of(J, p, 1);
        }
        return gen_of(J, l, JF_GEN);
    }
    if (!strcmp(name, "list")) {
        NOARGS();
        jx_list *src = iter_list(J, v, pos), *l = new_list(J, src->n);
        if (src->n) memcpy(l->v, src->v, src->n * sizeof(jx_val));
        return list_of(J, l, 0);
    }
    if (!strcmp(name, "reverse")) {
        NOARGS();
        if (v.t == JV_STR) return do_slice(J, v, jv_none(), jv_none(), jv_int(-1), pos);
        jx_list *src = iter_list(J, v, pos), *l = new_list(J, src->n);
        for (size_t i = 0; i < src->n; i++) l->v[i] = src->v[src->n - 1 - i];
        /* reversed() of a sequence is a lazy iterator; of a generator, a list */
        return (v.t == JV_LIST && (v.flag & JF_GEN)) ? list_of(J, l, 0) : gen_of(J, l, JF_GEN);
    }
    if (!strcmp(name, "replace")) {
        BIND("old", "new", "count");
        if (!h[0] || !h[1]) jx_fail(J, BD_EINPUT, pos, "TypeError: replace() needs old and new");
        int64_t cnt = (h[2] && o[2].t != JV_NONE) ? need_int(J, o[2], "count", pos) : -1;
        return str_replace(J, jx_as_str(J, v), need_str(J, o[0], "old", pos), jx_as_str(J, o[1]), cnt);
    }
    if (!strcmp(name, "selectattr") || !strcmp(name, "rejectattr") || !strcmp(name, "select") ||
        !strcmp(name, "reject"))
        return select_filter(E, name, v, a, pos);
    if (!strcmp(name, "map")) {
        jx_val lz;
        if (lazy_fail(J, v, NULL, &lz)) return lz;
        jx_list *src = iter_list(J, v, pos), *l = new_list(J, src->n);
        if (a->n_kw) {
            jx_val attr = jv_undef(NULL), dflt = jv_undef(NULL);
            int has_default = 0;
            for (int k = 0; k < a->n_kw; k++) {
                if (!strcmp(a->kw[k], "attribute")) attr = a->kwv[k];
                else if (!strcmp(a->kw[k], "default")) { dflt = a->kwv[k]; has_default = 1; }
                else jx_fail(J, BD_EINPUT, pos, "TypeError: map() got an unexpected keyword argument '%s'", a->kw[k]);
            }
            jx_str *path = need_str(J, attr, "map attribute", pos);
            for (size_t i = 0; i < src->n; i++) {
                jx_val x = attr_path(J, src->v[i], path, pos);
                l->v[i] = (x.t == JV_UNDEF && has_default) ? dflt : x;
            }
            return gen_of(J, l, JF_GEN);
        }
        if (!a->n_pos) jx_fail(J, BD_EINPUT, pos, "map() needs a filter name or attribute=");
        const char *fname = need_str(J, a->pos[0], "filter name", pos)->p;
        args fa = {a->pos + 1, a->n_pos - 1, NULL, NULL, 0};
        for (size_t i = 0; i < src->n; i++) {
            step(E, pos);
            l->v[i] = apply_filter(E, fname, src->v[i], &fa, pos);
        }
        return gen_of(J, l, JF_GEN);
    }
    if (!strcmp(name, "unique")) {
        NOARGS();
        jx_val lz;
        if (lazy_fail(J, v, NULL, &lz)) return lz;
        jx_list *src = iter_list(J, v, pos), *l = new_list(J, src->n);
        l->n = 0;
        for (size_t i = 0; i < src->n; i++) {
            int dup = 0;
            for (size_t k = 0; k < l->n && !dup; k++) {
                step(E, pos);
                jx_val x = src->v[i], y = l->v[k];
                if (x.t == JV_STR && y.t == JV_STR) dup = jx_equal(J, str_case(J, x.u.s, CASE_LOWER), str_case(J, y.u.s, CASE_LOWER), 0);
                else dup = jx_equal(J, x, y, 0);
            }
            if (!dup) l->v[l->n++] = src->v[i];
        }
        return gen_of(J, l, JF_GEN);
    }
    static const char *const unsup[] = {"sort", "dictsort", "batch", "slice", "sum", "min", "max", "round",
                                        "indent", "center", "wordcount", "wordwrap", "truncate", "escape", "e",
                                        "forceescape", "format", "groupby", "urlize", "urlencode", "xmlattr",
                                        "striptags", "filesizeformat", "pprint", "random", "attr", NULL};
    for (int i = 0; unsup[i]; i++)
        if (!strcmp(name, unsup[i])) jx_fail(J, BD_EUNSUP, pos, "unsupported filter '%s'", name);
    jx_fail(J, BD_EINPUT, pos, "No filter named '%s'.", name);
#undef BIND
#undef NOARGS
}

/* ---------- calls ---------- */
static void exec_body(ev *E, jx_node *body, jx_frame *f, int *r);
static jx_val jx_eval_node(ev *E, jx_node *n, jx_frame *f);

static jx_val call_macro(ev *E, struct jx_macro *m, const args *a, size_t pos)
{
    jx *J = E->J;
    jx_node *def = m->def;
    if (E->calls >= MAX_CALL_DEPTH) jx_fail(J, BD_EINPUT, pos, "macro calls nested too deeply");
    if (a->n_pos > def->n_items)
        jx_fail(J, BD_EINPUT, pos, "TypeError: macro '%s' takes not more than %d argument(s)", def->s, def->n_items);
    jx_frame *f = frame_new(J, m->closure);
    for (int i = 0; i < def->n_items; i++) {
        const char *pn = def->items[i]->s;
        jx_val v;
        int have = 0;
        if (i < a->n_pos) { v = a->pos[i]; have = 1; }
        for (int k = 0; k < a->n_kw; k++)
            if (!strcmp(a->kw[k], pn)) {
                if (have) jx_fail(J, BD_EINPUT, pos, "TypeError: macro '%s' got multiple values for argument '%s'", def->s, pn);
                v = a->kwv[k];
                have = 1;
            }
        if (!have) {
            if (def->items2[i]) {
                v = jv_none();
                have = 2;
            } else {
                v = jv_undef(fmt_str(J, "parameter '%s' was not provided%s", pn, NULL));
            }
        }
        frame_set(J, f, pn, v);
        if (have == 2) {
            /* defaults are evaluated in the macro's own scope, in order */
            frame_set(J, f, pn, jx_eval_node(E, def->items2[i], f));
        }
    }
    for (int k = 0; k < a->n_kw; k++) {
        int ok = 0;
        for (int i = 0; i < def->n_items; i++) if (!strcmp(a->kw[k], def->items[i]->s)) ok = 1;
        if (!ok) jx_fail(J, BD_EINPUT, pos, "TypeError: macro '%s' takes no keyword argument '%s'", def->s, a->kw[k]);
    }
    jx_buf buf = {0}, *saved = E->out;
    jx_buf_put(J, &buf, "", 0);
    E->out = &buf;
    E->calls++;
    int r;
    exec_body(E, def->b, f, &r);
    E->calls--;
    E->out = saved;
    return jv_strn(J, buf.p, buf.n);
}

static jx_val call_value(ev *E, jx_val fn, const args *a, size_t pos)
{
    jx *J = E->J;
    if (fn.t == JV_MACRO) return call_macro(E, fn.u.mac, a, pos);
    if (fn.t == JV_UNDEF) fail_undef(J, fn, pos);
    if (fn.t != JV_FUNC) jx_fail(J, BD_EINPUT, pos, "TypeError: '%s' object is not callable", tname(fn));
    int id = fn.u.fn->id;
    jx_val self = fn.u.fn->self;
    jx_val o[4];
    int h[4];
#define BINDF(name_, nreq_, ...) do { static const char *const p_[] = {__VA_ARGS__}; \
    bind(J, pos, name_, p_, (int)(sizeof p_ / sizeof *p_), nreq_, a, o, h); } while (0)
    switch (id) {
    case F_RAISE: {
        BINDF("raise_exception", 1, "message");
        jx_str *m = jx_as_str(J, o[0]);
        bd_fail(J->err, BD_EFAIL, "%s", m->p);
        longjmp(J->jb, 1);
    }
    case F_STRFTIME: {
        BINDF("strftime_now", 1, "format");
        jx_str *fmt = need_str(J, o[0], "format", pos);
        time_t t = J->now >= 0 ? (time_t)J->now : time(NULL);
        struct tm tm;
        if (J->now >= 0) gmtime_r(&t, &tm);
        else localtime_r(&t, &tm);
        if (fmt->n > 200) jx_fail(J, BD_EUNSUP, pos, "strftime format too long");
        char out[1024];
        size_t n = fmt->n ? strftime(out, sizeof out, fmt->p, &tm) : 0;
        return jv_strn(J, out, n);
    }
    case F_NAMESPACE: case F_DICT: {
        jx_val d = jv_dict(J);
        if (id == F_NAMESPACE) d.flag = JF_NS;
        if (a->n_pos > 1) jx_fail(J, BD_EINPUT, pos, "TypeError: %s expected at most 1 argument", id == F_DICT ? "dict" : "namespace");
        if (a->n_pos == 1) {
            jx_val src = a->pos[0];
            if (src.t != JV_DICT) jx_fail(J, BD_EUNSUP, pos, "%s() from a non-mapping is not supported", id == F_DICT ? "dict" : "namespace");
            for (size_t i = 0; i < src.u.d->n; i++) jx_dict_set(J, d.u.d, src.u.d->k[i], src.u.d->v[i]);
        }
        for (int k = 0; k < a->n_kw; k++) jx_dict_set(J, d.u.d, jv_str(J, a->kw[k]), a->kwv[k]);
        if (id == F_NAMESPACE)
            for (size_t i = 0; i < d.u.d->n; i++)
                if (d.u.d->k[i].t == JV_STR && d.u.d->k[i].u.s->p[0] == '_')
                    jx_fail(J, BD_EINPUT, pos, "SecurityError: Chat templates cannot store underscore-prefixed "
                            "attributes on a namespace, but got '%s'. Please rename the attribute.", d.u.d->k[i].u.s->p);
        return d;
    }
    case F_RANGE: {
        if (a->n_kw || a->n_pos < 1 || a->n_pos > 3) jx_fail(J, BD_EINPUT, pos, "TypeError: range expected 1 to 3 arguments");
        int64_t st = 0, sp, sd = 1;
        if (a->n_pos == 1) sp = need_int(J, a->pos[0], "range()", pos);
        else {
            st = need_int(J, a->pos[0], "range()", pos);
            sp = need_int(J, a->pos[1], "range()", pos);
            if (a->n_pos == 3) sd = need_int(J, a->pos[2], "range()", pos);
        }
        if (sd == 0) jx_fail(J, BD_EINPUT, pos, "ValueError: range() arg 3 must not be zero");
        /* the sandbox caps ranges at 100000 items (MAX_RANGE) */
        double cnt = sd > 0 ? (sp > st ? ceil(((double)sp - (double)st) / (double)sd) : 0)
                            : (st > sp ? ceil(((double)st - (double)sp) / (double)-sd) : 0);
        if (cnt > 100000) jx_fail(J, BD_EINPUT, pos, "OverflowError: Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
        jx_list *l = new_list(J, (size_t)cnt);
        for (size_t i = 0; i < l->n; i++) l->v[i] = jv_int(st + (int64_t)i * sd);
        return list_of(J, l, 0);
    }
    case F_CYCLE: {
        if (!a->n_pos) jx_fail(J, BD_EINPUT, pos, "TypeError: no items for cycling given");
        return a->pos[self.u.loop->index0 % a->n_pos];
    }
    case M_STRIP: case M_LSTRIP: case M_RSTRIP: {
        BINDF("strip", 0, "chars");
        const jx_str *ch = (h[0] && o[0].t != JV_NONE) ? need_str(J, o[0], "strip arg", pos) : NULL;
        return str_strip(J, self.u.s, ch, id != M_RSTRIP, id != M_LSTRIP);
    }
    case M_STARTSWITH: case M_ENDSWITH: {
        if (a->n_pos != 1 || a->n_kw) jx_fail(J, BD_EUNSUP, pos, "startswith/endswith take exactly one argument here");
        return jv_bool(prefix_match(J, self.u.s, a->pos[0], id == M_ENDSWITH, pos));
    }
    case M_SPLIT: case M_RSPLIT: {
        BINDF("split", 0, "sep", "maxsplit");
        int64_t ms = h[1] ? need_int(J, o[1], "maxsplit", pos) : -1;
        return str_split(J, self.u.s, h[0] ? o[0] : jv_none(), ms, id == M_RSPLIT, pos);
    }
    case M_UPPER: case M_LOWER: case M_TITLE: case M_CAPITALIZE:
        if (a->n_pos || a->n_kw) jx_fail(J, BD_EINPUT, pos, "TypeError: takes no arguments");
        return str_case(J, self.u.s, id == M_UPPER ? CASE_UPPER : id == M_LOWER ? CASE_LOWER :
                        id == M_TITLE ? CASE_TITLE : CASE_CAP);
    case M_REPLACE: {
        BINDF("replace", 2, "old", "new", "count");
        int64_t cnt = h[2] ? need_int(J, o[2], "count", pos) : -1;
        return str_replace(J, self.u.s, need_str(J, o[0], "replace arg 1", pos), need_str(J, o[1], "replace arg 2", pos), cnt);
    }
    case M_JOIN: {
        BINDF("join", 1, "iterable");
        jx_list *l = iter_list(J, o[0], pos);
        jx_buf b = {0};
        jx_buf_put(J, &b, "", 0);
        for (size_t i = 0; i < l->n; i++) {
            if (i) jx_buf_put(J, &b, self.u.s->p, self.u.s->n);
            jx_str *s = need_str(J, l->v[i], "sequence item", pos);
            jx_buf_put(J, &b, s->p, s->n);
        }
        return jv_strn(J, b.p, b.n);
    }
    case M_FIND: case M_COUNT: {
        if (a->n_pos != 1 || a->n_kw) jx_fail(J, BD_EUNSUP, pos, "find/count take exactly one argument here");
        jx_str *sub = need_str(J, a->pos[0], "argument", pos);
        if (id == M_FIND) {
            const char *hit = sub->n ? memmem(self.u.s->p, self.u.s->n, sub->p, sub->n) : self.u.s->p;
            return jv_int(hit ? (int64_t)jx_utf8_len(self.u.s->p, (size_t)(hit - self.u.s->p)) : -1);
        }
        if (!sub->n) return jv_int((int64_t)jx_utf8_len(self.u.s->p, self.u.s->n) + 1);
        int64_t c = 0;
        size_t i = 0;
        const char *hit;
        while ((hit = memmem(self.u.s->p + i, self.u.s->n - i, sub->p, sub->n)) != NULL) {
            c++;
            i = (size_t)(hit - self.u.s->p) + sub->n;
        }
        return jv_int(c);
    }
    case M_ISDIGIT: case M_ISALPHA: case M_ISSPACE: case M_ISUPPER: case M_ISLOWER:
        return jv_bool(str_pred(J, self.u.s, id));
    case M_SPLITLINES: {
        if (a->n_pos || a->n_kw) jx_fail(J, BD_EUNSUP, pos, "splitlines(keepends) is not supported");
        jx_list *l = new_list(J, self.u.s->n + 1);
        l->n = 0;
        const char *p = self.u.s->p;
        size_t n = self.u.s->n, i = 0, st = 0;
        while (i < n) {
            if (p[i] == '\n' || p[i] == '\r') {
                l->v[l->n++] = jv_strn(J, p + st, i - st);
                if (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n') i++;
                st = ++i;
            } else i++;
        }
        if (st < n) l->v[l->n++] = jv_strn(J, p + st, n - st);
        return list_of(J, l, 0);
    }
    case M_FORMAT: jx_fail(J, BD_EUNSUP, pos, "str.format is not supported");
    case M_ITEMS: case M_KEYS: case M_VALUES: {
        if (a->n_pos || a->n_kw) jx_fail(J, BD_EINPUT, pos, "TypeError: takes no arguments");
        jx_dict *d = self.u.d;
        jx_list *l = new_list(J, d->n);
        for (size_t i = 0; i < d->n; i++) {
            if (id == M_KEYS) l->v[i] = d->k[i];
            else if (id == M_VALUES) l->v[i] = d->v[i];
            else {
                jx_list *p = new_list(J, 2);
                p->v[0] = d->k[i];
                p->v[1] = d->v[i];
                l->v[i] = list_of(J, p, 1);
            }
        }
        return gen_of(J, l, id == M_KEYS ? JF_KEYS : id == M_VALUES ? JF_VALUES : JF_ITEMS);
    }
    case M_GET: {
        if (a->n_kw || a->n_pos < 1 || a->n_pos > 2) jx_fail(J, BD_EINPUT, pos, "TypeError: get expected 1 or 2 arguments");
        int i = jx_dict_find(J, self.u.d, a->pos[0]);
        if (i >= 0) return self.u.d->v[i];
        return a->n_pos == 2 ? a->pos[1] : jv_none();
    }
    case M_INDEX: case M_LCOUNT: {
        if (a->n_pos != 1 || a->n_kw) jx_fail(J, BD_EUNSUP, pos, "index/count take exactly one argument here");
        int64_t c = 0;
        for (size_t i = 0; i < self.u.l->n; i++)
            if (jx_equal(J, self.u.l->v[i], a->pos[0], 0)) {
                if (id == M_INDEX) return jv_int((int64_t)i);
                c++;
            }
        if (id == M_INDEX) jx_fail(J, BD_EINPUT, pos, "ValueError: value is not in list");
        return jv_int(c);
    }
    default: break;
    }
#undef BINDF
    jx_fail(J, BD_EUNSUP, pos, "unsupported call");
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
    if (!strcmp(n->s, "raise_exception")) return mkfunc(J, F_RAISE, jv_none());
    if (!strcmp(n->s, "strftime_now")) return mkfunc(J, F_STRFTIME, jv_none());
    if (!strcmp(n->s, "namespace")) return mkfunc(J, F_NAMESPACE, jv_none());
    if (!strcmp(n->s, "dict")) return mkfunc(J, F_DICT, jv_none());
    if (!strcmp(n->s, "range")) return mkfunc(J, F_RANGE, jv_none());
    if (!strcmp(n->s, "lipsum") || !strcmp(n->s, "cycler") || !strcmp(n->s, "joiner"))
        jx_fail(J, BD_EUNSUP, n->pos, "unsupported global '%s'", n->s);
    return jv_undef(fmt_str(J, "'%s' is undefined%s", n->s, NULL));
}

static jx_val jx_eval_node(ev *E, jx_node *n, jx_frame *f)
{
    jx *J = E->J;
    step(E, n->pos);
    switch (n->kind) {
    case E_CONST: return n->v;
    case E_NAME: return lookup(E, n, f);
    case E_GETATTR: return get_attr(J, jx_eval_node(E, n->a, f), n->s, n->pos);
    case E_GETITEM: {
        jx_val o = jx_eval_node(E, n->a, f);
        return get_item(J, o, jx_eval_node(E, n->b, f), n->pos);
    }
    case E_SLICE: {
        jx_val o = jx_eval_node(E, n->a, f);
        jx_val a = n->b ? jx_eval_node(E, n->b, f) : jv_none();
        jx_val b = n->c ? jx_eval_node(E, n->c, f) : jv_none();
        jx_val c = n->d ? jx_eval_node(E, n->d, f) : jv_none();
        return do_slice(J, o, a, b, c, n->pos);
    }
    case E_CALL: {
        jx_val fn = jx_eval_node(E, n->a, f);
        args a;
        eval_args(E, n, f, &a);
        return call_value(E, fn, &a, n->pos);
    }
    case E_FILTER: {
        jx_val v = n->a ? jx_eval_node(E, n->a, f) : jv_undef(NULL);
        args a;
        eval_args(E, n, f, &a);
        return apply_filter(E, n->s, v, &a, n->pos);
    }
    case E_TEST: {
        jx_val v = jx_eval_node(E, n->a, f);
        args a;
        eval_args(E, n, f, &a);
        return jv_bool(run_test(E, n->s, v, &a, n->pos));
    }
    case E_BIN: {
        jx_val a = jx_eval_node(E, n->a, f);
        jx_val b = jx_eval_node(E, n->b, f);
        return binop(J, n->op, a, b, n->pos);
    }
    case E_NEG: case E_POS: {
        jx_val a = jx_eval_node(E, n->a, f);
        if (a.t == JV_UNDEF) fail_undef(J, a, n->pos);
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
            if (!cmp_op(J, n->ops[i], l, r, n->pos)) return jv_bool(0);
            l = r;
        }
        return jv_bool(1);
    }
    case E_COND:
        if (jx_truthy(jx_eval_node(E, n->a, f))) return jx_eval_node(E, n->b, f);
        if (n->c) return jx_eval_node(E, n->c, f);
        return jv_undef(fmt_str(J, "the inline if-expression on line %s evaluated to false and no else section was defined.%s", "?", NULL));
    case E_LIST: case E_TUPLE: {
        jx_list *l = new_list(J, (size_t)n->n_items);
        for (int i = 0; i < n->n_items; i++) l->v[i] = jx_eval_node(E, n->items[i], f);
        return list_of(J, l, n->kind == E_TUPLE);
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
    if (target->kind == E_NAME) { frame_set(J, f, target->s, v); return; }
    if (target->kind == E_TUPLE) {
        if (v.t == JV_UNDEF) fail_undef(J, v, pos);
        jx_list *l = iter_list(J, v, pos);
        if (l->n != (size_t)target->n_items)
            jx_fail(J, BD_EINPUT, pos, "ValueError: %s values to unpack (expected %d, got %zu)",
                    l->n > (size_t)target->n_items ? "too many" : "not enough", target->n_items, l->n);
        for (int i = 0; i < target->n_items; i++) frame_set(J, f, target->items[i]->s, l->v[i]);
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

static void exec_body(ev *E, jx_node *body, jx_frame *f, int *r)
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
    jx_list *items = iter_list(J, seq, n->pos);
    if (n->c) {
        jx_list *kept = new_list(J, items->n);
        kept->n = 0;
        jx_frame *tf = NULL;
        for (size_t i = 0; i < items->n; i++) {
            step(E, n->pos);
            if (!tf || tf->captured) tf = frame_new(J, f);
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
        step(E, n->pos);
        /* each iteration starts a fresh scope; the frame's storage is reused
         * unless a macro defined in it keeps it alive */
        if (!it || it->captured) it = frame_new(J, f);
        else it->n = 0;
        L->index0 = (int64_t)i;
        frame_set(J, it, "loop", lv);
        assign(E, n->a, items->v[i], it, n->pos);
        int r;
        exec_body(E, n->d, it, &r);
        if (r == R_BREAK) break;
    }
    if (items->n == 0 && n->n_items2) {
        int r;
        exec_body(E, n->items2[0], f, &r);
        return r;
    }
    return R_OK;
}

static int exec_node(ev *E, jx_node *n, jx_frame *f)
{
    jx *J = E->J;
    step(E, n->pos);
    switch (n->kind) {
    case N_BODY: { int r; exec_body(E, n, f, &r); return r; }
    case N_TEXT: jx_buf_put(J, E->out, n->s, n->n); return R_OK;
    case N_OUTPUT: {
        jx_val v = jx_eval_node(E, n->a, f);
        if (v.t == JV_FUNC || v.t == JV_LOOP || v.t == JV_MACRO)
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
        exec_body(E, n->b, f, &r);
        E->out = saved;
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
                v = apply_filter(E, chain[k]->s, v, &a, chain[k]->pos);
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
        frame_set(J, f, n->s, m);
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
    jx_frame *f = frame_new(J, NULL);
    for (size_t i = 0; i < vars->n; i++) frame_set(J, f, vars->k[i].u.s->p, vars->v[i]);
    jx_buf out = {0};
    jx_buf_put(J, &out, "", 0);
    ev E = {J, &out, 0};
    int r;
    exec_body(&E, root, f, &r);
    J->out = out.p;
    J->out_n = out.n;
}
