/* Lexer of the Jinja2 subset, with jinja2's whitespace rules under the
 * settings transformers uses: trim_blocks (drop one newline after a block or
 * comment tag), lstrip_blocks (drop whitespace before a block or comment tag
 * that starts its line), '-' / '+' modifiers inside the delimiters, and
 * keep_trailing_newline=False. Newlines are normalised to "\n" first, as
 * jinja2 does before tokenizing. */
#include <stdlib.h>
#include <string.h>

#include "jinja.h"

typedef struct lexer {
    jx *J;
    const char *s;
    size_t n;
    jx_tok *toks;
    size_t n_toks, cap;
} lexer;

static jx_tok *push(lexer *L, int type, size_t pos)
{
    if (L->n_toks == L->cap) {
        size_t cap = L->cap ? jx_mul(L->J, L->cap, 2) : 256;
        jx_tok *t = jx_alloc(L->J, jx_mul(L->J, cap, sizeof *t));
        if (L->n_toks) memcpy(t, L->toks, L->n_toks * sizeof *t);
        L->toks = t;
        L->cap = cap;
    }
    jx_tok *t = &L->toks[L->n_toks++];
    memset(t, 0, sizeof *t);
    t->type = type;
    t->pos = pos;
    return t;
}

/* Length of the Python whitespace character at s[i], 0 if none. */
static size_t space_at(const char *s, size_t n, size_t i)
{
    size_t j = i;
    if (i >= n) return 0;
    uint32_t cp = jx_utf8_next(s, n, &j);
    return jx_py_space(cp) ? j - i : 0;
}

static size_t skip_space(const char *s, size_t n, size_t i)
{
    size_t k;
    while ((k = space_at(s, n, i)) != 0) i += k;
    return i;
}

/* End of text s[0..n) after Python's str.rstrip(). */
static size_t rstrip_len(const char *s, size_t n)
{
    size_t end = n;
    while (end > 0) {
        size_t st = end - 1;
        while (st > 0 && ((unsigned char)s[st] & 0xC0) == 0x80) st--;
        size_t j = st;
        uint32_t cp = jx_utf8_next(s, end, &j);
        if (!jx_py_space(cp)) break;
        end = st;
    }
    return end;
}

static int is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }
static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* digits with single underscores between them: (\d+_)*\d+ ; returns end */
static size_t scan_digits(const char *s, size_t n, size_t i)
{
    if (i >= n || !is_digit(s[i])) return i;
    while (i < n && is_digit(s[i])) {
        i++;
        if (i + 1 < n && s[i] == '_' && is_digit(s[i + 1])) i++;
    }
    return i;
}

/* A string literal: Python "unicode-escape" decoding of its body, as jinja2 does. */
static size_t lex_string(lexer *L, size_t i)
{
    jx *J = L->J;
    const char *s = L->s;
    char q = s[i];
    size_t start = i++;
    jx_buf b = {0};
    jx_buf_put(J, &b, "", 0);
    while (1) {
        if (i >= L->n) jx_fail(J, BD_EINPUT, start, "unterminated string literal");
        char c = s[i];
        if (c == q) { i++; break; }
        if (c != '\\') { jx_buf_putc(J, &b, c); i++; continue; }
        if (i + 1 >= L->n) jx_fail(J, BD_EINPUT, start, "unterminated string literal");
        char e = s[i + 1];
        i += 2;
        switch (e) {
        case '\n': break;
        case '\\': jx_buf_putc(J, &b, '\\'); break;
        case '\'': jx_buf_putc(J, &b, '\''); break;
        case '"': jx_buf_putc(J, &b, '"'); break;
        case 'a': jx_buf_putc(J, &b, '\a'); break;
        case 'b': jx_buf_putc(J, &b, '\b'); break;
        case 'f': jx_buf_putc(J, &b, '\f'); break;
        case 'n': jx_buf_putc(J, &b, '\n'); break;
        case 'r': jx_buf_putc(J, &b, '\r'); break;
        case 't': jx_buf_putc(J, &b, '\t'); break;
        case 'v': jx_buf_putc(J, &b, '\v'); break;
        case 'x': case 'u': case 'U': {
            int nd = e == 'x' ? 2 : e == 'u' ? 4 : 8;
            uint32_t cp = 0;
            for (int k = 0; k < nd; k++) {
                int h = i < L->n ? hexval(s[i]) : -1;
                if (h < 0) jx_fail(J, BD_EINPUT, start, "truncated \\%c escape in string literal", e);
                cp = cp * 16 + (uint32_t)h;
                i++;
            }
            if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                jx_fail(J, BD_EUNSUP, start, "escape \\%c%0*x (surrogate or out of range) is not supported",
                        e, nd, cp);
            jx_utf8_put(J, &b, cp);
            break;
        }
        case 'N': jx_fail(J, BD_EUNSUP, start, "\\N{...} escapes are not supported");
        default:
            if (e >= '0' && e <= '7') {
                uint32_t cp = (uint32_t)(e - '0');
                for (int k = 0; k < 2 && i < L->n && s[i] >= '0' && s[i] <= '7'; k++, i++)
                    cp = cp * 8 + (uint32_t)(s[i] - '0');
                jx_utf8_put(J, &b, cp);
            } else {
                /* unknown escapes stay as written (Python keeps the backslash) */
                jx_buf_putc(J, &b, '\\');
                i--;
            }
        }
    }
    jx_tok *t = push(L, TK_STRING, start);
    t->s = b.p;
    t->n = b.n;
    return i;
}

