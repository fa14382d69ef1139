/* Values of the Jinja2-subset interpreter: the per-render arena, Python-like
 * str()/repr()/json.dumps() of values, equality and truthiness, and the
 * UTF-8 / Unicode helpers the string filters need. */
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

#include "jinja.h"

struct jx_chunk { jx_chunk *next; size_t size, used; max_align_t data[]; };

#define CHUNK_MIN (64 * 1024)

_Noreturn void jx_fail(jx *J, int code, size_t pos, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (pos == (size_t)-1 || !J->src) {
        bd_fail(J->err, code, "%s", msg);
    } else {
        int line = 1, col = 1;
        for (size_t i = 0; i < pos && i < J->src_len; i++) {
            if (J->src[i] == '\n') { line++; col = 1; }
            else if (((unsigned char)J->src[i] & 0xC0) != 0x80) col++;
        }
        bd_fail(J->err, code, "template %d:%d: %s", line, col, msg);
    }
    longjmp(J->jb, 1);
}

void *jx_alloc(jx *J, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    jx_chunk *c = J->chunks;
    if (!c || c->size - c->used < n) {
        if (n > J->mem_cap || J->mem_used > J->mem_cap - n)
            jx_fail(J, BD_EINPUT, (size_t)-1, "template render exceeds the memory limit (%zu bytes)",
                    J->mem_cap);
        size_t sz = n > CHUNK_MIN ? n : CHUNK_MIN;
        c = malloc(sizeof *c + sz);
        if (!c) jx_fail(J, BD_ENOMEM, (size_t)-1, "out of memory rendering a chat template");
        c->size = sz;
        c->used = 0;
        c->next = J->chunks;
        J->chunks = c;
        J->mem_used += sz;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    memset(p, 0, n);   /* every structure starts zeroed (NULL pointers, no flags) */
    return p;
}

void jx_free_all(jx *J)
{
    while (J->chunks) {
        jx_chunk *n = J->chunks->next;
        free(J->chunks);
        J->chunks = n;
    }
    J->mem_used = 0;
}

size_t jx_mul(jx *J, size_t a, size_t b)
{
    if (a && b > SIZE_MAX / a) jx_fail(J, BD_EINPUT, (size_t)-1, "size overflow in template");
    return a * b;
}

jx_val jv_undef(jx_str *hint) { jx_val v = {JV_UNDEF, 0, {0}}; v.u.s = hint; return v; }
jx_val jv_none(void) { jx_val v = {JV_NONE, 0, {0}}; return v; }
jx_val jv_bool(int b) { jx_val v = {JV_BOOL, 0, {0}}; v.u.b = b != 0; return v; }
jx_val jv_int(int64_t i) { jx_val v = {JV_INT, 0, {0}}; v.u.i = i; return v; }
jx_val jv_float(double f) { jx_val v = {JV_FLOAT, 0, {0}}; v.u.f = f; return v; }

jx_str *jx_strn(jx *J, const char *p, size_t n)
{
    if (n > SIZE_MAX - sizeof(jx_str) - 1) jx_fail(J, BD_EINPUT, (size_t)-1, "string too long");
    jx_str *s = jx_alloc(J, sizeof *s + n + 1);
    s->n = n;
    if (n) memcpy(s->p, p, n);
    s->p[n] = 0;
    return s;
}

jx_val jv_strn(jx *J, const char *p, size_t n)
{
    jx_val v = {JV_STR, 0, {0}};
    v.u.s = jx_strn(J, p, n);
    return v;
}

jx_val jv_str(jx *J, const char *p) { return jv_strn(J, p, strlen(p)); }

jx_val jv_list(jx *J, size_t n)
{
    jx_val v = {JV_LIST, 0, {0}};
    v.u.l = jx_alloc(J, sizeof *v.u.l);
    v.u.l->n = n;
    v.u.l->v = jx_alloc(J, jx_mul(J, n ? n : 1, sizeof(jx_val)));
    for (size_t i = 0; i < n; i++) v.u.l->v[i] = jv_none();
    return v;
}

jx_val jv_dict(jx *J)
{
    jx_val v = {JV_DICT, 0, {0}};
    v.u.d = jx_alloc(J, sizeof *v.u.d);
    memset(v.u.d, 0, sizeof *v.u.d);
    return v;
}

int jx_dict_find(jx *J, const jx_dict *d, jx_val k)
{
    for (size_t i = 0; i < d->n; i++)
        if (jx_equal(J, d->k[i], k, 0)) return (int)i;
    return -1;
}

void jx_dict_set(jx *J, jx_dict *d, jx_val k, jx_val v)
{
    int i = jx_dict_find(J, d, k);
    if (i >= 0) { d->v[i] = v; return; }
    if (d->n == d->cap) {
        size_t cap = d->cap ? jx_mul(J, d->cap, 2) : 8;
        jx_val *nk = jx_alloc(J, jx_mul(J, cap, sizeof *nk));
        jx_val *nv = jx_alloc(J, jx_mul(J, cap, sizeof *nv));
        if (d->n) {
            memcpy(nk, d->k, d->n * sizeof *nk);
            memcpy(nv, d->v, d->n * sizeof *nv);
        }
        d->k = nk;
        d->v = nv;
        d->cap = cap;
    }
    d->k[d->n] = k;
    d->v[d->n] = v;
    d->n++;
}

int jx_truthy(jx_val v)
{
    switch (v.t) {
    case JV_UNDEF: case JV_NONE: return 0;
    case JV_BOOL: return v.u.b;
    case JV_INT: return v.u.i != 0;
    case JV_FLOAT: return v.u.f != 0.0;
    case JV_STR: return v.u.s->n != 0;
    case JV_LIST: return (v.flag & JF_GEN) ? 1 : v.u.l->n != 0;
    case JV_DICT: return (v.flag & JF_NS) ? 1 : v.u.d->n != 0;
    default: return 1;
    }
}

static int is_num(jx_val v) { return v.t == JV_BOOL || v.t == JV_INT || v.t == JV_FLOAT; }
static double num_f(jx_val v) { return v.t == JV_FLOAT ? v.u.f : v.t == JV_INT ? (double)v.u.i : v.u.b; }
static int64_t num_i(jx_val v) { return v.t == JV_INT ? v.u.i : v.u.b; }

int jx_equal(jx *J, jx_val a, jx_val b, int depth)
{
    if (depth > 200) jx_fail(J, BD_EINPUT, (size_t)-1, "values nested too deeply to compare");
    if (is_num(a) && is_num(b)) {
        if (a.t == JV_FLOAT || b.t == JV_FLOAT) return num_f(a) == num_f(b);
        return num_i(a) == num_i(b);
    }
    if (a.t != b.t) return 0;
    switch (a.t) {
    case JV_UNDEF: case JV_NONE: return 1;
    case JV_STR: return a.u.s->n == b.u.s->n && memcmp(a.u.s->p, b.u.s->p, a.u.s->n) == 0;
    case JV_LIST:
        if (JX_LAZY(a) || JX_LAZY(b)) return a.flag == b.flag && a.u.l == b.u.l;
        if ((a.flag & JF_TUPLE) != (b.flag & JF_TUPLE) || a.u.l->n != b.u.l->n) return 0;
        for (size_t i = 0; i < a.u.l->n; i++)
            if (!jx_equal(J, a.u.l->v[i], b.u.l->v[i], depth + 1)) return 0;
        return 1;
    case JV_DICT:
        if ((a.flag & JF_NS) || (b.flag & JF_NS)) return a.u.d == b.u.d;
        if (a.u.d->n != b.u.d->n) return 0;
        for (size_t i = 0; i < a.u.d->n; i++) {
            int j = -1;
            for (size_t k = 0; k < b.u.d->n; k++)
                if (jx_equal(J, a.u.d->k[i], b.u.d->k[k], depth + 1)) { j = (int)k; break; }
            if (j < 0 || !jx_equal(J, a.u.d->v[i], b.u.d->v[j], depth + 1)) return 0;
        }
        return 1;
    default: return a.u.fn == b.u.fn;
    }
}

const char *jx_type_name(jx_val v)
{
    switch (v.t) {
    case JV_UNDEF: return "Undefined";
    case JV_NONE: return "NoneType";
    case JV_BOOL: return "bool";
    case JV_INT: return "int";
    case JV_FLOAT: return "float";
    case JV_STR: return "str";
    case JV_LIST:
        return (v.flag & JF_GEN) ? "generator" : (v.flag & JF_KEYS) ? "dict_keys" : (v.flag & JF_VALUES) ? "dict_values"
             : (v.flag & JF_ITEMS) ? "dict_items" : (v.flag & JF_TUPLE) ? "tuple" : "list";
    case JV_DICT: return (v.flag & JF_NS) ? "Namespace" : "dict";
    case JV_LOOP: return "LoopContext";
    case JV_MACRO: return "Macro";
    default: return "function";
    }
}

/* ---- buffers ---- */
void jx_buf_put(jx *J, jx_buf *b, const char *s, size_t n)
{
    if (n > SIZE_MAX / 4 - b->n) jx_fail(J, BD_EINPUT, (size_t)-1, "string too long");
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = jx_alloc(J, cap);
        if (b->n) memcpy(p, b->p, b->n);
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

void jx_buf_putc(jx *J, jx_buf *b, char c) { jx_buf_put(J, b, &c, 1); }

void jx_buf_printf(jx *J, jx_buf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof tmp) n = sizeof tmp - 1;
    jx_buf_put(J, b, tmp, (size_t)n);
}

/* ---- UTF-8 ---- */
int jx_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        size_t len;
        uint32_t cp, min;
        if (c < 0x80) { i++; continue; }
        else if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; min = 0x80; }
        else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; min = 0x800; }
        else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; min = 0x10000; }
        else return 0;
        if (n - i < len) return 0;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += len;
    }
    return 1;
}

