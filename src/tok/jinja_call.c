/* Calls: macros, transformers' globals (raise_exception, strftime_now,
 * namespace, dict), range, loop.cycle, and the str/dict/list methods. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jinja_ev.h"

/* ---------- calls ---------- */

static jx_val jx_call_macro(ev *E, struct jx_macro *m, const args *a, size_t pos)
{
    jx *J = E->J;
    jx_node *def = m->def;
    if (E->calls >= MAX_CALL_DEPTH) jx_fail(J, BD_EINPUT, pos, "macro calls nested too deeply");
    if (a->n_pos > def->n_items)
        jx_fail(J, BD_EINPUT, pos, "TypeError: macro '%s' takes not more than %d argument(s)", def->s, def->n_items);
    jx_frame *f = jx_frame_new(J, m->closure);
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
                v = jv_undef(jx_fmt_str(J, "parameter '%s' was not provided%s", pn, NULL));
            }
        }
        jx_frame_set(J, f, pn, v);
        if (have == 2) {
            /* defaults are evaluated in the macro's own scope, in order */
            jx_frame_set(J, f, pn, jx_eval_node(E, def->items2[i], f));
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
    jx_exec_body(E, def->b, f, &r);
    E->calls--;
    E->out = saved;
    return jv_strn(J, buf.p, buf.n);
}