static size_t lex_number(lexer *L, size_t i)
{
    jx *J = L->J;
    const char *s = L->s;
    size_t start = i;
    int prev_dot = i > 0 && s[i - 1] == '.';
    if (s[i] == '0' && i + 1 < L->n && strchr("bBoOxX", s[i + 1]) && s[i + 1]) {
        int base = (s[i + 1] == 'b' || s[i + 1] == 'B') ? 2 : (s[i + 1] == 'o' || s[i + 1] == 'O') ? 8 : 16;
        size_t k = i + 2;
        uint64_t v = 0;
        int nd = 0;
        while (k < L->n) {
            if (s[k] == '_' && nd) { k++; continue; }
            int h = hexval(s[k]);
            if (h < 0 || h >= base) break;
            if (v > (UINT64_C(0x7fffffffffffffff) - (uint64_t)h) / (uint64_t)base)
                jx_fail(J, BD_EUNSUP, start, "integer literal too large");
            v = v * (uint64_t)base + (uint64_t)h;
            nd++;
            k++;
        }
        if (nd) {
            jx_tok *t = push(L, TK_INT, start);
            t->i = (int64_t)v;
            return k;
        }
    }
    size_t e = scan_digits(s, L->n, i);
    int is_float = 0;
    size_t fe = e;
    if (!prev_dot) {
        if (fe < L->n && s[fe] == '.' && fe + 1 < L->n && is_digit(s[fe + 1])) {
            fe = scan_digits(s, L->n, fe + 1);
            is_float = 1;
        }
        if (fe < L->n && (s[fe] == 'e' || s[fe] == 'E')) {
            size_t k = fe + 1;
            if (k < L->n && (s[k] == '+' || s[k] == '-')) k++;
            if (k < L->n && is_digit(s[k])) { fe = scan_digits(s, L->n, k); is_float = 1; }
        }
    }
    char buf[512];
    size_t end = is_float ? fe : e, m = 0;
    for (size_t k = start; k < end; k++)
        if (s[k] != '_') {
            if (m + 1 >= sizeof buf) jx_fail(J, BD_EUNSUP, start, "number literal too long");
            buf[m++] = s[k];
        }
    buf[m] = 0;
    if (is_float) {
        jx_tok *t = push(L, TK_FLOAT, start);
        t->f = strtod(buf, NULL);
    } else {
        uint64_t v = 0;
        for (size_t k = 0; k < m; k++) {
            if (v > (UINT64_C(0x7fffffffffffffff) - (uint64_t)(buf[k] - '0')) / 10)
                jx_fail(J, BD_EUNSUP, start, "integer literal too large");
            v = v * 10 + (uint64_t)(buf[k] - '0');
        }
        jx_tok *t = push(L, TK_INT, start);
        t->i = (int64_t)v;
    }
    return end;
}

/* Lexes the inside of {{ }} or {% %} starting at i; returns the position
 * after the closing delimiter (and what trimming it implies). */