uint32_t jx_utf8_next(const char *s, size_t n, size_t *i)
{
    const unsigned char *p = (const unsigned char *)s;
    unsigned c = p[*i];
    size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
    if (len > n - *i) len = 1;   /* input is validated; stay in bounds regardless */
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; k < len; k++) cp = (cp << 6) | (p[*i + k] & 0x3F);
    *i += len;
    return cp;
}

size_t jx_utf8_len(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) c++;
    return c;
}

void jx_utf8_put(jx *J, jx_buf *b, uint32_t cp)
{
    char t[4];
    size_t n;
    if (cp < 0x80) { t[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { t[0] = (char)(0xC0 | (cp >> 6)); t[1] = (char)(0x80 | (cp & 0x3F)); n = 2; }
    else if (cp < 0x10000) {
        t[0] = (char)(0xE0 | (cp >> 12)); t[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        t[2] = (char)(0x80 | (cp & 0x3F)); n = 3;
    } else {
        t[0] = (char)(0xF0 | (cp >> 18)); t[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        t[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); t[3] = (char)(0x80 | (cp & 0x3F)); n = 4;
    }
    jx_buf_put(J, b, t, n);
}

/* Python's str.isspace() set, used by strip()/split()/trim and the lexer's
 * whitespace control (str.rstrip() and the \s of Python's re). */
int jx_py_space(uint32_t cp)
{
    return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
           cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

/* Case mapping: ASCII exactly; beyond ASCII the C library's tables through a
 * private UTF-8 locale (no global locale change). Python's one-to-many
 * mappings (e.g. U+00DF -> "SS") are handled by the callers where noted. */
/* The UTF-8 locale is opened on first use: most renders never need it. */
static locale_t case_locale(jx *J)
{
    if (!J->locale_tried) {
        J->locale_tried = 1;
        locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
        J->locale = loc ? (void *)loc : NULL;
    }
    return (locale_t)J->locale;
}

uint32_t jx_cp_upper(jx *J, uint32_t cp)
{
    if (cp < 0x80) return (cp >= 'a' && cp <= 'z') ? cp - 32 : cp;
    if (case_locale(J)) return (uint32_t)towupper_l((wint_t)cp, (locale_t)J->locale);
    return cp;
}

uint32_t jx_cp_lower(jx *J, uint32_t cp)
{
    if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    if (case_locale(J)) return (uint32_t)towlower_l((wint_t)cp, (locale_t)J->locale);
    return cp;
}

int jx_cp_is_alpha(jx *J, uint32_t cp)
{
    if (cp < 0x80) return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
    return jx_cp_upper(J, cp) != cp || jx_cp_lower(J, cp) != cp;
}

/* ---- float repr: the shortest digits that round-trip, laid out as Python
 * does (exponent form when the decimal exponent is < -4 or >= 16). ---- */
void jx_float_repr(double f, char *out, size_t cap)
{
    if (isnan(f)) { snprintf(out, cap, "nan"); return; }
    if (isinf(f)) { snprintf(out, cap, f < 0 ? "-inf" : "inf"); return; }
    char tmp[64];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, f);
        if (strtod(tmp, NULL) == f) break;
    }
    /* tmp = [-]d[.ddd]e[+-]XX */
    char digits[32];
    int nd = 0, neg = 0;
    const char *p = tmp;
    if (*p == '-') { neg = 1; p++; }
    while (*p && *p != 'e') {
        if (*p != '.' && nd < 31) digits[nd++] = *p;
        p++;
    }
    int exp10 = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = 0;
    char *o = out;
    size_t left = cap;
#define PUT(...) do { int k_ = snprintf(o, left, __VA_ARGS__); if (k_ < 0 || (size_t)k_ >= left) return; o += k_; left -= (size_t)k_; } while (0)
    if (neg) PUT("-");
    if (exp10 < -4 || exp10 >= 16) {
        PUT("%c", digits[0]);
        if (nd > 1) PUT(".%s", digits + 1);
        PUT("e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
    } else if (exp10 < 0) {
        PUT("0.");
        for (int i = 0; i < -exp10 - 1; i++) PUT("0");
        PUT("%s", digits);
    } else {
        for (int i = 0; i <= exp10; i++) PUT("%c", i < nd ? digits[i] : '0');
        PUT(".");
        if (nd > exp10 + 1) PUT("%s", digits + exp10 + 1);
        else PUT("0");
    }
#undef PUT
}

/* ---- str() / repr() ---- */
static void repr_str(jx *J, jx_buf *b, const jx_str *s)
{
    int has_sq = memchr(s->p, '\'', s->n) != NULL, has_dq = memchr(s->p, '"', s->n) != NULL;
    char q = (has_sq && !has_dq) ? '"' : '\'';
    jx_buf_putc(J, b, q);
    size_t i = 0;
    while (i < s->n) {
        size_t st = i;
        uint32_t cp = jx_utf8_next(s->p, s->n, &i);
        if (cp == (uint32_t)q || cp == '\\') { jx_buf_putc(J, b, '\\'); jx_buf_putc(J, b, (char)cp); }
        else if (cp == '\n') jx_buf_put(J, b, "\\n", 2);
        else if (cp == '\r') jx_buf_put(J, b, "\\r", 2);
        else if (cp == '\t') jx_buf_put(J, b, "\\t", 2);
        else if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0)) jx_buf_printf(J, b, "\\x%02x", cp);
        else if (cp == 0xAD || (cp >= 0x2028 && cp <= 0x2029)) jx_buf_printf(J, b, "\\u%04x", cp);
        else jx_buf_put(J, b, s->p + st, i - st);
    }
    jx_buf_putc(J, b, q);
}

static void to_str_impl(jx *J, jx_buf *b, jx_val v, int depth, int repr)
{
    if (depth > 200) jx_fail(J, BD_EINPUT, (size_t)-1, "values nested too deeply to print");
    char tmp[64];
    switch (v.t) {
    case JV_UNDEF: if (repr) jx_buf_put(J, b, "Undefined", 9); return;
    case JV_NONE: jx_buf_put(J, b, "None", 4); return;
    case JV_BOOL: if (v.u.b) jx_buf_put(J, b, "True", 4); else jx_buf_put(J, b, "False", 5); return;
    case JV_INT: jx_buf_printf(J, b, "%lld", (long long)v.u.i); return;
    case JV_FLOAT: jx_float_repr(v.u.f, tmp, sizeof tmp); jx_buf_put(J, b, tmp, strlen(tmp)); return;
    case JV_STR:
        if (repr) repr_str(J, b, v.u.s);
        else jx_buf_put(J, b, v.u.s->p, v.u.s->n);
        return;
    case JV_LIST: {
        int tup = v.flag & JF_TUPLE;
        if (v.flag & JF_GEN)
            jx_fail(J, BD_EUNSUP, (size_t)-1, "printing a generator is not supported (jinja2 prints its "
                    "object address; apply |list)");
        if (v.flag & JF_VIEW) {
            const char *nm = jx_type_name(v);
            jx_buf_put(J, b, nm, strlen(nm));
            jx_buf_putc(J, b, '(');
        }
        jx_buf_putc(J, b, tup ? '(' : '[');
        for (size_t i = 0; i < v.u.l->n; i++) {
            if (i) jx_buf_put(J, b, ", ", 2);
            to_str_impl(J, b, v.u.l->v[i], depth + 1, 1);
        }
        if (tup && v.u.l->n == 1) jx_buf_putc(J, b, ',');
        jx_buf_putc(J, b, tup ? ')' : ']');
        if (v.flag & JF_VIEW) jx_buf_putc(J, b, ')');
        return;
    }
    case JV_DICT:
        if (v.flag & JF_NS) jx_buf_put(J, b, "<Namespace ", 11);
        jx_buf_putc(J, b, '{');
        for (size_t i = 0; i < v.u.d->n; i++) {
            if (i) jx_buf_put(J, b, ", ", 2);
            to_str_impl(J, b, v.u.d->k[i], depth + 1, 1);
            jx_buf_put(J, b, ": ", 2);
            to_str_impl(J, b, v.u.d->v[i], depth + 1, 1);
        }
        jx_buf_putc(J, b, '}');
        if (v.flag & JF_NS) jx_buf_putc(J, b, '>');
        return;
    default:
        jx_fail(J, BD_EUNSUP, (size_t)-1, "printing a %s value is not supported", jx_type_name(v));
    }
}

void jx_to_str(jx *J, jx_buf *b, jx_val v, int depth) { to_str_impl(J, b, v, depth, 0); }
void jx_repr(jx *J, jx_buf *b, jx_val v, int depth) { to_str_impl(J, b, v, depth, 1); }

jx_str *jx_as_str(jx *J, jx_val v)
{
    if (v.t == JV_STR) return v.u.s;
    jx_buf b = {0};
    jx_to_str(J, &b, v, 0);
    return jx_strn(J, b.p ? b.p : "", b.n);
}

/* ---- json.dumps ---- */
static void json_str(jx *J, jx_buf *b, const char *p, size_t n)
{
    jx_buf_putc(J, b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        switch (c) {
        case '"': jx_buf_put(J, b, "\\\"", 2); break;
        case '\\': jx_buf_put(J, b, "\\\\", 2); break;
        case '\n': jx_buf_put(J, b, "\\n", 2); break;
        case '\r': jx_buf_put(J, b, "\\r", 2); break;
        case '\t': jx_buf_put(J, b, "\\t", 2); break;
        case '\b': jx_buf_put(J, b, "\\b", 2); break;
        case '\f': jx_buf_put(J, b, "\\f", 2); break;
        default:
            if (c < 0x20) jx_buf_printf(J, b, "\\u%04x", c);
            else jx_buf_putc(J, b, (char)c);
        }
    }
    jx_buf_putc(J, b, '"');
}

static void json_nl(jx *J, jx_buf *b, int indent, int level)
{
    jx_buf_putc(J, b, '\n');
    for (int i = 0; i < indent * level; i++) jx_buf_putc(J, b, ' ');
}

static int str_cmp(const jx_str *a, const jx_str *b)
{
    size_t n = a->n < b->n ? a->n : b->n;
    int c = memcmp(a->p, b->p, n);
    return c ? c : (a->n > b->n) - (a->n < b->n);
}

void jx_json(jx *J, jx_buf *b, jx_val v, int indent, const char *item_sep,
             const char *key_sep, int sort_keys, int level, size_t pos)
{
    if (level > 200) jx_fail(J, BD_EINPUT, pos, "tojson: value nested too deeply");
    char tmp[64];
    switch (v.t) {
    case JV_NONE: jx_buf_put(J, b, "null", 4); return;
    case JV_BOOL: if (v.u.b) jx_buf_put(J, b, "true", 4); else jx_buf_put(J, b, "false", 5); return;
    case JV_INT: jx_buf_printf(J, b, "%lld", (long long)v.u.i); return;
    case JV_FLOAT:
        if (isnan(v.u.f)) jx_buf_put(J, b, "NaN", 3);
        else if (isinf(v.u.f)) { if (v.u.f < 0) jx_buf_put(J, b, "-Infinity", 9); else jx_buf_put(J, b, "Infinity", 8); }
        else { jx_float_repr(v.u.f, tmp, sizeof tmp); jx_buf_put(J, b, tmp, strlen(tmp)); }
        return;
    case JV_STR: json_str(J, b, v.u.s->p, v.u.s->n); return;
    case JV_LIST:
        if (JX_LAZY(v)) break;
        if (v.u.l->n == 0) { jx_buf_put(J, b, "[]", 2); return; }
        jx_buf_putc(J, b, '[');
        for (size_t i = 0; i < v.u.l->n; i++) {
            if (i) jx_buf_put(J, b, item_sep, strlen(item_sep));
            if (indent >= 0) json_nl(J, b, indent, level + 1);
            jx_json(J, b, v.u.l->v[i], indent, item_sep, key_sep, sort_keys, level + 1, pos);
        }
        if (indent >= 0) json_nl(J, b, indent, level);
        jx_buf_putc(J, b, ']');
        return;
    case JV_DICT: {
        if (v.flag & JF_NS) break;
        jx_dict *d = v.u.d;
        if (d->n == 0) { jx_buf_put(J, b, "{}", 2); return; }
        size_t *ord = jx_alloc(J, jx_mul(J, d->n, sizeof *ord));
        for (size_t i = 0; i < d->n; i++) ord[i] = i;
        if (sort_keys) {
            for (size_t i = 0; i < d->n; i++)
                if (d->k[i].t != JV_STR)
                    jx_fail(J, BD_EUNSUP, pos, "tojson(sort_keys=true) with non-string keys is not supported");
            for (size_t i = 1; i < d->n; i++)   /* insertion sort: stable, dicts are small */
                for (size_t j = i; j > 0 && str_cmp(d->k[ord[j - 1]].u.s, d->k[ord[j]].u.s) > 0; j--) {
                    size_t t = ord[j]; ord[j] = ord[j - 1]; ord[j - 1] = t;
                }
        }
        jx_buf_putc(J, b, '{');
        for (size_t ii = 0; ii < d->n; ii++) {
            size_t i = ord[ii];
            if (ii) jx_buf_put(J, b, item_sep, strlen(item_sep));
            if (indent >= 0) json_nl(J, b, indent, level + 1);
            jx_val k = d->k[i];
            if (k.t == JV_STR) json_str(J, b, k.u.s->p, k.u.s->n);
            else if (k.t == JV_NONE) jx_buf_put(J, b, "\"null\"", 6);
            else if (k.t == JV_BOOL || k.t == JV_INT || k.t == JV_FLOAT) {
                jx_buf_putc(J, b, '"');
                jx_json(J, b, k, -1, ", ", ": ", 0, level + 1, pos);
                jx_buf_putc(J, b, '"');
            } else jx_fail(J, BD_EINPUT, pos, "tojson: keys must be str, int, float, bool or None, not %s",
                           jx_type_name(k));
            jx_buf_put(J, b, key_sep, strlen(key_sep));
            jx_json(J, b, d->v[i], indent, item_sep, key_sep, sort_keys, level + 1, pos);
        }
        if (indent >= 0) json_nl(J, b, indent, level);
        jx_buf_putc(J, b, '}');
        return;
    }
    default: break;
    }
    jx_fail(J, BD_EINPUT, pos, "tojson: Object of type %s is not JSON serializable", jx_type_name(v));
}
