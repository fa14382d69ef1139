#include "progress.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void bd_fmt_duration(double s, char *buf, size_t n)
{
    if (!(s >= 0) || s > 1e8) { snprintf(buf, n, "?"); return; }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

static void draw(bd_progress *p, int final)
{
    double el = now_s() - p->t0;
    long newd = p->done - p->start_done, left = p->total - p->done;
    double rate = el > 0 ? newd / el : 0;
    char eta[32], ela[32];
    bd_fmt_duration(rate > 0 ? left / rate : -1, eta, sizeof eta);
    bd_fmt_duration(el, ela, sizeof ela);
    double frac = p->total ? (double)p->done / p->total : 1;
    if (p->tty) {
        char bar[31];
        int w = (int)(frac * 30);
        for (int i = 0; i < 30; i++) bar[i] = i < w ? '#' : '.';
        bar[30] = 0;
        fprintf(p->f, "\r%-40.40s [%s] %ld/%ld %3.0f%% %s ETA %s ", p->label, bar, p->done, p->total,
                frac * 100, ela, final ? "0:00" : eta);
        if (final) fputc('\n', p->f);
    } else {
        fprintf(p->f, "%s: %ld/%ld items (%.0f%%), %.2f items/s, elapsed %s, ETA %s\n", p->label, p->done,
                p->total, frac * 100, rate, ela, final ? "0:00" : eta);
    }
    fflush(p->f);
}

void bd_progress_start(bd_progress *p, FILE *f, const char *label, long done, long total)
{
    memset(p, 0, sizeof *p);
    p->f = f;
    if (!f) return;
    p->tty = isatty(fileno(f));
    snprintf(p->label, sizeof p->label, "%s", label);
    p->done = p->start_done = done;
    p->total = total;
    p->t0 = p->last = now_s();
    if (p->tty || done) draw(p, 0);
}

void bd_progress_step(bd_progress *p)
{
    if (!p->f) return;
    p->done++;
    double t = now_s();
    if (t - p->last >= (p->tty ? 0.2 : 10.0)) {
        p->last = t;
        draw(p, 0);
    }
}

void bd_progress_end(bd_progress *p)
{
    if (!p->f) return;
    draw(p, 1);
}
