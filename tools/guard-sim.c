/* sluice-guard-sim: what the always-valid guard test (control/sequential.c)
 * costs and what it buys, by simulation.
 *   (1) power: challenger (and total) flows until the guard fails, median and
 *       90th percentile, for three error-rate pairs at shares 5 % and 20 %,
 *       next to the fixed-horizon z-test's sample size for 90 % power;
 *   (2) A/A false alarms of the sequential test and of the z-test re-run at
 *       every look.
 * Deterministic for a given --seed (splitmix64, exact binomial draws). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sequential.h"

static uint64_t rng_state;

static uint64_t splitmix64(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double uniform(void)
{
	return (double)(splitmix64() >> 11) * 0x1.0p-53;
}

/* Exact binomial draw: inversion while the mean is small, halves otherwise. */
static uint64_t binom(uint64_t n, double p)
{
	double q, r, f, u;
	uint64_t k;

	if (n == 0 || p <= 0.0)
		return 0;
	if (p >= 1.0)
		return n;
	if (p > 0.5)
		return n - binom(n, 1.0 - p);
	if ((double)n * p >= 30.0)
		return binom(n / 2, p) + binom(n - n / 2, p);
	q = 1.0 - p;
	r = p / q;
	f = pow(q, (double)n);
	u = uniform();
	for (k = 0; u > f && k < n; k++) {
		u -= f;
		f *= r * (double)(n - k) / (double)(k + 1);
	}
	return k;
}

#define ALPHA 0.01
#define Z_ALPHA 2.3263478740408408 /* upper 1 % point of N(0, 1) */
#define Z_POWER 1.2815515655446004 /* upper 10 % point: 90 % power */
#define PER_LOOK_B 20          /* expected challenger flows between looks */
#define CAP_B 10000000ULL      /* challenger flows after which a rollout stops */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Fixed-horizon one-sided z-test (pooled under H0): challenger flows for
 * 90 % power at level ALPHA, champion = k times challenger. */
static double fixed_n(double pa, double pb, double k)
{
	double za = Z_ALPHA, zb = Z_POWER;
	double pbar = (k * pa + pb) / (k + 1), d = pb - pa;
	double t = za * sqrt(pbar * (1 - pbar) * (1 + 1 / k)) +
		   zb * sqrt(pb * (1 - pb) + pa * (1 - pa) / k);

	return t * t / (d * d);
}

static void percentile(const uint64_t *v, int n, double q, char *out, size_t len)
{
	int i = (int)ceil(q * n) - 1;

	if (i < 0)
		i = 0;
	if (v[i] == UINT64_MAX)
		snprintf(out, len, ">%llu", (unsigned long long)CAP_B);
	else
		snprintf(out, len, "%" PRIu64, v[i]);
}

static void power_row(double pa, double pb, double share, int rollouts)
{
	uint64_t *nb_at = malloc(sizeof(uint64_t) * (size_t)rollouts);
	uint64_t *n_at = malloc(sizeof(uint64_t) * (size_t)rollouts);
	uint64_t per_look = (uint64_t)llround(PER_LOOK_B / share);
	int failed = 0;
	char m_b[32], p90_b[32], m_n[32], p90_n[32];

	if (!nb_at || !n_at) {
		fprintf(stderr, "sluice-guard-sim: out of memory\n");
		exit(1);
	}
	for (int r = 0; r < rollouts; r++) {
		struct sl_seq s;
		uint64_t na = 0, xa = 0, nb = 0, xb = 0;

		sl_seq_init(&s, ALPHA, 0.0);
		nb_at[r] = n_at[r] = UINT64_MAX;
		while (nb < CAP_B) {
			uint64_t b = binom(per_look, share), a = per_look - b;

			na += a;
			nb += b;
			xa += binom(a, pa);
			xb += binom(b, pb);
			if (sl_seq_look(&s, na, xa, nb, xb) == 1) {
				nb_at[r] = nb;
				n_at[r] = na + nb;
				failed++;
				break;
			}
		}
	}
	qsort(nb_at, (size_t)rollouts, sizeof(uint64_t), cmp_u64);
	qsort(n_at, (size_t)rollouts, sizeof(uint64_t), cmp_u64);
	percentile(nb_at, rollouts, 0.5, m_b, sizeof(m_b));
	percentile(nb_at, rollouts, 0.9, p90_b, sizeof(p90_b));
	percentile(n_at, rollouts, 0.5, m_n, sizeof(m_n));
	percentile(n_at, rollouts, 0.9, p90_n, sizeof(p90_n));
	printf("%6.1f %% vs %4.1f %%  %5.0f %%  %10s %10s  %10s %10s  %12.0f  %7.2f %%\n", pa * 100,
	       pb * 100, share * 100, m_b, p90_b, m_n, p90_n,
	       ceil(fixed_n(pa, pb, (1 - share) / share)), 100.0 * failed / rollouts);
	free(nb_at);
	free(n_at);
}

