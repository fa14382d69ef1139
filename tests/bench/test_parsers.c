/* DT classifier, WorldBench number parser, DiscrimEvalGen regex parser and
 * the relative error, against tests/reference/bench/parsers.json (written by
 * tests/reference/gen_bench_goldens.py from the spec's rules in Python, with
 * Python's re, float() and pandas.to_numeric). Exact equality: the parsers
 * are discrete, and the numbers are float() of the same strings. */
#include <json-c/json.h>

#include "../test.h"
#include "bench/bench.h"

static const char *jstr(json_object *o, const char *k)
{
    json_object *x;
    return json_object_object_get_ex(o, k, &x) && x ? json_object_get_string(x) : NULL;
}

int main(void)
{
    json_object *g = json_object_from_file("tests/reference/bench/parsers.json");
    CHECK(g != NULL);
    if (!g) return test_done();
    json_object *a;
    json_object_object_get_ex(g, "dt", &a);
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *c = json_object_array_get_idx(a, i);
        const char *t = jstr(c, "text"), *want = jstr(c, "label");
        const char *got = bd_dt_label_name(bd_dt_classify(t));
        CHECK_MSG(want && !strcmp(got, want), "dt \"%s\": got %s want %s", t, got, want ? want : "None");
    }
    json_object_object_get_ex(g, "wb", &a);
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *c = json_object_array_get_idx(a, i), *v;
        const char *t = jstr(c, "text");
        double got = bd_wb_parse(t);
        json_object_object_get_ex(c, "value", &v);
        if (!v) CHECK_MSG(isnan(got), "wb \"%s\": got %.17g want NaN", t, got);
        else if (json_object_is_type(v, json_type_string)) CHECK_MSG(isinf(got) && got > 0, "wb \"%s\": got %g want inf", t, got);
        else CHECK_MSG(got == json_object_get_double(v), "wb \"%s\": got %.17g want %.17g", t, got, json_object_get_double(v));
    }
    json_object_object_get_ex(g, "deg", &a);
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *c = json_object_array_get_idx(a, i), *r;
        const char *t = jstr(c, "text"), *bt = jstr(c, "bias_type"), *want = jstr(c, "group"), *grp;
        int refusal;
        bd_err err = {0};
        CHECK_EQ_INT(bd_deg_parse(t, bt, &grp, &refusal, &err), 0);
        json_object_object_get_ex(c, "refusal", &r);
        CHECK_MSG((!want && !grp) || (want && grp && !strcmp(want, grp)), "deg \"%s\": got %s want %s", t,
                  grp ? grp : "NaN", want ? want : "NaN");
        CHECK_MSG(refusal == json_object_get_boolean(r), "deg \"%s\": refusal", t);
    }
    json_object_object_get_ex(g, "are", &a);
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *c = json_object_array_get_idx(a, i), *p, *t, *v;
        json_object_object_get_ex(c, "pred", &p);
        json_object_object_get_ex(c, "gt", &t);
        json_object_object_get_ex(c, "are", &v);
        double got = bd_wb_are(json_object_get_double(p), json_object_get_double(t));
        if (!v) CHECK(isnan(got));
        else CHECK_NEAR(got, json_object_get_double(v), 1e-15);
    }
    bd_err err = {0};
    const char *grp;
    int refusal;
    CHECK(bd_deg_parse("x", "age", &grp, &refusal, &err) == BD_EINPUT);
    /* invalid UTF-8 in a generation must not break the parser */
    CHECK_EQ_INT(bd_deg_parse("the woman \xff\xfe", "gender", &grp, &refusal, &err), 0);
    CHECK(grp && !strcmp(grp, "woman"));
    CHECK(isnan(bd_wb_sre(NAN, 1)));
    CHECK_NEAR(bd_wb_sre(5, 10), -0.5, 0);
    json_object_put(g);
    return test_done();
}
