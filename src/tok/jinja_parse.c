/* Recursive-descent parser of the Jinja2 subset. The expression grammar and
 * precedence follow jinja2's parser (filters and tests bind tighter than
 * arithmetic, '-' binds tighter than '**', comparisons chain, a test may take
 * one argument without parentheses). Unsupported tags fail with BD_EUNSUP
 * naming the tag and its line:col. */
#include <stdio.h>
#include <string.h>

#include "jinja.h"

#define MAX_NEST 100

typedef struct parser {
    jx *J;
    const jx_tok *t;
    size_t n, i;
    int depth;
    int loops;           /* enclosing for loops (a macro body starts at 0) */
} parser;

static const jx_tok *cur(parser *P) { return &P->t[P->i]; }
static const jx_tok *peek(parser *P, size_t k) { return &P->t[P->i + k < P->n ? P->i + k : P->n - 1]; }
static void adv(parser *P) { if (P->i + 1 < P->n) P->i++; }

static int is_op(const jx_tok *t, int op) { return t->type == TK_OP && t->op == op; }
static int is_name(const jx_tok *t, const char *name)
{
    return t->type == TK_NAME && t->n == strlen(name) && memcmp(t->s, name, t->n) == 0;
}

static const char *describe(const jx_tok *t, char *buf, size_t cap)
{
    switch (t->type) {
    case TK_EOF: return "end of template";
    case TK_TEXT: return "template data";
    case TK_VAR_BEGIN: return "'{{'";
    case TK_VAR_END: return "end of print statement";
    case TK_BLOCK_BEGIN: return "'{%'";
    case TK_BLOCK_END: return "end of statement block";
    case TK_NAME: snprintf(buf, cap, "'%.*s'", (int)(t->n < 60 ? t->n : 60), t->s); return buf;
    case TK_STRING: return "string literal";
    case TK_INT: return "integer";
    case TK_FLOAT: return "float";
    default:
        if (t->op < 256) snprintf(buf, cap, "'%c'", t->op);
        else snprintf(buf, cap, "'%s'", t->op == OP_FLOORDIV ? "//" : t->op == OP_POW ? "**" :
                      t->op == OP_EQ ? "==" : t->op == OP_NE ? "!=" : t->op == OP_LE ? "<=" : ">=");
        return buf;
    }
}

_Noreturn static void unexpected(parser *P, const char *expected)
{
    char b[80];
    jx_fail(P->J, BD_EINPUT, cur(P)->pos, "expected %s, got %s", expected, describe(cur(P), b, sizeof b));
}

static void expect_op(parser *P, int op, const char *what)
{
    if (!is_op(cur(P), op)) unexpected(P, what);
    adv(P);
}

static jx_node *node(parser *P, int kind, size_t pos)
{
    jx_node *n = jx_alloc(P->J, sizeof *n);
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->pos = pos;
    return n;
}

