/* Internal interface of the Jinja2-subset interpreter behind chat.h: values,
 * an arena that owns every allocation of one render, the lexer/parser that
 * builds the syntax tree and the evaluator. Errors unwind with longjmp to the
 * render entry point; since all memory lives in the arena nothing leaks. */
#ifndef BD_JINJA_H
#define BD_JINJA_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/err.h"

/* ---- arena ---- */
typedef struct jx_chunk jx_chunk;

/* ---- values ---- */
enum jx_type {
    JV_UNDEF, JV_NONE, JV_BOOL, JV_INT, JV_FLOAT, JV_STR, JV_LIST, JV_DICT,
    JV_FUNC, JV_LOOP, JV_MACRO
};
/* list flags: tuples; and lazy results that jinja2/Python keep as generators
 * (always truthy, no len(), not printable) or dict views (items()/keys()/values()) */
enum { JF_TUPLE = 1, JF_NS = 2, JF_GEN = 4, JF_KEYS = 8, JF_VALUES = 16, JF_ITEMS = 32 };
#define JF_VIEW (JF_KEYS | JF_VALUES | JF_ITEMS)
#define JX_LAZY(v) ((v).t == JV_LIST && ((v).flag & (JF_GEN | JF_VIEW)))

typedef struct jx_str { size_t n; char p[]; } jx_str;      /* NUL-terminated */
typedef struct jx_val jx_val;
/* lazy_err: a generator over a non-iterable; it fails only when iterated, as
 * jinja2's generator filters do */
typedef struct jx_list { size_t n; jx_val *v; jx_str *lazy_err; } jx_list;
typedef struct jx_dict { size_t n, cap; jx_val *k, *v; } jx_dict;
struct jx_func;
struct jx_loop;
struct jx_macro;

struct jx_val {
    uint8_t t;
    uint8_t flag;        /* JF_TUPLE on lists, JF_NS on dicts */
    union {
        int b;
        int64_t i;
        double f;
        jx_str *s;       /* JV_STR; JV_UNDEF: hint naming what was missing (may be NULL) */
        jx_list *l;
        jx_dict *d;
        struct jx_func *fn;
        struct jx_loop *loop;
        struct jx_macro *mac;
    } u;
};

/* ---- tokens ---- */
enum jx_tok_type {
    TK_EOF, TK_TEXT, TK_VAR_BEGIN, TK_VAR_END, TK_BLOCK_BEGIN, TK_BLOCK_END,
    TK_NAME, TK_STRING, TK_INT, TK_FLOAT, TK_OP
};
/* multi-character operators; single ones use their character */
enum { OP_FLOORDIV = 256, OP_POW, OP_EQ, OP_NE, OP_LE, OP_GE };

typedef struct jx_tok {
    int type;
    int op;
    size_t pos;          /* offset into the normalised source */
    const char *s;       /* TEXT / NAME / STRING (unescaped) bytes */
    size_t n;
    int64_t i;
    double f;
} jx_tok;

/* ---- syntax tree ---- */
enum jx_node_kind {
    /* statements */
    N_BODY, N_TEXT, N_OUTPUT, N_FOR, N_IF, N_SET, N_SETBLOCK, N_MACRO, N_BREAK, N_CONTINUE,
    /* expressions */
    E_CONST, E_NAME, E_GETATTR, E_GETITEM, E_SLICE, E_CALL, E_FILTER, E_TEST, E_BIN,
    E_NEG, E_POS, E_NOT, E_AND, E_OR, E_CMP, E_COND, E_LIST, E_TUPLE, E_DICT, E_CONCAT,
    E_NSREF
};

typedef struct jx_node jx_node;
struct jx_node {
    int kind;
    int op;
    size_t pos;
    const char *s;       /* names, text */
    size_t n;
    jx_val v;            /* E_CONST */
    jx_node *a, *b, *c, *d;
    jx_node **items;     /* bodies, args, list items, dict keys, compare operands */
    int n_items;
    jx_node **items2;    /* dict values, kwarg values, else body */
    int n_items2;
    const char **kw;     /* kwarg names (NUL-terminated), with items2 */
    int *ops;            /* E_CMP operators, n_items of them */
};

