/* Python str methods over UTF-8 strings: strip, case mapping, title,
 * replace, split/rsplit, splitlines, predicates, startswith/endswith. */
#include <stdlib.h>
#include <string.h>

#include "jinja_ev.h"

/* ---------- string operations (Python str semantics) ---------- */
static int in_chars(const jx_str *chars, uint32_t cp)
{
    size_t i = 0;
    while (i < chars->n) if (jx_utf8_next(chars->p, chars->n, &i) == cp) return 1;
    return 0;
}

jx_val jx_str_strip(jx *J, const jx_str *s, const jx_str *chars, int left, int right)
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

void jx_put_upper(jx *J, jx_buf *b, uint32_t cp)
{
    if (cp == 0xDF) { jx_buf_put(J, b, "SS", 2); return; }   /* Python's full mapping of U+00DF */
    jx_utf8_put(J, b, jx_cp_upper(J, cp));
}

jx_val jx_str_case(jx *J, const jx_str *s, int mode)
{
    jx_buf b = {0};
    jx_buf_put(J, &b, "", 0);
    size_t i = 0;
    int prev_cased = 0, first = 1;
    while (i < s->n) {
        uint32_t cp = jx_utf8_next(s->p, s->n, &i);
        switch (mode) {
        case CASE_UPPER: jx_put_upper(J, &b, cp); break;
        case CASE_LOWER: jx_utf8_put(J, &b, jx_cp_lower(J, cp)); break;
        case CASE_TITLE:
            if (prev_cased) jx_utf8_put(J, &b, jx_cp_lower(J, cp));
            else jx_put_upper(J, &b, cp);
            prev_cased = jx_cp_is_alpha(J, cp);
            break;
        default:
            if (first) jx_put_upper(J, &b, cp);
            else jx_utf8_put(J, &b, jx_cp_lower(J, cp));
        }
        first = 0;
    }
    return jv_strn(J, b.p, b.n);
}

/* jinja2's title filter: words split at runs of [-\s({\[<], each word's first
 * character upper-cased and the rest lower-cased. */
jx_val jx_jinja_title(jx *J, const jx_str *s)
{
    jx_buf b = {0};
    jx_buf_put(J, &b, "", 0);
    size_t i = 0;
    int at_word_start = 1;
    while (i < s->n) {
        uint32_t cp = jx_utf8_next(s->p, s->n, &i);
        int delim = jx_py_space(cp) || cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<';
        if (delim) { jx_utf8_put(J, &b, cp); at_word_start = 1; continue; }
        if (at_word_start) jx_put_upper(J, &b, cp);
        else jx_utf8_put(J, &b, jx_cp_lower(J, cp));
        at_word_start = 0;
    }
    return jv_strn(J, b.p, b.n);
}

jx_val jx_str_replace(jx *J, const jx_str *s, const jx_str *old, const jx_str *nw, int64_t count)
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

jx_val jx_str_split(jx *J, const jx_str *s, jx_val sepv, int64_t maxsplit, int from_right, size_t pos)
{
    jx_val parts[1];
    (void)parts;
    size_t cap = 16, n = 0;
    jx_val *v = jx_alloc(J, cap * sizeof *v);
#define ADD(p_, n_) do { if (n == cap) { jx_val *nv = jx_alloc(J, jx_mul(J, cap *= 2, sizeof *nv)); \
    memcpy(nv, v, n * sizeof *nv); v = nv; } v[n++] = jv_strn(J, (p_), (n_)); } while (0)
    if (sepv.t == JV_NONE || sepv.t == JV_UNDEF) {
        /* whitespace split, empty strings dropped */
        size_t ncp, *off = jx_cp_offsets(J, s, &ncp);
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
        const jx_str *sep = jx_need_str(J, sepv, "sep", pos);
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
    return jx_list_of(J, l, 0);
}

/* Python's str.splitlines(): \n \r \r\n \v \f \x1c-\x1e \x85 U+2028 U+2029 end lines */
jx_list *jx_splitlines(jx *J, const jx_str *s)
{
    jx_list *l = jx_new_list(J, s->n + 1);
    l->n = 0;
    size_t i = 0, st = 0;
    while (i < s->n) {
        size_t at = i;
        uint32_t cp = jx_utf8_next(s->p, s->n, &i);
        if (cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || (cp >= 0x1C && cp <= 0x1E) || cp == 0x85 ||
            cp == 0x2028 || cp == 0x2029) {
            l->v[l->n++] = jv_strn(J, s->p + st, at - st);
            if (cp == '\r' && i < s->n && s->p[i] == '\n') i++;
            st = i;
        }
    }
    if (st < s->n) l->v[l->n++] = jv_strn(J, s->p + st, s->n - st);
    return l;
}

int jx_str_pred(jx *J, const jx_str *s, int id)
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

int jx_prefix_match(jx *J, const jx_str *s, jx_val p, int end, size_t pos)
{
    if (p.t == JV_LIST && (p.flag & JF_TUPLE)) {
        for (size_t i = 0; i < p.u.l->n; i++)
            if (jx_prefix_match(J, s, p.u.l->v[i], end, pos)) return 1;
        return 0;
    }
    const jx_str *x = jx_need_str(J, p, end ? "endswith first arg" : "startswith first arg", pos);
    if (x->n > s->n) return 0;
    return memcmp(end ? s->p + s->n - x->n : s->p, x->p, x->n) == 0;
}

