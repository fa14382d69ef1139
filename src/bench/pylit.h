/* Parser for the Python literals stored as strings in the datasets:
 * GlobalOpinionQA `options` (a list of str) and `selections`
 * ("defaultdict(<class 'list'>, {country: [p...], ...})"), WorldBench
 * `example` (a (question, answer) tuple). Supports str (both quotes, the
 * usual escapes), int, float, True/False/None, list, tuple, dict, and the
 * defaultdict(<factory>, {...}) wrapper. No evaluation of anything else. */
#ifndef BD_BENCH_PYLIT_H
#define BD_BENCH_PYLIT_H

#include <stddef.h>

#include <json-c/json.h>

#include "../util/err.h"

/* Parses s into a json-c value (lists and tuples become arrays, dicts become
 * objects with their keys as strings). `what` names the source in errors
 * ("file.csv: line 12: column selections"), which also carry the offset. */
int bd_pylit_parse(const char *s, const char *what, json_object **out, bd_err *err);

/* Python's repr() of a float (shortest round-trip digits; fixed notation
 * with ".0" for exponents -4..15, else d.ddde+XX), e.g. "26.37", "100.0". */
void bd_py_float_repr(double v, char *buf, size_t n);
/* str() of a scalar json value as Python prints it (strings as they are). */
int bd_py_str(json_object *v, char *buf, size_t n);

#endif
