#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int bd_fail(bd_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

int bd_wrap(bd_err *err, const char *fmt, ...)
{
    if (!err) return BD_EFAIL;
    char prefix[512], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    size_t k = strlen(prefix);
    if (k > sizeof err->msg - 3) k = sizeof err->msg - 3;
    memcpy(err->msg, prefix, k);
    memcpy(err->msg + k, ": ", 2);
    size_t room = sizeof err->msg - k - 3, ol = strnlen(old, sizeof old - 1);
    if (ol > room) ol = room;
    memcpy(err->msg + k + 2, old, ol);
    err->msg[k + 2 + ol] = 0;
    return err->code ? err->code : BD_EFAIL;
}

int bd_exit_status(int code)
{
    if (code == BD_OK) return 0;
    if (code == BD_EINPUT || code == BD_EUNSUP) return 2;
    return 1;
}

int bd_oom(bd_err *err, const char *what)
{
    return bd_fail(err, BD_ENOMEM, "out of memory allocating %s", what);
}
