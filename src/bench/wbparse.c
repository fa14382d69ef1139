/* WorldBench answer parser, step for step as metrics.md §3.3 describes the
 * paper's copy of WorldBench's parse(): the string operations are Python's
 * (split/replace on exact substrings, list.index = first occurrence,
 * words[i - 1] with i == 0 being the last word), and "parses as a float"
 * means Python's float() grammar. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bench.h"

/* A tiny owned string with the Python operations the parser needs. */
typedef struct str { char *p; size_t n; } str;

static int s_set(str *s, const char *p, size_t n)
{
    char *q = malloc(n + 1);
    if (!q) return -1;
    memcpy(q, p, n);
    q[n] = 0;
    free(s->p);
    s->p = q;
    s->n = n;
    return 0;
}

/* s = s.replace(a, "") */
static void s_remove(str *s, const char *a)
{
    size_t k = strlen(a), w = 0;
    for (size_t i = 0; i < s->n;) {
        if (i + k <= s->n && !memcmp(s->p + i, a, k)) { i += k; continue; }
        s->p[w++] = s->p[i++];
    }
    s->n = w;
    s->p[w] = 0;
}

/* s = s.split(a)[0] */
static void s_cut(str *s, const char *a)
{
    char *q = strstr(s->p, a);
    if (q) { s->n = (size_t)(q - s->p); s->p[s->n] = 0; }
}

static int py_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* Python float(): optional surrounding whitespace, sign, digits with single
 * underscores between digits, optional fraction and exponent, or
 * inf/infinity/nan in any case. allow_us = 0 for pandas to_numeric. */
static int py_float(const char *p, size_t n, int allow_us, double *out)
{
    while (n && py_space(*p)) { p++; n--; }
    while (n && py_space(p[n - 1])) n--;
    if (!n || n > 300) return 0;
    char buf[320];
    size_t k = 0, i = 0;
    if (p[i] == '+' || p[i] == '-') buf[k++] = p[i++];
    const char *words[] = {"infinity", "inf", "nan"};
    for (int w = 0; w < 3; w++) {
        size_t wl = strlen(words[w]);
        if (n - i == wl && !strncasecmp(p + i, words[w], wl)) {
            double v = w == 2 ? NAN : INFINITY;
            *out = (buf[0] == '-') ? -v : v;
            return 1;
        }
    }
    int digits = 0, prev_digit = 0;
#define DIGITS() \
    while (i < n) { \
        if (p[i] >= '0' && p[i] <= '9') { buf[k++] = p[i++]; digits++; prev_digit = 1; } \
        else if (p[i] == '_' && allow_us && prev_digit && i + 1 < n && p[i + 1] >= '0' && p[i + 1] <= '9') { i++; prev_digit = 0; } \
        else break; \
    }
    DIGITS();
    int int_digits = digits;
    if (i < n && p[i] == '.') {
        buf[k++] = p[i++];
        prev_digit = 0;
        DIGITS();
    }
    if (digits == 0) return 0;
    (void)int_digits;
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        buf[k++] = p[i++];
        if (i < n && (p[i] == '+' || p[i] == '-')) buf[k++] = p[i++];
        int ed = digits;
        prev_digit = 0;
        DIGITS();
        if (digits == ed) return 0;
    }
#undef DIGITS
    if (i != n) return 0;
    buf[k] = 0;
    *out = strtod(buf, NULL);
    return 1;
}

/* Python str.split(" ") into views. */
typedef struct view { const char *p; size_t n; } view;

static view *split_sp(const char *s, size_t n, size_t *count)
{
    size_t c = 1;
    for (size_t i = 0; i < n; i++) c += s[i] == ' ';
    view *v = malloc(c * sizeof *v);
    if (!v) return NULL;
    size_t k = 0, st = 0;
    for (size_t i = 0; i <= n; i++)
        if (i == n || s[i] == ' ') { v[k].p = s + st; v[k].n = i - st; k++; st = i + 1; }
    *count = k;
    return v;
}

static long find_word(const view *w, size_t nw, const char *word)
{
    size_t k = strlen(word);
    for (size_t i = 0; i < nw; i++)
        if (w[i].n == k && !memcmp(w[i].p, word, k)) return (long)i;
    return -1;
}

