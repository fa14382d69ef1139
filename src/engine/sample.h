/* Token sampling with transformers' logits warpers, in its order:
 * temperature, then top-k, then top-p; then one draw from the resulting
 * distribution with a seeded generator of our own (SplitMix64: state +=
 * 0x9E3779B97F4A7C15, output mixed by xor-shifts 30/27/31 with multipliers
 * 0xBF58476D1CE4E5B9 and 0x94D049BB133111EB; a uniform double uses the top
 * 53 bits). temp 0 is greedy (the first index of the maximum, as argmax),
 * top_k 0 and top_p 1 switch those warpers off. Same seed, same logits:
 * same tokens, on every machine. */
#ifndef BD_SAMPLE_H
#define BD_SAMPLE_H

#include <stdint.h>

#include "engine.h"

typedef struct bd_rng { uint64_t s; } bd_rng;
void bd_rng_seed(bd_rng *r, uint64_t seed);
uint64_t bd_rng_next(bd_rng *r);
double bd_rng_uniform(bd_rng *r); /* [0, 1) */

typedef struct bd_sampler {
    bd_sampling s;
    bd_rng rng;
    int n;          /* vocabulary size */
    double *p;      /* the distribution after the warpers (0 = removed) */
} bd_sampler;

/* Fails (BD_EINPUT) on temp < 0, top_p outside (0, 1], top_k < 0 or NaN. */
int bd_sampler_init(bd_sampler *sp, const bd_sampling *s, int n_vocab, bd_err *err);
void bd_sampler_free(bd_sampler *sp);
/* Fills sp->p with the warped distribution of logits[n] (temp > 0 only). */
void bd_sampler_dist(bd_sampler *sp, const float *logits);
/* The next token: argmax for temp 0, else a draw from bd_sampler_dist. */
int32_t bd_sampler_next(bd_sampler *sp, const float *logits);

#endif