static size_t lex_tag(lexer *L, size_t i, int block, size_t tag_pos)
{
    jx *J = L->J;
    const char *s = L->s;
    size_t n = L->n;
    int balance = 0;
    char stack[128];
    while (1) {
        i = skip_space(s, n, i);
        if (i >= n) jx_fail(J, BD_EINPUT, tag_pos, "unexpected end of template: %s tag not closed",
                            block ? "'{%'" : "'{{'");
        if (!balance) {
            if (block) {
                if ((s[i] == '-' || s[i] == '+') && i + 2 < n + 0 && s[i + 1] == '%' && s[i + 2] == '}') {
                    push(L, TK_BLOCK_END, i);
                    i += 3;
                    if (s[i - 3] == '-') i = skip_space(s, n, i);
                    return i;
                }
                if (s[i] == '%' && i + 1 < n && s[i + 1] == '}') {
                    push(L, TK_BLOCK_END, i);
                    i += 2;
                    if (i < n && s[i] == '\n') i++;      /* trim_blocks */
                    return i;
                }
            } else {
                if (s[i] == '-' && i + 2 < n && s[i + 1] == '}' && s[i + 2] == '}') {
                    push(L, TK_VAR_END, i);
                    return skip_space(s, n, i + 3);
                }
                if (s[i] == '}' && i + 1 < n && s[i + 1] == '}') {
                    push(L, TK_VAR_END, i);
                    return i + 2;
                }
            }
        }
        char c = s[i];
        if (is_name_start(c)) {
            size_t st = i;
            while (i < n && is_name_char(s[i])) i++;
            jx_tok *t = push(L, TK_NAME, st);
            t->s = s + st;
            t->n = i - st;
        } else if (is_digit(c)) {
            i = lex_number(L, i);
        } else if (c == '\'' || c == '"') {
            i = lex_string(L, i);
        } else {
            int op = 0;
            size_t len = 1;
            if (i + 1 < n) {
                char d = s[i + 1];
                if (c == '/' && d == '/') op = OP_FLOORDIV;
                else if (c == '*' && d == '*') op = OP_POW;
                else if (c == '=' && d == '=') op = OP_EQ;
                else if (c == '!' && d == '=') op = OP_NE;
                else if (c == '<' && d == '=') op = OP_LE;
                else if (c == '>' && d == '=') op = OP_GE;
                if (op) len = 2;
            }
            if (!op) {
                if (!strchr("+-/*%~[](){}<>=.:|,;", c) || c == 0) {
                    if ((unsigned char)c >= 0x80)
                        jx_fail(J, BD_EUNSUP, i, "non-ASCII character in a tag is not supported");
                    jx_fail(J, BD_EINPUT, i, "unexpected char '%c'", c);
                }
                op = c;
                if (c == '(' || c == '[' || c == '{') {
                    if (balance >= (int)sizeof stack) jx_fail(J, BD_EINPUT, i, "brackets nested too deeply");
                    stack[balance++] = c == '(' ? ')' : c == '[' ? ']' : '}';
                } else if (c == ')' || c == ']' || c == '}') {
                    if (!balance) jx_fail(J, BD_EINPUT, i, "unexpected '%c'", c);
                    if (stack[balance - 1] != c)
                        jx_fail(J, BD_EINPUT, i, "unexpected '%c', expected '%c'", c, stack[balance - 1]);
                    balance--;
                }
            }
            jx_tok *t = push(L, TK_OP, i);
            t->op = op;
            i += len;
        }
    }
}

void jx_lex(jx *J, jx_tok **toks, size_t *n_toks)
{
    lexer L = {J, J->src, J->src_len, NULL, 0, 0};
    const char *s = L.s;
    size_t n = L.n, pos = 0;
    while (pos < n) {
        /* the next tag start */
        size_t k = pos;
        int kind = 0;
        while (k + 1 < n) {
            if (s[k] == '{' && (s[k + 1] == '{' || s[k + 1] == '%' || s[k + 1] == '#')) { kind = s[k + 1]; break; }
            k++;
        }
        if (!kind) {
            jx_tok *t = push(&L, TK_TEXT, pos);
            t->s = s + pos;
            t->n = n - pos;
            break;
        }
        char sign = (k + 2 < n && (s[k + 2] == '-' || s[k + 2] == '+')) ? s[k + 2] : 0;
        size_t text_end = k;
        if (sign == '-') {
            text_end = pos + rstrip_len(s + pos, k - pos);
        } else if (sign != '+' && kind != '{') {
            /* lstrip_blocks: whitespace (Python's \s) between the line start and the tag */
            size_t l_pos = pos;
            for (size_t q = k; q > pos; q--)
                if (s[q - 1] == '\n') { l_pos = q; break; }
            int line_starting = pos == 0 || s[pos - 1] == '\n';
            if (l_pos > pos || line_starting) {
                if (skip_space(s, k, l_pos) == k) text_end = l_pos;
            }
        }
        if (text_end > pos) {
            jx_tok *t = push(&L, TK_TEXT, pos);
            t->s = s + pos;
            t->n = text_end - pos;
        }
        size_t p = k + 2 + (sign ? 1 : 0);
        if (kind == '#') {
            size_t e = p;
            while (e + 1 < n && !(s[e] == '#' && s[e + 1] == '}')) e++;
            if (e + 1 >= n) jx_fail(J, BD_EINPUT, k, "missing end of comment tag");
            char c = (e > p && (s[e - 1] == '-' || s[e - 1] == '+')) ? s[e - 1] : 0;
            pos = e + 2;
            if (c == '-') pos = skip_space(s, n, pos);
            else if (c != '+' && pos < n && s[pos] == '\n') pos++;
        } else if (kind == '%') {
            size_t q = skip_space(s, n, p);
            if (q + 3 <= n && memcmp(s + q, "raw", 3) == 0 && (q + 3 == n || !is_name_char(s[q + 3])))
                jx_fail(J, BD_EUNSUP, k, "unsupported tag 'raw'");
            push(&L, TK_BLOCK_BEGIN, k);
            pos = lex_tag(&L, p, 1, k);
        } else {
            push(&L, TK_VAR_BEGIN, k);
            pos = lex_tag(&L, p, 0, k);
        }
    }
    push(&L, TK_EOF, n);
    *toks = L.toks;
    *n_toks = L.n_toks;
}