/* growable node vectors */
typedef struct nvec { jx_node **v; int n, cap; } nvec;
static void nv_push(parser *P, nvec *a, jx_node *x)
{
    if (a->n == a->cap) {
        int cap = a->cap ? a->cap * 2 : 8;
        if (cap > 1 << 24) jx_fail(P->J, BD_EINPUT, cur(P)->pos, "template too large");
        jx_node **v = jx_alloc(P->J, (size_t)cap * sizeof *v);
        if (a->n) memcpy(v, a->v, (size_t)a->n * sizeof *v);
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = x;
}

static void enter(parser *P)
{
    if (++P->depth > MAX_NEST) jx_fail(P->J, BD_EINPUT, cur(P)->pos, "template nested too deeply");
}

static jx_node *parse_expr(parser *P, int with_condexpr);
static jx_node *parse_tuple(parser *P, int simplified, int with_condexpr, int explicit_parens);
static jx_node *parse_unary(parser *P, int with_filter);
static jx_node *parse_primary(parser *P);
static jx_node *parse_postfix(parser *P, jx_node *n);

static const char *tok_name(parser *P, const jx_tok *t)
{
    char *s = jx_alloc(P->J, t->n + 1);
    memcpy(s, t->s, t->n);
    s[t->n] = 0;
    return s;
}

/* (args, kw=args) after the opening '(' has been seen */
static void parse_call_args(parser *P, jx_node *call)
{
    nvec args = {0}, kwv = {0};
    const char **kwn = NULL;
    int kwcap = 0;
    expect_op(P, '(', "'('");
    while (!is_op(cur(P), ')')) {
        if (args.n || kwv.n) {
            expect_op(P, ',', "','");
            if (is_op(cur(P), ')')) break;
        }
        if (is_op(cur(P), '*') || is_op(cur(P), OP_POW))
            jx_fail(P->J, BD_EUNSUP, cur(P)->pos, "*args / **kwargs in calls are not supported");
        if (cur(P)->type == TK_NAME && is_op(peek(P, 1), '=')) {
            const char *k = tok_name(P, cur(P));
            adv(P);
            adv(P);
            nv_push(P, &kwv, parse_expr(P, 1));
            if (kwv.n > kwcap) {
                int cap = kwcap ? kwcap * 2 : 8;
                const char **nk = jx_alloc(P->J, (size_t)cap * sizeof *nk);
                if (kwcap) memcpy(nk, kwn, (size_t)kwcap * sizeof *nk);
                kwn = nk;
                kwcap = cap;
            }
            kwn[kwv.n - 1] = k;
        } else {
            if (kwv.n) jx_fail(P->J, BD_EINPUT, cur(P)->pos, "positional argument follows keyword argument");
            nv_push(P, &args, parse_expr(P, 1));
        }
    }
    adv(P);
    call->items = args.v;
    call->n_items = args.n;
    call->items2 = kwv.v;
    call->n_items2 = kwv.n;
    call->kw = kwn;
}

static jx_node *parse_filter(parser *P, jx_node *obj)
{
    /* after '|' */
    while (1) {
        const jx_tok *t = cur(P);
        if (t->type != TK_NAME) unexpected(P, "filter name");
        jx_node *f = node(P, E_FILTER, t->pos);
        f->s = tok_name(P, t);
        adv(P);
        if (is_op(cur(P), '.'))
            jx_fail(P->J, BD_EUNSUP, cur(P)->pos, "dotted filter names are not supported");
        f->a = obj;
        if (is_op(cur(P), '(')) parse_call_args(P, f);
        obj = f;
        if (is_op(cur(P), '|')) { adv(P); continue; }
        return obj;
    }
}

static jx_node *parse_test(parser *P, jx_node *obj)
{
    size_t pos = cur(P)->pos;
    adv(P);   /* 'is' */
    int neg = 0;
    if (is_name(cur(P), "not")) { neg = 1; adv(P); }
    const jx_tok *t = cur(P);
    if (t->type != TK_NAME) unexpected(P, "test name");
    jx_node *n = node(P, E_TEST, pos);
    n->s = tok_name(P, t);
    adv(P);
    if (is_op(cur(P), '.')) jx_fail(P->J, BD_EUNSUP, cur(P)->pos, "dotted test names are not supported");
    n->a = obj;
    const jx_tok *c = cur(P);
    if (is_op(c, '(')) {
        parse_call_args(P, n);
    } else if ((c->type == TK_NAME || c->type == TK_STRING || c->type == TK_INT || c->type == TK_FLOAT ||
                is_op(c, '[') || is_op(c, '{')) &&
               !is_name(c, "else") && !is_name(c, "or") && !is_name(c, "and")) {
        if (is_name(c, "is")) jx_fail(P->J, BD_EINPUT, c->pos, "You cannot chain multiple tests with is");
        jx_node *arg = parse_postfix(P, parse_primary(P));
        n->items = jx_alloc(P->J, sizeof *n->items);
        n->items[0] = arg;
        n->n_items = 1;
    }
    if (neg) {
        jx_node *x = node(P, E_NOT, pos);
        x->a = n;
        return x;
    }
    return n;
}

static jx_node *parse_filter_expr(parser *P, jx_node *n)
{
    while (1) {
        if (is_op(cur(P), '|')) { adv(P); n = parse_filter(P, n); }
        else if (is_name(cur(P), "is")) n = parse_test(P, n);
        else if (is_op(cur(P), '(')) {
            jx_node *c = node(P, E_CALL, cur(P)->pos);
            c->a = n;
            parse_call_args(P, c);
            n = c;
        } else return n;
    }
}

static jx_node *parse_subscribed(parser *P)
{
    size_t pos = cur(P)->pos;
    jx_node *args[3] = {0};
    if (is_op(cur(P), ':')) {
        adv(P);
    } else {
        jx_node *e = parse_expr(P, 1);
        if (!is_op(cur(P), ':')) return e;
        adv(P);
        args[0] = e;
    }
    if (!is_op(cur(P), ']') && !is_op(cur(P), ',') && !is_op(cur(P), ':')) args[1] = parse_expr(P, 1);
    if (is_op(cur(P), ':')) {
        adv(P);
        if (!is_op(cur(P), ']') && !is_op(cur(P), ',')) args[2] = parse_expr(P, 1);
    }
    jx_node *s = node(P, E_SLICE, pos);
    s->b = args[0];
    s->c = args[1];
    s->d = args[2];
    return s;
}

static jx_node *parse_postfix(parser *P, jx_node *n)
{
    while (1) {
        const jx_tok *t = cur(P);
        if (is_op(t, '.')) {
            adv(P);
            const jx_tok *a = cur(P);
            if (a->type == TK_NAME) {
                jx_node *g = node(P, E_GETATTR, t->pos);
                g->a = n;
                g->s = tok_name(P, a);
                g->n = a->n;
                adv(P);
                n = g;
            } else if (a->type == TK_INT) {
                jx_node *g = node(P, E_GETITEM, t->pos);
                g->a = n;
                g->b = node(P, E_CONST, a->pos);
                g->b->v = jv_int(a->i);
                adv(P);
                n = g;
            } else unexpected(P, "name or number");
        } else if (is_op(t, '[')) {
            adv(P);
            enter(P);
            nvec args = {0};
            while (!is_op(cur(P), ']')) {
                if (args.n) expect_op(P, ',', "','");
                if (is_op(cur(P), ']')) break;
                nv_push(P, &args, parse_subscribed(P));
            }
            adv(P);
            P->depth--;
            jx_node *key;
            if (args.n == 1) key = args.v[0];
            else {
                key = node(P, E_TUPLE, t->pos);
                key->items = args.v;
                key->n_items = args.n;
            }
            if (key->kind == E_SLICE) {
                key->a = n;
                n = key;
            } else {
                jx_node *g = node(P, E_GETITEM, t->pos);
                g->a = n;
                g->b = key;
                n = g;
            }
        } else if (is_op(t, '(')) {
            jx_node *c = node(P, E_CALL, t->pos);
            c->a = n;
            parse_call_args(P, c);
            n = c;
        } else return n;
    }
}

static jx_node *parse_primary(parser *P)
{
    const jx_tok *t = cur(P);
    jx_node *n;
    enter(P);
    if (t->type == TK_NAME) {
        n = node(P, E_CONST, t->pos);
        if (is_name(t, "true") || is_name(t, "True")) n->v = jv_bool(1);
        else if (is_name(t, "false") || is_name(t, "False")) n->v = jv_bool(0);
        else if (is_name(t, "none") || is_name(t, "None")) n->v = jv_none();
        else {
            n->kind = E_NAME;
            n->s = tok_name(P, t);
            n->n = t->n;
        }
        adv(P);
    } else if (t->type == TK_STRING) {
        jx_buf b = {0};
        jx_buf_put(P->J, &b, "", 0);
        while (cur(P)->type == TK_STRING) {
            jx_buf_put(P->J, &b, cur(P)->s, cur(P)->n);
            adv(P);
        }
        n = node(P, E_CONST, t->pos);
        n->v.t = JV_STR;
        n->v.u.s = jx_strn(P->J, b.p, b.n);
    } else if (t->type == TK_INT || t->type == TK_FLOAT) {
        n = node(P, E_CONST, t->pos);
        n->v = t->type == TK_INT ? jv_int(t->i) : jv_float(t->f);
        adv(P);
    } else if (is_op(t, '(')) {
        adv(P);
        n = parse_tuple(P, 0, 1, 1);
        expect_op(P, ')', "')'");
    } else if (is_op(t, '[')) {
        adv(P);
        nvec items = {0};
        while (!is_op(cur(P), ']')) {
            if (items.n) expect_op(P, ',', "','");
            if (is_op(cur(P), ']')) break;
            nv_push(P, &items, parse_expr(P, 1));
        }
        adv(P);
        n = node(P, E_LIST, t->pos);
        n->items = items.v;
        n->n_items = items.n;
    } else if (is_op(t, '{')) {
        adv(P);
        nvec keys = {0}, vals = {0};
        while (!is_op(cur(P), '}')) {
            if (keys.n) expect_op(P, ',', "','");
            if (is_op(cur(P), '}')) break;
            nv_push(P, &keys, parse_expr(P, 1));
            expect_op(P, ':', "':'");
            nv_push(P, &vals, parse_expr(P, 1));
        }
        adv(P);
        n = node(P, E_DICT, t->pos);
        n->items = keys.v;
        n->n_items = keys.n;
        n->items2 = vals.v;
        n->n_items2 = vals.n;
    } else {
        char b[80];
        jx_fail(P->J, BD_EINPUT, t->pos, "unexpected %s", describe(t, b, sizeof b));
    }
    P->depth--;
    return n;
}

static jx_node *parse_unary(parser *P, int with_filter)
{
    const jx_tok *t = cur(P);
    jx_node *n;
    enter(P);
    if (is_op(t, '-') || is_op(t, '+')) {
        adv(P);
        n = node(P, is_op(t, '-') ? E_NEG : E_POS, t->pos);
        n->a = parse_unary(P, 0);
    } else {
        n = parse_primary(P);
    }
    n = parse_postfix(P, n);
    if (with_filter) n = parse_filter_expr(P, n);
    P->depth--;
    return n;
}

static jx_node *binop(parser *P, int op, size_t pos, jx_node *a, jx_node *b)
{
    jx_node *n = node(P, E_BIN, pos);
    n->op = op;
    n->a = a;
    n->b = b;
    return n;
}

static jx_node *parse_pow(parser *P)
{
    jx_node *l = parse_unary(P, 1);
    while (is_op(cur(P), OP_POW)) {
        size_t pos = cur(P)->pos;
        adv(P);
        l = binop(P, OP_POW, pos, l, parse_unary(P, 1));
    }
    return l;
}

static jx_node *parse_math2(parser *P)
{
    jx_node *l = parse_pow(P);
    while (is_op(cur(P), '*') || is_op(cur(P), '/') || is_op(cur(P), OP_FLOORDIV) || is_op(cur(P), '%')) {
        int op = cur(P)->op;
        size_t pos = cur(P)->pos;
        adv(P);
        l = binop(P, op, pos, l, parse_pow(P));
    }
    return l;
}

static jx_node *parse_concat(parser *P)
{
    jx_node *first = parse_math2(P);
    if (!is_op(cur(P), '~')) return first;
    nvec v = {0};
    nv_push(P, &v, first);
    size_t pos = cur(P)->pos;
    while (is_op(cur(P), '~')) {
        adv(P);
        nv_push(P, &v, parse_math2(P));
    }
    jx_node *n = node(P, E_CONCAT, pos);
    n->items = v.v;
    n->n_items = v.n;
    return n;
}

static jx_node *parse_math1(parser *P)
{
    jx_node *l = parse_concat(P);
    while (is_op(cur(P), '+') || is_op(cur(P), '-')) {
        int op = cur(P)->op;
        size_t pos = cur(P)->pos;
        adv(P);
        l = binop(P, op, pos, l, parse_concat(P));
    }
    return l;
}

enum { CMP_EQ = 1, CMP_NE, CMP_LT, CMP_LE, CMP_GT, CMP_GE, CMP_IN, CMP_NOTIN };

static jx_node *parse_compare(parser *P)
{
    size_t pos = cur(P)->pos;
    jx_node *first = parse_math1(P);
    nvec ops = {0};
    int opv[64];
    int nops = 0;
    while (1) {
        const jx_tok *t = cur(P);
        int op = 0;
        if (is_op(t, OP_EQ)) op = CMP_EQ;
        else if (is_op(t, OP_NE)) op = CMP_NE;
        else if (is_op(t, '<')) op = CMP_LT;
        else if (is_op(t, OP_LE)) op = CMP_LE;
        else if (is_op(t, '>')) op = CMP_GT;
        else if (is_op(t, OP_GE)) op = CMP_GE;
        else if (is_name(t, "in")) op = CMP_IN;
        else if (is_name(t, "not") && is_name(peek(P, 1), "in")) { op = CMP_NOTIN; adv(P); }
        if (!op) break;
        adv(P);
        if (nops >= 64) jx_fail(P->J, BD_EUNSUP, t->pos, "too many chained comparisons");
        opv[nops++] = op;
        nv_push(P, &ops, parse_math1(P));
    }
    if (!nops) return first;
    jx_node *n = node(P, E_CMP, pos);
    n->a = first;
    n->items = ops.v;
    n->n_items = ops.n;
    n->ops = jx_alloc(P->J, (size_t)nops * sizeof(int));
    memcpy(n->ops, opv, (size_t)nops * sizeof(int));
    return n;
}

static jx_node *parse_not(parser *P)
{
    if (is_name(cur(P), "not")) {
        jx_node *n = node(P, E_NOT, cur(P)->pos);
        adv(P);
        enter(P);
        n->a = parse_not(P);
        P->depth--;
        return n;
    }
    return parse_compare(P);
}

static jx_node *parse_and(parser *P)
{
    jx_node *l = parse_not(P);
    while (is_name(cur(P), "and")) {
        jx_node *n = node(P, E_AND, cur(P)->pos);
        adv(P);
        n->a = l;
        n->b = parse_not(P);
        l = n;
    }
    return l;
}

static jx_node *parse_or(parser *P)
{
    jx_node *l = parse_and(P);
    while (is_name(cur(P), "or")) {
        jx_node *n = node(P, E_OR, cur(P)->pos);
        adv(P);
        n->a = l;
        n->b = parse_and(P);
        l = n;
    }
    return l;
}

static jx_node *parse_condexpr(parser *P)
{
    enter(P);
    jx_node *e1 = parse_or(P);
    while (is_name(cur(P), "if")) {
        jx_node *n = node(P, E_COND, cur(P)->pos);
        adv(P);
        n->a = parse_or(P);     /* condition */
        n->b = e1;              /* value if true */
        if (is_name(cur(P), "else")) {
            adv(P);
            n->c = parse_condexpr(P);
        }
        e1 = n;
    }
    P->depth--;
    return e1;
}

static jx_node *parse_expr(parser *P, int with_condexpr)
{
    return with_condexpr ? parse_condexpr(P) : parse_or(P);
}

static int tuple_end(parser *P)
{
    const jx_tok *t = cur(P);
    return t->type == TK_VAR_END || t->type == TK_BLOCK_END || is_op(t, ')') || t->type == TK_EOF ||
           is_name(t, "in") || is_name(t, "if") || is_name(t, "recursive") || is_op(t, '=');
}

static jx_node *parse_tuple(parser *P, int simplified, int with_condexpr, int explicit_parens)
{
    size_t pos = cur(P)->pos;
    nvec items = {0};
    int is_tuple = 0;
    while (1) {
        if (items.n) expect_op(P, ',', "','");
        if (tuple_end(P)) break;
        jx_node *e = simplified ? parse_primary(P) : parse_expr(P, with_condexpr);
        nv_push(P, &items, e);
        if (is_op(cur(P), ',')) is_tuple = 1;
        else break;
    }
    if (!is_tuple) {
        if (items.n) return items.v[0];
        if (!explicit_parens) unexpected(P, "an expression");
    }
    jx_node *n = node(P, E_TUPLE, pos);
    n->items = items.v;
    n->n_items = items.n;
    return n;
}

/* ---- statements ---- */
static jx_node *parse_body(parser *P, const char *const *ends, const char **end_found);

static void expect_block_end(parser *P)
{
    if (cur(P)->type != TK_BLOCK_END) unexpected(P, "end of statement block");
    adv(P);
}

static jx_node *parse_assign_target(parser *P, int with_ns)
{
    const jx_tok *t = cur(P);
    if (with_ns && t->type == TK_NAME && is_op(peek(P, 1), '.') && peek(P, 2)->type == TK_NAME) {
        jx_node *n = node(P, E_NSREF, t->pos);
        n->s = tok_name(P, t);
        adv(P);
        adv(P);
        n->b = node(P, E_CONST, cur(P)->pos);
        n->b->v = jv_strn(P->J, cur(P)->s, cur(P)->n);
        adv(P);
        return n;
    }
    jx_node *target = parse_tuple(P, 1, 0, 0);
    if (target->kind == E_TUPLE) {
        for (int i = 0; i < target->n_items; i++)
            if (target->items[i]->kind != E_NAME)
                jx_fail(P->J, BD_EINPUT, target->items[i]->pos, "can't assign to this expression");
    } else if (target->kind != E_NAME) {
        jx_fail(P->J, BD_EINPUT, target->pos, "can't assign to this expression");
    }
    return target;
}

static jx_node *parse_for(parser *P, size_t pos)
{
    jx_node *n = node(P, N_FOR, pos);
    n->a = parse_assign_target(P, 0);
    if (!is_name(cur(P), "in")) unexpected(P, "'in'");
    adv(P);
    n->b = parse_tuple(P, 0, 0, 0);
    if (is_name(cur(P), "if")) {
        adv(P);
        n->c = parse_expr(P, 1);
    }
    if (is_name(cur(P), "recursive"))
        jx_fail(P->J, BD_EUNSUP, cur(P)->pos, "recursive for loops are not supported");
    expect_block_end(P);
    static const char *const e1[] = {"endfor", "else", NULL};
    static const char *const e2[] = {"endfor", NULL};
    const char *found;
    P->loops++;
    n->d = parse_body(P, e1, &found);
    P->loops--;
    if (strcmp(found, "else") == 0) {
        jx_node *eb = parse_body(P, e2, &found);
        n->items2 = jx_alloc(P->J, sizeof *n->items2);
        n->items2[0] = eb;
        n->n_items2 = 1;
    }
    return n;
}

static jx_node *parse_if(parser *P, size_t pos)
{
    static const char *const ends[] = {"elif", "else", "endif", NULL};
    static const char *const e2[] = {"endif", NULL};
    jx_node *top = node(P, N_IF, pos), *n = top;
    n->a = parse_tuple(P, 0, 1, 0);
    expect_block_end(P);
    while (1) {
        const char *found;
        n->b = parse_body(P, ends, &found);
        if (strcmp(found, "elif") == 0) {
            jx_node *e = node(P, N_IF, cur(P)->pos);
            e->a = parse_tuple(P, 0, 1, 0);
            expect_block_end(P);
            n->c = e;
            n = e;
            continue;
        }
        if (strcmp(found, "else") == 0) n->c = parse_body(P, e2, &found);
        return top;
    }
}

static jx_node *parse_set(parser *P, size_t pos)
{
    jx_node *target = parse_assign_target(P, 1);
    if (is_op(cur(P), '=')) {
        adv(P);
        jx_node *n = node(P, N_SET, pos);
        n->a = target;
        n->b = parse_tuple(P, 0, 1, 0);
        expect_block_end(P);
        return n;
    }
    jx_node *n = node(P, N_SETBLOCK, pos);
    n->a = target;
    if (is_op(cur(P), '|')) {
        adv(P);
        n->c = parse_filter(P, NULL);
    }
    expect_block_end(P);
    static const char *const ends[] = {"endset", NULL};
    const char *found;
    n->b = parse_body(P, ends, &found);
    return n;
}

static jx_node *parse_macro(parser *P, size_t pos)
{
    jx_node *n = node(P, N_MACRO, pos);
    if (cur(P)->type != TK_NAME) unexpected(P, "macro name");
    n->s = tok_name(P, cur(P));
    adv(P);
    expect_op(P, '(', "'('");
    nvec params = {0}, defs = {0};
    while (!is_op(cur(P), ')')) {
        if (params.n) expect_op(P, ',', "','");
        if (cur(P)->type != TK_NAME) unexpected(P, "parameter name");
        jx_node *p = node(P, E_NAME, cur(P)->pos);
        p->s = tok_name(P, cur(P));
        adv(P);
        nv_push(P, &params, p);
        if (is_op(cur(P), '=')) {
            adv(P);
            nv_push(P, &defs, parse_expr(P, 1));
        } else {
            if (defs.n) jx_fail(P->J, BD_EINPUT, p->pos, "non-default argument follows default argument");
            nv_push(P, &defs, NULL);
        }
    }
    adv(P);
    expect_block_end(P);
    n->items = params.v;
    n->n_items = params.n;
    n->items2 = defs.v;
    n->n_items2 = defs.n;
    static const char *const ends[] = {"endmacro", NULL};
    const char *found;
    int loops = P->loops;
    P->loops = 0;
    n->b = parse_body(P, ends, &found);
    P->loops = loops;
    return n;
}

static jx_node *parse_statement(parser *P, size_t tag_pos)
{
    const jx_tok *t = cur(P);
    size_t pos = tag_pos;
    if (t->type != TK_NAME) unexpected(P, "a tag name");
    adv(P);
    enter(P);
    jx_node *n;
    if (is_name(t, "for")) n = parse_for(P, pos);
    else if (is_name(t, "if")) n = parse_if(P, pos);
    else if (is_name(t, "set")) n = parse_set(P, pos);
    else if (is_name(t, "macro")) n = parse_macro(P, pos);
    else if (is_name(t, "break") || is_name(t, "continue")) {
        n = node(P, is_name(t, "break") ? N_BREAK : N_CONTINUE, pos);
        if (!P->loops) jx_fail(P->J, BD_EINPUT, pos, "'%s' outside loop", is_name(t, "break") ? "break" : "continue");
        expect_block_end(P);
    } else if (is_name(t, "generation")) {
        /* transformers' assistant-mask tag: renders its body unchanged */
        expect_block_end(P);
        static const char *const ends[] = {"endgeneration", NULL};
        const char *found;
        n = parse_body(P, ends, &found);
    } else {
        static const char *const known[] = {"extends", "block", "include", "import", "from", "with",
                                            "autoescape", "call", "filter", "do", "trans", NULL};
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(t->n < 60 ? t->n : 60), t->s);
        for (int i = 0; known[i]; i++)
            if (strcmp(name, known[i]) == 0) jx_fail(P->J, BD_EUNSUP, tag_pos, "unsupported tag '%s'", name);
        jx_fail(P->J, BD_EINPUT, tag_pos, "Encountered unknown tag '%s'", name);
    }
    P->depth--;
    return n;
}

