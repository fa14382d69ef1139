/* Calibration token sequences for AWQ and Wanda: from a text file (plain
 * text, documents separated by blank lines; or JSONL with a "text" field per
 * line) or sampled from the model itself ("selfgen", seeded). */
#ifndef BD_ACCEL_CALIB_H
#define BD_ACCEL_CALIB_H

#include <stdint.h>

#include "accel.h"

typedef struct bd_calib {
    int n;          /* sequences */
    int seqlen;     /* tokens each */
    int32_t *ids;   /* n * seqlen */
} bd_calib;

typedef enum bd_calib_style {
    BD_CALIB_WANDA = 0, /* n random windows of seqlen tokens from documents longer than seqlen (C4 style) */
    BD_CALIB_AWQ        /* first n documents of at most seqlen tokens, concatenated, cut into blocks */
} bd_calib_style;

int bd_calib_get(bd_model *m, const bd_accel_opts *o, bd_calib_style style, int def_n, int def_len,
                 bd_calib *out, bd_err *err);
void bd_calib_free(bd_calib *c);

/* Splits text into documents (exposed for tests): JSONL if the first
 * non-blank character is '{', else blank-line separated paragraphs. Returns
 * the count; docs[i] are malloc'd (free with bd_calib_docs_free). */
int bd_calib_split(const char *path, const char *text, char ***docs, int *n, bd_err *err);
void bd_calib_docs_free(char **docs, int n);

#endif
