/* One error type through the program: a code and a message that names the file,
 * the offset/line/key and what was expected. Functions that can fail return
 * an int (0 = ok, else the bd_err code) and fill *err; the CLI alone prints. */
#ifndef BD_ERR_H
#define BD_ERR_H

#include <stddef.h>

enum {
    BD_OK = 0,
    BD_EINPUT = 2,   /* bad input file / bad usage: exit status 2 */
    BD_EIO = 3,      /* read/write failure of the OS */
    BD_ENOMEM = 4,   /* allocation failed */
    BD_EFAIL = 5,    /* the work itself failed (exit status 1) */
    BD_EUNSUP = 6    /* valid input we do not support (exit status 2) */
};

typedef struct bd_err {
    int code;
    char msg[1024];
} bd_err;

/* Sets err (if non-NULL) and returns code, so callers can `return bd_fail(...)`. */
int bd_fail(bd_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefixes an existing message with context ("while loading X: ..."). */
int bd_wrap(bd_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Exit status for an error code: 2 for input/usage/unsupported, 1 otherwise. */
int bd_exit_status(int code);
/* Convenience for allocation failures: returns BD_ENOMEM. */
int bd_oom(bd_err *err, const char *what);

#endif
