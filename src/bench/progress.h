/* Progress on stderr: a redrawn bar with ETA on a terminal, otherwise one
 * line at most every 10 seconds (and at the end). */
#ifndef BD_BENCH_PROGRESS_H
#define BD_BENCH_PROGRESS_H

#include <stdio.h>

typedef struct bd_progress {
    FILE *f;            /* NULL = silent */
    int tty;
    char label[128];
    long done, total, start_done;
    double t0, last;
} bd_progress;

void bd_progress_start(bd_progress *p, FILE *f, const char *label, long done, long total);
void bd_progress_step(bd_progress *p);
void bd_progress_end(bd_progress *p);
/* "1:02:03" / "2:03" into buf. */
void bd_fmt_duration(double s, char *buf, size_t n);

#endif