/* token.split("\\")[0].split("%")[0] */
static view cut_tok(view t)
{
    for (size_t i = 0; i < t.n; i++)
        if (t.p[i] == '\\' || t.p[i] == '%') { t.n = i; break; }
    return t;
}

double bd_wb_parse(const char *text)
{
    str x = {0};
    double result = NAN;
    size_t a = 0, b = strlen(text);
    while (a < b && py_space(text[a])) a++;
    while (b > a && py_space(text[b - 1])) b--;
    if (s_set(&x, text + a, b - a)) return NAN;
    /* the part after the last "[/INST] " */
    for (const char *q = x.p, *h; (h = strstr(q, "[/INST] ")); q = h + 1)
        if (!strstr(h + 1, "[/INST] ")) { if (s_set(&x, h + 8, strlen(h + 8))) goto out; break; }
    const char *cai = strstr(x.p, "correct answer is: ");
    if (cai) {
        /* x.split("correct answer is: ")[1], then its first word */
        const char *w = cai + 19, *nx = strstr(w, "correct answer is: ");
        size_t wl = nx ? (size_t)(nx - w) : strlen(w);
        const char *sp = memchr(w, ' ', wl);
        if (sp) wl = (size_t)(sp - w);
        if (s_set(&x, w, wl)) goto out;
    }
    {
        size_t nw;
        char *orig = strdup(x.p);
        if (!orig) goto out;
        view *w = split_sp(orig, strlen(orig), &nw);
        if (!w) { free(orig); goto out; }
        static const char *const scale_w[] = {"million", "billion", "trillion", "thousand", "hundred"};
        static const double scale_v[] = {1e6, 1e9, 1e12, 1e3, 1e2};
        for (int k = 0; k < 5; k++) {
            long i = find_word(w, nw, scale_w[k]);
            if (i < 0) continue;
            view pw = w[i == 0 ? nw - 1 : (size_t)i - 1];
            double v;
            if (py_float(pw.p, pw.n, 1, &v)) {
                char num[64];
                snprintf(num, sizeof num, "%.17g", v * scale_v[k]);
                if (s_set(&x, num, strlen(num))) { free(w); free(orig); goto out; }
            }
        }
        static const char *const approx[] = {"approximately", "about"};
        for (int k = 0; k < 2; k++) {
            long i = find_word(w, nw, approx[k]);
            if (i >= 0 && (size_t)i + 1 < nw) {
                if (s_set(&x, w[i + 1].p, w[i + 1].n)) { free(w); free(orig); goto out; }
            }
        }
        free(w);
        free(orig);
    }
    s_remove(&x, "<|assistant|>\n");
    s_remove(&x, " [/INST]");
    s_remove(&x, "*");
    s_remove(&x, "<|im_start|>assistant\n");
    s_cut(&x, "</s>");
    s_remove(&x, ",");
    s_cut(&x, "\n");
    s_cut(&x, "<|im_end|>");
    s_remove(&x, "<|eot_id|>");
    {
        size_t nw;
        view *w = split_sp(x.p, x.n, &nw);
        if (!w) goto out;
        view f = cut_tok(w[0]), pick;
        double v;
        pick = py_float(f.p, f.n, 1, &v) ? f : cut_tok(w[nw - 1]);
        char *tmp = malloc(pick.n + 1);
        if (!tmp) { free(w); goto out; }
        memcpy(tmp, pick.p, pick.n);
        tmp[pick.n] = 0;
        free(w);
        size_t tn = pick.n;
        if (tn && tmp[tn - 1] == '.') tmp[--tn] = 0;
        if (py_float(tmp, tn, 1, &v) && (fabs(v - 2020) < 10 || v < 0)) {
            free(tmp);
            goto out;
        }
        /* pd.to_numeric(errors="coerce"): no digit underscores */
        if (!py_float(tmp, tn, 0, &v)) v = NAN;
        result = v;
        free(tmp);
    }
out:
    free(x.p);
    return result;
}

double bd_wb_are(double pred, double gt)
{
    double m = pred > gt ? pred : gt;
    if (isnan(pred) || isnan(gt)) return NAN;
    double d = fabs(pred - gt);
    if (m == 0 && d == 0) return NAN;
    return d / m;
}

double bd_wb_sre(double pred, double gt)
{
    double m = pred > gt ? pred : gt;
    if (isnan(pred) || isnan(gt)) return NAN;
    if (m == 0 && pred == gt) return NAN;
    return (pred - gt) / m;
}
