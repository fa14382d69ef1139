/* CSV reader and Python-literal parser: the quoting, BOM, CRLF and error
 * cases of the published files, checked against hand-written expectations. */
#include <json-c/json.h>

#include "../test.h"
#include "bench/csv.h"
#include "bench/pylit.h"

static void test_csv(void)
{
    bd_err err = {0};
    bd_csv *c;
    const char bom[] = "\xEF\xBB\xBF" ",a,\"b \"\"q\"\"\"\r\n0,\"x, y\",\"line1\nline2\"\r\n1,plain,\r\n\r\n2,\"\",z";
    CHECK_EQ_INT(bd_csv_parse(bom, sizeof bom - 1, "t.csv", &c, &err), 0);
    if (c) {
        CHECK_EQ_INT(c->n_cols, 3);
        CHECK_STR(c->header[0], "");
        CHECK_STR(c->header[2], "b \"q\"");
        CHECK_EQ_INT(c->n_rows, 3);
        CHECK_STR(c->rows[0][1], "x, y");
        CHECK_STR(c->rows[0][2], "line1\nline2");
        CHECK_STR(c->rows[1][1], "plain");
        CHECK_STR(c->rows[1][2], "");
        CHECK_STR(c->rows[2][0], "2");
        CHECK_STR(c->rows[2][1], "");
        CHECK_STR(c->rows[2][2], "z");
        CHECK_EQ_INT(c->line[0], 2);
        CHECK_EQ_INT(c->line[1], 4);
        CHECK_EQ_INT(c->line[2], 6);
        CHECK_EQ_INT(bd_csv_col(c, "a"), 1);
        CHECK_EQ_INT(bd_csv_col(c, "nope"), -1);
        int col;
        CHECK(bd_csv_need(c, "nope", &col, &err) == BD_EINPUT && strstr(err.msg, "missing column 'nope'"));
        bd_csv_free(c);
    }
    const char unterminated[] = "a,b\n1,\"open\n2,3\n";
    CHECK(bd_csv_parse(unterminated, sizeof unterminated - 1, "u.csv", &c, &err) == BD_EINPUT);
    CHECK_MSG(strstr(err.msg, "u.csv: line 2: quoted field never closed") != NULL, "%s", err.msg);
    const char wide[] = "a,b\n1,2\n1,2,3\n";
    CHECK(bd_csv_parse(wide, sizeof wide - 1, "w.csv", &c, &err) == BD_EINPUT);
    CHECK_MSG(strstr(err.msg, "w.csv: line 3: 3 cells") != NULL, "%s", err.msg);
    const char stray[] = "a\n\"x\"y\n";
    CHECK(bd_csv_parse(stray, sizeof stray - 1, "s.csv", &c, &err) == BD_EINPUT);
    CHECK(bd_csv_parse("", 0, "e.csv", &c, &err) == BD_EINPUT);
    CHECK(bd_csv_read("tests/fixtures/no-such.csv", &c, &err) == BD_EINPUT);
    CHECK(strstr(err.msg, "no-such.csv") != NULL);
    /* the real files: row counts as the manifest gives them */
    if (bd_csv_read("../shared/datasets/discrimevalgen/discrim_eval_gen.csv", &c, &err) == 0) {
        CHECK_EQ_INT(c->n_rows, 140);
        int p = bd_csv_col(c, "prompt");
        CHECK(p >= 0 && strstr(c->rows[0][p], "\nThe individuals are: a man, a woman, a non-binary person. \n"));
        bd_csv_free(c);
    } else {
        CHECK_MSG(0, "%s", err.msg);
    }
    if (bd_csv_read("../shared/datasets/crows_pairs/crows_pairs_anonymized.csv", &c, &err) == 0) {
        CHECK_EQ_INT(c->n_rows, 1508);
        bd_csv_free(c);
    }
    if (bd_csv_read("../shared/datasets/worldbench/upstream/gt_answers/population.csv", &c, &err) == 0) {
        /* BOM + CRLF + 4 metadata lines: the first "header" is the source line */
        CHECK_STR(c->header[0], "Data Source");
        bd_csv_free(c);
    }
}

