/* Warpers as transformers applies them (TemperatureLogitsWarper,
 * TopKLogitsWarper, TopPLogitsWarper with min_tokens_to_keep 1):
 *  - temperature: z = logits / temp;
 *  - top-k: keep z >= the k-th largest z (ties at the threshold all stay);
 *  - top-p: sort ascending, cumulative softmax; drop tokens whose cumulative
 *    probability is <= 1 - top_p, always keeping the most likely one.
 * The draw walks the kept tokens in id order until the cumulative
 * probability exceeds a uniform u in [0, 1). Sums are in double. */
#include "sample.h"

#include <math.h>
#include <stdlib.h>

void bd_rng_seed(bd_rng *r, uint64_t seed) { r->s = seed; }

uint64_t bd_rng_next(bd_rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double bd_rng_uniform(bd_rng *r) { return (double)(bd_rng_next(r) >> 11) * 0x1.0p-53; }

int bd_sampler_init(bd_sampler *sp, const bd_sampling *s, int n_vocab, bd_err *err)
{
    sp->p = NULL;
    if (!(s->temp >= 0) || !isfinite(s->temp))
        return bd_fail(err, BD_EINPUT, "sampling: temperature must be >= 0, got %g", s->temp);
    if (!(s->top_p > 0 && s->top_p <= 1))
        return bd_fail(err, BD_EINPUT, "sampling: top_p must be in (0, 1], got %g", s->top_p);
    if (s->top_k < 0) return bd_fail(err, BD_EINPUT, "sampling: top_k must be >= 0, got %d", s->top_k);
    if (n_vocab <= 0) return bd_fail(err, BD_EINPUT, "sampling: empty vocabulary");
    sp->s = *s;
    sp->n = n_vocab;
    bd_rng_seed(&sp->rng, s->seed);
    sp->p = malloc(sizeof(double) * (size_t)n_vocab);
    if (!sp->p) { bd_sampler_free(sp); return bd_oom(err, "sampler"); }
    return 0;
}

void bd_sampler_free(bd_sampler *sp)
{
    free(sp->p);
    sp->p = NULL;
}

/* Sorted as (value, id) pairs: descending value, ties by ascending id. */
typedef struct zi { float z; int32_t i; } zi;

static int cmp_desc(const void *a, const void *b)
{
    const zi *x = a, *y = b;
    if (x->z > y->z) return -1;
    if (x->z < y->z) return 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

void bd_sampler_dist(bd_sampler *sp, const float *logits)
{
    const int n = sp->n;
    double *p = sp->p;
    const float temp = sp->s.temp;
    int k = sp->s.top_k;
    const int use_k = k > 0 && k < n, use_p = sp->s.top_p < 1.0f;
    zi *v = NULL;
    if (use_k || use_p) v = malloc(sizeof *v * (size_t)n);
    float zmax = -INFINITY;
    for (int i = 0; i < n; i++) {
        float z = logits[i] / temp;
        p[i] = z;
        if (z > zmax) zmax = z;
        if (v) { v[i].z = z; v[i].i = i; }
    }
    if (!v && (use_k || use_p)) { /* out of memory: fall back to no filtering */
    } else if (v) {
        qsort(v, (size_t)n, sizeof *v, cmp_desc);
        int m = n; /* kept prefix of v (descending) */
        if (use_k) {
            float kth = v[k - 1].z;
            m = k;
            while (m < n && v[m].z >= kth) m++;
        }
        if (use_p) {
            /* softmax over the kept prefix, cumulative from the smallest */
            double mx = v[0].z, sum = 0;
            for (int j = 0; j < m; j++) sum += exp((double)v[j].z - mx);
            double cum = 0, thr = 1.0 - (double)sp->s.top_p;
            int cut = m; /* tokens v[cut..m) are dropped */
            for (int j = m - 1; j >= 1; j--) {
                cum += exp((double)v[j].z - mx) / sum;
                if (cum <= thr) cut = j;
                else break;
            }
            m = cut;
        }
        for (int j = m; j < n; j++) p[v[j].i] = -INFINITY;
        free(v);
    }
    double sum = 0;
    for (int i = 0; i < n; i++) {
        p[i] = p[i] == -INFINITY ? 0 : exp(p[i] - (double)zmax);
        sum += p[i];
    }
    for (int i = 0; i < n; i++) p[i] /= sum;
}

int32_t bd_sampler_next(bd_sampler *sp, const float *logits)
{
    if (sp->s.temp == 0) {
        int32_t best = 0;
        for (int i = 1; i < sp->n; i++)
            if (logits[i] > logits[best]) best = i;
        return best;
    }
    bd_sampler_dist(sp, logits);
    double u = bd_rng_uniform(&sp->rng), cum = 0;
    int32_t last = 0;
    for (int i = 0; i < sp->n; i++) {
        if (sp->p[i] <= 0) continue;
        cum += sp->p[i];
        last = i;
        if (u < cum) return i;
    }
    return last; /* rounding left u above the total */
}