/* ---- the interpreter context ---- */
typedef struct jx_frame jx_frame;

typedef struct jx {
    jmp_buf jb;
    bd_err *err;
    const char *src;     /* normalised template source */
    size_t src_len;
    jx_chunk *chunks;
    size_t mem_used, mem_cap;
    long long steps, max_steps;
    int depth, max_depth;
    long long now;       /* strftime_now clock; -1 = current time */
    /* output */
    char *out;
    size_t out_n, out_cap;
    jx_frame *globals;
    void *locale;        /* locale_t for Unicode case mapping, or NULL */
    int locale_tried;
} jx;

_Noreturn void jx_fail(jx *J, int code, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void *jx_alloc(jx *J, size_t n);
void jx_free_all(jx *J);
size_t jx_mul(jx *J, size_t a, size_t b);   /* fails on overflow */

/* value helpers (jinja_val.c) */
jx_val jv_undef(jx_str *hint);
jx_val jv_none(void);
jx_val jv_bool(int b);
jx_val jv_int(int64_t i);
jx_val jv_float(double f);
jx_val jv_strn(jx *J, const char *p, size_t n);
jx_val jv_str(jx *J, const char *p);
jx_str *jx_strn(jx *J, const char *p, size_t n);
jx_val jv_list(jx *J, size_t n);           /* n items, all none */
jx_val jv_dict(jx *J);
void jx_dict_set(jx *J, jx_dict *d, jx_val k, jx_val v);
int jx_dict_find(jx *J, const jx_dict *d, jx_val k);  /* index or -1 */
int jx_truthy(jx_val v);
int jx_equal(jx *J, jx_val a, jx_val b, int depth);
const char *jx_type_name(jx_val v);

typedef struct jx_buf { char *p; size_t n, cap; } jx_buf;
void jx_buf_put(jx *J, jx_buf *b, const char *s, size_t n);
void jx_buf_putc(jx *J, jx_buf *b, char c);
void jx_buf_printf(jx *J, jx_buf *b, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* str(v) as Python prints it; repr(v) */
void jx_to_str(jx *J, jx_buf *b, jx_val v, int depth);
void jx_repr(jx *J, jx_buf *b, jx_val v, int depth);
jx_str *jx_as_str(jx *J, jx_val v);   /* str(v) as a new string (undefined -> "") */
/* json.dumps(v, ensure_ascii=False, indent, separators, sort_keys) */
void jx_json(jx *J, jx_buf *b, jx_val v, int indent, const char *item_sep,
             const char *key_sep, int sort_keys, int level, size_t pos);
void jx_float_repr(double f, char *buf, size_t cap);

/* UTF-8 helpers */
int jx_utf8_valid(const char *s, size_t n);
size_t jx_utf8_len(const char *s, size_t n);            /* code points */
uint32_t jx_utf8_next(const char *s, size_t n, size_t *i);
void jx_utf8_put(jx *J, jx_buf *b, uint32_t cp);
int jx_py_space(uint32_t cp);
uint32_t jx_cp_upper(jx *J, uint32_t cp);
uint32_t jx_cp_lower(jx *J, uint32_t cp);
int jx_cp_is_alpha(jx *J, uint32_t cp);   /* cased letter, for title() */

/* lexer / parser (jinja_lex.c, jinja_parse.c) */
void jx_lex(jx *J, jx_tok **toks, size_t *n_toks);
jx_node *jx_parse(jx *J, const jx_tok *toks, size_t n_toks);

/* evaluator (jinja_eval.c): renders root with the given top-level variables
 * (a dict of name -> value) into J->out. */
void jx_render(jx *J, jx_node *root, jx_dict *vars);

#endif