static void aa_row(double p, double share, double pb, double margin, int rollouts, int ticks,
		   uint64_t per_tick)
{
	int seq = 0, z = 0;
	double se = sqrt(ALPHA * (1 - ALPHA) / rollouts);

	for (int r = 0; r < rollouts; r++) {
		struct sl_seq s;
		uint64_t na = 0, xa = 0, nb = 0, xb = 0;
		int zr = 0;

		sl_seq_init(&s, ALPHA, margin);
		for (int t = 0; t < ticks; t++) {
			uint64_t b = binom(per_tick, share), a = per_tick - b;

			na += a;
			nb += b;
			xa += binom(a, p);
			xb += binom(b, pb);
			sl_seq_look(&s, na, xa, nb, xb);
			if (!zr && sl_ztest_p(na, xa, nb, xb, margin) < ALPHA)
				zr = 1;
		}
		seq += s.rejected;
		z += zr;
	}
	printf("%6.1f %% vs %4.1f %%  %6.1f pp  %5.0f %%  %8d  %9.4f %%  %12.4f %%  %7.4f %%\n",
	       p * 100, pb * 100, margin * 100, share * 100, rollouts, 100.0 * seq / rollouts,
	       100.0 * z / rollouts, 100.0 * (ALPHA + 3 * se));
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || end == s || *end || s[0] == '-' ? -1 : 0;
}

int main(int argc, char **argv)
{
	uint64_t rollouts = 2000, seed = 1;
	static const struct {
		double pa, pb;
	} cases[] = {{0.018, 0.046}, {0.01, 0.02}, {0.001, 0.005}};
	static const double shares[] = {0.05, 0.20};

	/* options come in pairs: NAME VALUE */
	for (int i = 1; i < argc; i += 2) {
		uint64_t *dst = NULL;

		if (!strcmp(argv[i], "--rollouts"))
			dst = &rollouts;
		else if (!strcmp(argv[i], "--seed"))
			dst = &seed;
		if (!dst || i + 1 >= argc || parse_u64(argv[i + 1], dst) ||
		    (dst == &rollouts && (rollouts == 0 || rollouts > 10000000))) {
			fprintf(stderr, "usage: sluice-guard-sim [--rollouts N (1..10000000)] "
					"[--seed S]\n");
			return 2;
		}
	}

	printf("sluice-guard-sim: the always-valid guard test (control/sequential.h) by simulation\n");
	printf("command:");
	for (int i = 0; i < argc; i++)
		printf(" %s", argv[i]);
	printf("\nrollouts %" PRIu64 " per row, seed %" PRIu64 ", alpha %.0f %%, margin 0\n\n",
	       rollouts, seed, ALPHA * 100);

	rng_state = seed;
	printf("(1) Power: flows until the guard fails (looked at every %d expected challenger "
	       "flows,\n    stopped at %llu challenger flows); fixed z = challenger flows a "
	       "fixed-horizon\n    one-sided z-test needs for 90 %% power, looked at once\n\n",
	       PER_LOOK_B, (unsigned long long)CAP_B);
	printf("%-18s  %6s  %21s  %21s  %12s  %9s\n", "champion vs chall.", "share",
	       "challenger flows", "total flows", "fixed z", "failed");
	printf("%-18s  %6s  %10s %10s  %10s %10s  %12s  %9s\n", "", "", "median", "p90", "median",
	       "p90", "chall. flows", "");
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
		for (size_t s = 0; s < sizeof(shares) / sizeof(shares[0]); s++)
			power_row(cases[c].pa, cases[c].pb, shares[s], (int)rollouts);

	printf("\n(2) A/A false alarms: 60 looks, 1000 flows between looks, equal rates "
	       "(last row: the edge\n    of a 0.5 pp margin); guard fails on the sequential "
	       "test vs on a z-test p < alpha at any look\n\n");
	printf("%-18s  %9s  %6s  %8s  %11s  %14s  %9s\n", "champion vs chall.", "margin", "share",
	       "rollouts", "sequential", "z every look", "a+3se");
	for (size_t c = 0; c < 2; c++) {
		double p = c == 0 ? 0.02 : 0.001;

		for (size_t s = 0; s < sizeof(shares) / sizeof(shares[0]); s++)
			aa_row(p, shares[s], p, 0.0, (int)rollouts, 60, 1000);
	}
	aa_row(0.018, 0.20, 0.023, 0.005, (int)rollouts, 60, 1000);
	return 0;
}
