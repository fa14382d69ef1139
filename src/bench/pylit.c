#include "pylit.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct P { const char *s; size_t i; const char *what; bd_err *err; int depth; } P;

static int perr(P *p, const char *msg)
{
    return bd_fail(p->err, BD_EINPUT, "%s: offset %zu: %s", p->what, p->i, msg);
}

static void ws(P *p)
{
    while (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r') p->i++;
}

static int put_utf8(char *o, size_t *n, unsigned long cp)
{
    if (cp < 0x80) o[(*n)++] = (char)cp;
    else if (cp < 0x800) { o[(*n)++] = (char)(0xC0 | (cp >> 6)); o[(*n)++] = (char)(0x80 | (cp & 63)); }
    else if (cp < 0x10000) {
        o[(*n)++] = (char)(0xE0 | (cp >> 12)); o[(*n)++] = (char)(0x80 | ((cp >> 6) & 63));
        o[(*n)++] = (char)(0x80 | (cp & 63));
    } else if (cp < 0x110000) {
        o[(*n)++] = (char)(0xF0 | (cp >> 18)); o[(*n)++] = (char)(0x80 | ((cp >> 12) & 63));
        o[(*n)++] = (char)(0x80 | ((cp >> 6) & 63)); o[(*n)++] = (char)(0x80 | (cp & 63));
    } else return -1;
    return 0;
}

static int hexn(P *p, int n, unsigned long *v)
{
    *v = 0;
    for (int k = 0; k < n; k++) {
        char c = p->s[p->i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
                c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return perr(p, "bad hex digit in escape");
        *v = *v * 16 + (unsigned long)d;
        p->i++;
    }
    return 0;
}

static int pstring(P *p, json_object **out)
{
    char q = p->s[p->i++];
    size_t start = p->i, cap = 16;
    /* Decoded text is never longer than the source span (escapes shrink). */
    const char *end = p->s + start;
    while (*end && *end != q) { if (*end == '\\' && end[1]) end++; end++; }
    cap += (size_t)(end - (p->s + start));
    char *o = malloc(cap);
    if (!o) return bd_oom(p->err, "string");
    size_t n = 0;
    for (;;) {
        char c = p->s[p->i];
        if (!c || c == '\n') { free(o); return perr(p, "unterminated string"); }
        if (c == q) { p->i++; break; }
        if (c != '\\') { o[n++] = c; p->i++; continue; }
        p->i++;
        char e = p->s[p->i++];
        unsigned long v;
        switch (e) {
        case 'n': o[n++] = '\n'; break;
        case 't': o[n++] = '\t'; break;
        case 'r': o[n++] = '\r'; break;
        case '0': o[n++] = 0; break;
        case '\\': case '\'': case '"': o[n++] = e; break;
        case '\n': break;
        case 'x': if (hexn(p, 2, &v)) { free(o); return BD_EINPUT; } put_utf8(o, &n, v); break;
        case 'u': if (hexn(p, 4, &v)) { free(o); return BD_EINPUT; } put_utf8(o, &n, v); break;
        case 'U':
            if (hexn(p, 8, &v) || put_utf8(o, &n, v)) { free(o); return perr(p, "bad \\U escape"); }
            break;
        default: /* Python keeps unknown escapes verbatim */
            if (!e) { free(o); return perr(p, "unterminated string"); }
            o[n++] = '\\'; o[n++] = e; break;
        }
    }
    *out = json_object_new_string_len(o, (int)n);
    free(o);
    return *out ? 0 : bd_oom(p->err, "string");
}

static int pnumber(P *p, json_object **out)
{
    const char *b = p->s + p->i;
    size_t k = 0;
    int isf = 0;
    if (b[k] == '-' || b[k] == '+') k++;
    while (isdigit((unsigned char)b[k]) || b[k] == '.' || b[k] == 'e' || b[k] == 'E' || b[k] == '_' ||
           ((b[k] == '-' || b[k] == '+') && (b[k - 1] == 'e' || b[k - 1] == 'E'))) {
        if (b[k] == '.' || b[k] == 'e' || b[k] == 'E') isf = 1;
        if (b[k] == '_') return perr(p, "digit separators are not supported");
        k++;
    }
    char tmp[64];
    if (k == 0 || k >= sizeof tmp) return perr(p, "bad number");
    memcpy(tmp, b, k);
    tmp[k] = 0;
    char *e;
    errno = 0;
    if (isf) {
        double d = strtod(tmp, &e);
        if (*e) return perr(p, "bad number");
        *out = json_object_new_double(d);
    } else {
        long long v = strtoll(tmp, &e, 10);
        if (*e || errno) return perr(p, "bad integer");
        *out = json_object_new_int64(v);
    }
    p->i += k;
    return *out ? 0 : bd_oom(p->err, "number");
}

static int pvalue(P *p, json_object **out);

static int pseq(P *p, char close, json_object **out)
{
    p->i++;
    json_object *a = json_object_new_array();
    if (!a) return bd_oom(p->err, "list");
    for (;;) {
        ws(p);
        if (p->s[p->i] == close) { p->i++; break; }
        json_object *v;
        int rc = pvalue(p, &v);
        if (rc) { json_object_put(a); return rc; }
        json_object_array_add(a, v);
        ws(p);
        if (p->s[p->i] == ',') { p->i++; continue; }
        if (p->s[p->i] == close) { p->i++; break; }
        json_object_put(a);
        return perr(p, close == ']' ? "expected ',' or ']'" : "expected ',' or ')'");
    }
    *out = a;
    return 0;
}

static int pdict(P *p, json_object **out)
{
    p->i++;
    json_object *o = json_object_new_object();
    if (!o) return bd_oom(p->err, "dict");
    for (;;) {
        ws(p);
        if (p->s[p->i] == '}') { p->i++; break; }
        if (p->s[p->i] != '\'' && p->s[p->i] != '"') { json_object_put(o); return perr(p, "expected a string key"); }
        json_object *k, *v;
        int rc = pstring(p, &k);
        if (rc) { json_object_put(o); return rc; }
        ws(p);
        if (p->s[p->i] != ':') { json_object_put(k); json_object_put(o); return perr(p, "expected ':'"); }
        p->i++;
        ws(p);
        rc = pvalue(p, &v);
        if (rc) { json_object_put(k); json_object_put(o); return rc; }
        json_object_object_add(o, json_object_get_string(k), v);
        json_object_put(k);
        ws(p);
        if (p->s[p->i] == ',') { p->i++; continue; }
        if (p->s[p->i] == '}') { p->i++; break; }
        json_object_put(o);
        return perr(p, "expected ',' or '}'");
    }
    *out = o;
    return 0;
}

static int word(P *p, const char *w)
{
    size_t n = strlen(w);
    if (strncmp(p->s + p->i, w, n)) return 0;
    char c = p->s[p->i + n];
    if (isalnum((unsigned char)c) || c == '_') return 0;
    p->i += n;
    return 1;
}

static int pvalue(P *p, json_object **out)
{
    if (++p->depth > 64) return perr(p, "nesting deeper than 64");
    int rc;
    ws(p);
    char c = p->s[p->i];
    if (c == '\'' || c == '"') rc = pstring(p, out);
    else if (c == '[') rc = pseq(p, ']', out);
    else if (c == '(') rc = pseq(p, ')', out);
    else if (c == '{') rc = pdict(p, out);
    else if (c == '-' || c == '+' || c == '.' || isdigit((unsigned char)c)) rc = pnumber(p, out);
    else if (word(p, "None")) { *out = NULL; rc = 0; }
    else if (word(p, "True")) { *out = json_object_new_boolean(1); rc = *out ? 0 : bd_oom(p->err, "bool"); }
    else if (word(p, "False")) { *out = json_object_new_boolean(0); rc = *out ? 0 : bd_oom(p->err, "bool"); }
    else if (word(p, "defaultdict")) {
        /* defaultdict(<factory>, {...}): the factory is `list` or the repr
         * "<class 'list'>"; only the dict matters. */
        ws(p);
        if (p->s[p->i] != '(') return perr(p, "expected '(' after defaultdict");
        p->i++;
        ws(p);
        if (!strncmp(p->s + p->i, "<class '", 8)) {
            const char *e = strstr(p->s + p->i, "'>");
            if (!e) return perr(p, "unterminated <class ...>");
            p->i = (size_t)(e - p->s) + 2;
        } else if (!word(p, "list") && !word(p, "dict") && !word(p, "int") && !word(p, "float")) {
            return perr(p, "unsupported defaultdict factory");
        }
        ws(p);
        if (p->s[p->i] != ',') return perr(p, "expected ',' in defaultdict(...)");
        p->i++;
        ws(p);
        if (p->s[p->i] != '{') return perr(p, "expected '{' in defaultdict(...)");
        if ((rc = pdict(p, out))) return rc;
        ws(p);
        if (p->s[p->i] != ')') { json_object_put(*out); *out = NULL; return perr(p, "expected ')'"); }
        p->i++;
    } else return perr(p, "unexpected character");
    p->depth--;
    return rc;
}

int bd_pylit_parse(const char *s, const char *what, json_object **out, bd_err *err)
{
    P p = {s, 0, what, err, 0};
    *out = NULL;
    json_object *v = NULL;
    int rc = pvalue(&p, &v);
    if (rc) return rc;
    ws(&p);
    if (p.s[p.i]) { json_object_put(v); return perr(&p, "trailing text after the literal"); }
    *out = v;
    return 0;
}

void bd_py_float_repr(double v, char *buf, size_t n)
{
    if (isnan(v)) { snprintf(buf, n, "nan"); return; }
    if (isinf(v)) { snprintf(buf, n, v > 0 ? "inf" : "-inf"); return; }
    if (v == 0) { snprintf(buf, n, signbit(v) ? "-0.0" : "0.0"); return; }
    char e[64];
    int p;
    for (p = 1; p <= 17; p++) {
        snprintf(e, sizeof e, "%.*e", p - 1, v);
        if (strtod(e, NULL) == v) break;
    }
    /* e = [-]d.ddde[+-]XX: digits and decimal exponent */
    char digits[32];
    int nd = 0, neg = e[0] == '-';
    const char *q = e + neg;
    for (; *q && *q != 'e'; q++)
        if (*q != '.') digits[nd++] = *q;
    digits[nd] = 0;
    int ex = atoi(q + 1);
    while (nd > 1 && digits[nd - 1] == '0') digits[--nd] = 0;
    char o[64];
    int k = 0;
    if (neg) o[k++] = '-';
    if (ex >= -5 + 1 && ex < 16) {
        if (ex < 0) {
            o[k++] = '0'; o[k++] = '.';
            for (int i = 0; i < -ex - 1; i++) o[k++] = '0';
            for (int i = 0; i < nd; i++) o[k++] = digits[i];
        } else {
            for (int i = 0; i <= ex; i++) o[k++] = i < nd ? digits[i] : '0';
            o[k++] = '.';
            if (nd > ex + 1) for (int i = ex + 1; i < nd; i++) o[k++] = digits[i];
            else o[k++] = '0';
        }
        o[k] = 0;
    } else {
        o[k++] = digits[0];
        if (nd > 1) { o[k++] = '.'; for (int i = 1; i < nd; i++) o[k++] = digits[i]; }
        o[k] = 0;
        char tail[16];
        snprintf(tail, sizeof tail, "e%c%02d", ex < 0 ? '-' : '+', ex < 0 ? -ex : ex);
        strcat(o, tail);
    }
    snprintf(buf, n, "%s", o);
}

int bd_py_str(json_object *v, char *buf, size_t n)
{
    if (json_object_is_type(v, json_type_string)) snprintf(buf, n, "%s", json_object_get_string(v));
    else if (json_object_is_type(v, json_type_int)) snprintf(buf, n, "%lld", (long long)json_object_get_int64(v));
    else if (json_object_is_type(v, json_type_double)) bd_py_float_repr(json_object_get_double(v), buf, n);
    else if (json_object_is_type(v, json_type_boolean)) snprintf(buf, n, "%s", json_object_get_boolean(v) ? "True" : "False");
    else return -1;
    return 0;
}