jx_val jx_call_value(ev *E, jx_val fn, const args *a, size_t pos)
{
    jx *J = E->J;
    if (fn.t == JV_MACRO) return jx_call_macro(E, fn.u.mac, a, pos);
    if (fn.t == JV_UNDEF) jx_fail_undef(J, fn, pos);
    if (fn.t != JV_FUNC) jx_fail(J, BD_EINPUT, pos, "TypeError: '%s' object is not callable", tname(fn));
    int id = fn.u.fn->id;
    jx_val self = fn.u.fn->self;
    jx_val o[4];
    int h[4];
#define BINDF(name_, nreq_, ...) do { static const char *const p_[] = {__VA_ARGS__}; \
    jx_bind(J, pos, name_, p_, (int)(sizeof p_ / sizeof *p_), nreq_, a, o, h); } while (0)
    switch (id) {
    case F_RAISE: {
        BINDF("raise_exception", 1, "message");
        jx_str *m = jx_as_str(J, o[0]);
        bd_fail(J->err, BD_EFAIL, "%s", m->p);
        longjmp(J->jb, 1);
    }
    case F_STRFTIME: {
        BINDF("strftime_now", 1, "format");
        jx_str *fmt = jx_need_str(J, o[0], "format", pos);
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
        if (a->n_pos == 1) sp = jx_need_int(J, a->pos[0], "range()", pos);
        else {
            st = jx_need_int(J, a->pos[0], "range()", pos);
            sp = jx_need_int(J, a->pos[1], "range()", pos);
            if (a->n_pos == 3) sd = jx_need_int(J, a->pos[2], "range()", pos);
        }
        if (sd == 0) jx_fail(J, BD_EINPUT, pos, "ValueError: range() arg 3 must not be zero");
        /* the sandbox caps ranges at 100000 items (MAX_RANGE) */
        double cnt = sd > 0 ? (sp > st ? ceil(((double)sp - (double)st) / (double)sd) : 0)
                            : (st > sp ? ceil(((double)st - (double)sp) / (double)-sd) : 0);
        if (cnt > 100000) jx_fail(J, BD_EINPUT, pos, "OverflowError: Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
        jx_list *l = jx_new_list(J, (size_t)cnt);
        for (size_t i = 0; i < l->n; i++) l->v[i] = jv_int(st + (int64_t)i * sd);
        return jx_list_of(J, l, 0);
    }
    case F_CYCLE: {
        if (!a->n_pos) jx_fail(J, BD_EINPUT, pos, "TypeError: no items for cycling given");
        return a->pos[self.u.loop->index0 % a->n_pos];
    }
    case M_STRIP: case M_LSTRIP: case M_RSTRIP: {
        BINDF("strip", 0, "chars");
        const jx_str *ch = (h[0] && o[0].t != JV_NONE) ? jx_need_str(J, o[0], "strip arg", pos) : NULL;
        return jx_str_strip(J, self.u.s, ch, id != M_RSTRIP, id != M_LSTRIP);
    }
    case M_STARTSWITH: case M_ENDSWITH: {
        if (a->n_pos != 1 || a->n_kw) jx_fail(J, BD_EUNSUP, pos, "startswith/endswith take exactly one argument here");
        return jv_bool(jx_prefix_match(J, self.u.s, a->pos[0], id == M_ENDSWITH, pos));
    }
    case M_SPLIT: case M_RSPLIT: {
        BINDF("split", 0, "sep", "maxsplit");
        int64_t ms = h[1] ? jx_need_int(J, o[1], "maxsplit", pos) : -1;
        return jx_str_split(J, self.u.s, h[0] ? o[0] : jv_none(), ms, id == M_RSPLIT, pos);
    }
    case M_UPPER: case M_LOWER: case M_TITLE: case M_CAPITALIZE:
        if (a->n_pos || a->n_kw) jx_fail(J, BD_EINPUT, pos, "TypeError: takes no arguments");
        return jx_str_case(J, self.u.s, id == M_UPPER ? CASE_UPPER : id == M_LOWER ? CASE_LOWER :
                        id == M_TITLE ? CASE_TITLE : CASE_CAP);
    case M_REPLACE: {
        BINDF("replace", 2, "old", "new", "count");
        int64_t cnt = h[2] ? jx_need_int(J, o[2], "count", pos) : -1;
        return jx_str_replace(J, self.u.s, jx_need_str(J, o[0], "replace arg 1", pos), jx_need_str(J, o[1], "replace arg 2", pos), cnt);
    }
    case M_JOIN: {
        BINDF("join", 1, "iterable");
        jx_list *l = jx_iter_list(J, o[0], pos);
        jx_buf b = {0};
        jx_buf_put(J, &b, "", 0);
        for (size_t i = 0; i < l->n; i++) {
            if (i) jx_buf_put(J, &b, self.u.s->p, self.u.s->n);
            jx_str *s = jx_need_str(J, l->v[i], "sequence item", pos);
            jx_buf_put(J, &b, s->p, s->n);
        }
        return jv_strn(J, b.p, b.n);
    }
    case M_FIND: case M_COUNT: {
        if (a->n_pos != 1 || a->n_kw) jx_fail(J, BD_EUNSUP, pos, "find/count take exactly one argument here");
        jx_str *sub = jx_need_str(J, a->pos[0], "argument", pos);
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
        return jv_bool(jx_str_pred(J, self.u.s, id));
    case M_SPLITLINES:
        if (a->n_pos || a->n_kw) jx_fail(J, BD_EUNSUP, pos, "jx_splitlines(keepends) is not supported");
        return jx_list_of(J, jx_splitlines(J, self.u.s), 0);
    case M_FORMAT: jx_fail(J, BD_EUNSUP, pos, "str.format is not supported");
    case M_ITEMS: case M_KEYS: case M_VALUES: {
        if (a->n_pos || a->n_kw) jx_fail(J, BD_EINPUT, pos, "TypeError: takes no arguments");
        jx_dict *d = self.u.d;
        jx_list *l = jx_new_list(J, d->n);
        for (size_t i = 0; i < d->n; i++) {
            if (id == M_KEYS) l->v[i] = d->k[i];
            else if (id == M_VALUES) l->v[i] = d->v[i];
            else {
                jx_list *p = jx_new_list(J, 2);
                p->v[0] = d->k[i];
                p->v[1] = d->v[i];
                l->v[i] = jx_list_of(J, p, 1);
            }
        }
        return jx_gen_of(J, l, id == M_KEYS ? JF_KEYS : id == M_VALUES ? JF_VALUES : JF_ITEMS);
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