/* Parses until a {% name %} with name in ends (consumed with its tag
 * remainder left for the caller, except the final end tags whose block end
 * is consumed), or to the end of the template when ends is NULL. */
static jx_node *parse_body(parser *P, const char *const *ends, const char **end_found)
{
    nvec v = {0};
    size_t pos = cur(P)->pos;
    enter(P);
    while (1) {
        const jx_tok *t = cur(P);
        if (t->type == TK_EOF) {
            if (ends) {
                char b[200];
                size_t k = 0;
                for (int i = 0; ends[i] && k < sizeof b - 20; i++)
                    k += (size_t)snprintf(b + k, sizeof b - k, "%s'%s'", i ? " or " : "", ends[i]);
                jx_fail(P->J, BD_EINPUT, t->pos, "unexpected end of template, expected %s", b);
            }
            break;
        }
        if (t->type == TK_TEXT) {
            jx_node *n = node(P, N_TEXT, t->pos);
            n->s = t->s;
            n->n = t->n;
            nv_push(P, &v, n);
            adv(P);
        } else if (t->type == TK_VAR_BEGIN) {
            adv(P);
            jx_node *n = node(P, N_OUTPUT, t->pos);
            n->a = parse_tuple(P, 0, 1, 0);
            if (cur(P)->type != TK_VAR_END) unexpected(P, "end of print statement");
            adv(P);
            nv_push(P, &v, n);
        } else if (t->type == TK_BLOCK_BEGIN) {
            const jx_tok *nm = peek(P, 1);
            if (ends && nm->type == TK_NAME) {
                int hit = -1;
                for (int i = 0; ends[i]; i++)
                    if (is_name(nm, ends[i])) { hit = i; break; }
                if (hit >= 0) {
                    adv(P);
                    adv(P);
                    *end_found = ends[hit];
                    /* end tags take no arguments; elif keeps its condition */
                    if (strcmp(ends[hit], "elif") != 0) expect_block_end(P);
                    break;
                }
            }
            adv(P);
            nv_push(P, &v, parse_statement(P, t->pos));
        } else {
            unexpected(P, "template data or a tag");
        }
    }
    P->depth--;
    jx_node *b = node(P, N_BODY, pos);
    b->items = v.v;
    b->n_items = v.n;
    return b;
}

jx_node *jx_parse(jx *J, const jx_tok *toks, size_t n_toks)
{
    parser P = {J, toks, n_toks, 0, 0, 0};
    const char *found = NULL;
    return parse_body(&P, NULL, &found);
}