static void test_pylit(void)
{
    bd_err err = {0};
    json_object *o;
    CHECK_EQ_INT(bd_pylit_parse("defaultdict(<class 'list'>, {'Belgium': [0.21, 0.79], \"Cote d'Ivoire\": [1e-05, 1]})",
                                "sel", &o, &err), 0);
    if (o) {
        json_object *b, *c;
        CHECK(json_object_object_get_ex(o, "Belgium", &b) && json_object_array_length(b) == 2);
        CHECK(json_object_object_get_ex(o, "Cote d'Ivoire", &c));
        if (c) CHECK_NEAR(json_object_get_double(json_object_array_get_idx(c, 0)), 1e-5, 0);
        json_object_put(o);
    }
    CHECK_EQ_INT(bd_pylit_parse("['Don\\'t know', \"A \\\"q\\\"\", 'caf\\xe9 \\u00e9\\n']", "opts", &o, &err), 0);
    if (o) {
        CHECK_STR(json_object_get_string(json_object_array_get_idx(o, 0)), "Don't know");
        CHECK_STR(json_object_get_string(json_object_array_get_idx(o, 1)), "A \"q\"");
        CHECK_STR(json_object_get_string(json_object_array_get_idx(o, 2)), "caf\xc3\xa9 \xc3\xa9\n");
        json_object_put(o);
    }
    CHECK_EQ_INT(bd_pylit_parse("('What is it?  Q', '8,703,771')", "ex", &o, &err), 0);
    if (o) {
        CHECK_EQ_INT(json_object_array_length(o), 2);
        CHECK_STR(json_object_get_string(json_object_array_get_idx(o, 1)), "8,703,771");
        json_object_put(o);
    }
    CHECK_EQ_INT(bd_pylit_parse("defaultdict(list, {})", "e", &o, &err), 0);
    json_object_put(o);
    CHECK(bd_pylit_parse("['a', 'b'", "f.csv: line 3: column options", &o, &err) == BD_EINPUT);
    CHECK_MSG(strstr(err.msg, "f.csv: line 3: column options: offset") != NULL, "%s", err.msg);
    CHECK(bd_pylit_parse("['a'] extra", "x", &o, &err) == BD_EINPUT);
    CHECK(bd_pylit_parse("__import__('os')", "x", &o, &err) == BD_EINPUT);
    CHECK(bd_pylit_parse("'unterminated", "x", &o, &err) == BD_EINPUT);
    char deep[300];
    memset(deep, '[', 200);
    deep[200] = 0;
    CHECK(bd_pylit_parse(deep, "x", &o, &err) == BD_EINPUT);
}

static void test_repr(void)
{
    /* expected strings printed by Python 3 repr() */
    static const struct { double v; const char *s; } R[] = {
        {26.37, "26.37"}, {4.04207281475341, "4.04207281475341"}, {791278247811.5254, "791278247811.5254"},
        {100.0, "100.0"}, {1e16, "1e+16"}, {1e-05, "1e-05"}, {0.0001, "0.0001"},
        {123456789012345678.0, "1.2345678901234568e+17"}, {-2.5, "-2.5"}, {1e15, "1000000000000000.0"},
        {9999999999999998.0, "9999999999999998.0"}, {0.1 + 0.2, "0.30000000000000004"}, {5e-324, "5e-324"},
        {1.7976931348623157e308, "1.7976931348623157e+308"}, {0.0, "0.0"},
    };
    for (size_t i = 0; i < sizeof R / sizeof R[0]; i++) {
        char b[64];
        bd_py_float_repr(R[i].v, b, sizeof b);
        CHECK_STR(b, R[i].s);
    }
}

int main(void)
{
    test_repr();
    test_csv();
    test_pylit();
    return test_done();
}
