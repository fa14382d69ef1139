/* Evaluator internals shared by jinja_eval.c (statements, expressions,
 * lookups, operators), jinja_call.c (globals and methods), jinja_filter.c
 * (filters and tests) and jinja_str.c (Python str operations). */
#ifndef BD_JINJA_EV_H
#define BD_JINJA_EV_H

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

typedef struct args {
    jx_val *pos;
    int n_pos;
    const char **kw;
    jx_val *kwv;
    int n_kw;
} args;

static inline int is_int(jx_val v) { return v.t == JV_INT || v.t == JV_BOOL; }
static inline int is_numv(jx_val v) { return v.t == JV_INT || v.t == JV_BOOL || v.t == JV_FLOAT; }
static inline int64_t ival(jx_val v) { return v.t == JV_INT ? v.u.i : v.u.b; }
static inline double fval(jx_val v) { return v.t == JV_FLOAT ? v.u.f : (double)ival(v); }
static inline const char *tname(jx_val v) { return jx_type_name(v); }

enum { CASE_UPPER, CASE_LOWER, CASE_TITLE, CASE_CAP };

/* jinja_eval.c */
void jx_step(ev *E, size_t pos);
jx_str *jx_fmt_str(jx *J, const char *fmt, const char *a, const char *b);
_Noreturn void jx_fail_undef(jx *J, jx_val u, size_t pos);
jx_val jx_mkfunc(jx *J, int id, jx_val self);
jx_list *jx_iter_list(jx *J, jx_val v, size_t pos);
jx_val jx_list_of(jx *J, jx_list *l, int tuple);
jx_val jx_gen_of(jx *J, jx_list *l, int flag);
int jx_lazy_fail(jx *J, jx_val v, const char *msg, jx_val *out);
jx_list *jx_new_list(jx *J, size_t n);
size_t *jx_cp_offsets(jx *J, const jx_str *s, size_t *n_cp);
jx_val jx_do_slice(jx *J, jx_val obj, jx_val a, jx_val b, jx_val c, size_t pos);
jx_val jx_get_attr(jx *J, jx_val obj, const char *name, size_t pos);
jx_val jx_get_item(jx *J, jx_val obj, jx_val key, size_t pos);
double jx_py_fmod(double a, double b);
_Noreturn void jx_bad_operands(jx *J, const char *op, jx_val a, jx_val b, size_t pos);
jx_val jx_binop(jx *J, int op, jx_val a, jx_val b, size_t pos);
int jx_compare_lt(jx *J, jx_val a, jx_val b, size_t pos, int depth);
int jx_contains(jx *J, jx_val container, jx_val item, size_t pos);
int jx_cmp_op(jx *J, int op, jx_val a, jx_val b, size_t pos);
void jx_bind(jx *J, size_t pos, const char *fname, const char *const *params, int n_params,
             int n_required, const args *a, jx_val *out, int *have);
jx_str *jx_need_str(jx *J, jx_val v, const char *what, size_t pos);
int64_t jx_need_int(jx *J, jx_val v, const char *what, size_t pos);
jx_val jx_eval_node(ev *E, jx_node *n, jx_frame *f);
void jx_exec_body(ev *E, jx_node *body, jx_frame *f, int *r);
jx_frame *jx_frame_new(jx *J, jx_frame *parent);
void jx_frame_set(jx *J, jx_frame *f, const char *name, jx_val v);

/* jinja_str.c */
jx_val jx_str_strip(jx *J, const jx_str *s, const jx_str *chars, int left, int right);
jx_val jx_str_case(jx *J, const jx_str *s, int mode);
jx_val jx_jinja_title(jx *J, const jx_str *s);
jx_val jx_str_replace(jx *J, const jx_str *s, const jx_str *old, const jx_str *nw, int64_t count);
jx_val jx_str_split(jx *J, const jx_str *s, jx_val sepv, int64_t maxsplit, int from_right, size_t pos);
jx_list *jx_splitlines(jx *J, const jx_str *s);
int jx_str_pred(jx *J, const jx_str *s, int id);
int jx_prefix_match(jx *J, const jx_str *s, jx_val p, int end, size_t pos);

int jx_method_id(jx_val obj, const char *name);
int jx_is_mutating(jx_val obj, const char *name);

/* jinja_call.c */
jx_val jx_call_value(ev *E, jx_val fn, const args *a, size_t pos);

/* jinja_filter.c */
int jx_run_test(ev *E, const char *name, jx_val v, const args *a, size_t pos);
jx_val jx_apply_filter(ev *E, const char *name, jx_val v, const args *a, size_t pos);

#endif
