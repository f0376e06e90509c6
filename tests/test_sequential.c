/* The always-valid guard test (control/sequential.c): the e-value property
 * computed exactly, simulated A/A false alarms against the every-look z-test,
 * the seed's case and the margin, edge counts and parameter errors.  All
 * simulations use a seeded splitmix64. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sequential.h"
#include "unit.h"

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

static double binom_pmf(uint64_t n, uint64_t k, double p)
{
	return exp(lgamma((double)n + 1) - lgamma((double)k + 1) - lgamma((double)(n - k) + 1) +
		   (k ? (double)k * log(p) : 0.0) + (n - k ? (double)(n - k) * log1p(-p) : 0.0));
}

/* E[E] under one point of H0, summed over every outcome: an e-value has
 * expectation <= 1 (the sup in the denominator makes it < 1). */
static double expected_e(uint64_t na, double pa, uint64_t nb, double pb, double margin)
{
	double sum = 0.0;

	for (uint64_t xa = 0; xa <= na; xa++)
		for (uint64_t xb = 0; xb <= nb; xb++)
			sum += binom_pmf(na, xa, pa) * binom_pmf(nb, xb, pb) *
			       exp(sl_seq_log_evalue(na, xa, nb, xb, margin));
	return sum;
}

static void test_evalue_expectation(void)
{
	static const struct {
		uint64_t na, nb;
		double pa, pb, margin;
	} c[] = {
		{30, 10, 0.1, 0.1, 0.0},     {200, 3, 0.02, 0.02, 0.0}, {100, 100, 0.5, 0.5, 0.0},
		{60, 20, 0.05, 0.10, 0.05},  {150, 8, 0.001, 0.001, 0.0},
		{80, 40, 0.3, 0.2, 0.0},     {40, 40, 0.0, 0.3, 0.3},
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		double e = expected_e(c[i].na, c[i].pa, c[i].nb, c[i].pb, c[i].margin);

		CU_ASSERT(e <= 1.0);
		CU_ASSERT(e > 0.0);
		if (!(e <= 1.0))
			fprintf(stderr, "\n  case %zu: E[E] = %.6f\n", i, e);
	}
}

/* The restricted maximum against a brute-force grid on the line. */
static void test_statistic_matches_grid(void)
{
	static const struct {
		uint64_t na, xa, nb, xb;
		double d;
	} c[] = {{200, 3, 50, 4, 0.01}, {1000, 20, 100, 9, 0.0}, {50, 0, 20, 5, 0.05},
		 {10, 10, 10, 10, -0.2}};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		double xa = (double)c[i].xa, ga = (double)(c[i].na - c[i].xa);
		double xb = (double)c[i].xb, gb = (double)(c[i].nb - c[i].xb), d = c[i].d;
		double lo = d < 0 ? -d : 0, hi = d > 0 ? 1 - d : 1, best = -INFINITY, num, e;

		for (int k = 1; k < 1000000; k++) {
			double p = lo + (hi - lo) * k / 1000000.0, q = p + d;
			double v = (xa ? xa * log(p) : 0) + (ga ? ga * log(1 - p) : 0) +
				   (xb ? xb * log(q) : 0) + (gb ? gb * log(1 - q) : 0);

			if (v > best)
				best = v;
		}
		num = lgamma(xa + .5) + lgamma(ga + .5) - lgamma(xa + ga + 1) + lgamma(xb + .5) +
		      lgamma(gb + .5) - lgamma(xb + gb + 1) - 2 * log(M_PI);
		e = sl_seq_log_evalue(c[i].na, c[i].xa, c[i].nb, c[i].xb, d);
		/* the grid can only be below the true maximum */
		CU_ASSERT(e <= num - best + 1e-9);
		CU_ASSERT(e >= num - best - 1e-4);
	}
}

/* One A/A configuration: `rollouts` rollouts of `ticks` looks, `per_tick`
 * flows a tick, a challenger share, both groups at rate p_a / p_b; returns
 * the fraction the sequential test and the every-look z-test reject. */
static void simulate(uint64_t seed, int rollouts, int ticks, uint64_t per_tick, double share,
		     double pa, double pb, double margin, double alpha, double *seq_rate,
		     double *z_rate)
{
	int seq_rej = 0, z_rej = 0;

	rng_state = seed;
	for (int r = 0; r < rollouts; r++) {
		struct sl_seq s;
		uint64_t na = 0, xa = 0, nb = 0, xb = 0;
		int z = 0;

		sl_seq_init(&s, alpha, margin);
		for (int t = 0; t < ticks; t++) {
			uint64_t b = binom(per_tick, share), a = per_tick - b;

			na += a;
			nb += b;
			xa += binom(a, pa);
			xb += binom(b, pb);
			sl_seq_look(&s, na, xa, nb, xb);
			if (!z && sl_ztest_p(na, xa, nb, xb, margin) < alpha)
				z = 1;
		}
		seq_rej += s.rejected;
		z_rej += z;
	}
	*seq_rate = (double)seq_rej / rollouts;
	*z_rate = (double)z_rej / rollouts;
}

static void test_aa_false_alarms(void)
{
	static const struct {
		double p, share;
	} c[] = {{0.02, 0.05}, {0.02, 0.20}, {0.001, 0.05}, {0.001, 0.20}};
	const int n = 10000;
	const double alpha = 0.01, bound = alpha + 3 * sqrt(alpha * (1 - alpha) / n);

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		double seq, z;

		simulate(0x5eed0000 + i, n, 60, 1000, c[i].share, c[i].p, c[i].p, 0.0, alpha, &seq,
			 &z);
		fprintf(stderr, "\n  A/A p %.3f share %.2f: sequential %.4f, z every look %.4f", c[i].p,
			c[i].share, seq, z);
		CU_ASSERT(seq <= bound);
		CU_ASSERT(z > 3 * alpha);
	}
}

/* At the edge of H0 with a margin: p_b - p_a = margin exactly. */
static void test_aa_margin(void)
{
	const int n = 5000;
	const double alpha = 0.01, bound = alpha + 3 * sqrt(alpha * (1 - alpha) / n);
	double seq, z;

	simulate(0x5eed0100, n, 60, 1000, 0.20, 0.018, 0.023, 0.005, alpha, &seq, &z);
	fprintf(stderr, "\n  margin edge 1.8 %% vs 2.3 %%, margin 0.5 pp: sequential %.4f, z %.4f\n",
		seq, z);
	CU_ASSERT(seq <= bound);
}

/* The seed: champion 95 000 at 1.8 %, challenger 5 000 at 4.6 %. */
static void test_seed_case(void)
{
	struct sl_seq s;
	double lo, hi;
	int first = 0;

	sl_seq_init(&s, 0.01, 0.0);
	CU_ASSERT_EQUAL(sl_seq_look(&s, 95000, 1710, 5000, 230), 1);
	CU_ASSERT(sl_seq_statistic(&s) > sl_seq_threshold(&s));
	CU_ASSERT_DOUBLE_EQUAL(sl_seq_threshold(&s), log(100.0), 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(sl_seq_rate_a(&s), 0.018, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(sl_seq_rate_b(&s), 0.046, 1e-12);
	sl_seq_bounds(&s, &lo, &hi);
	CU_ASSERT(lo > 0.005);
	CU_ASSERT(lo < 0.028);
	CU_ASSERT(hi > 0.028);
	CU_ASSERT(hi < 0.06);
	/* the bound is the inverted test: margins just below lo reject, above do not */
	CU_ASSERT(sl_seq_log_evalue(95000, 1710, 5000, 230, lo - 1e-6) >= log(100.0));
	CU_ASSERT(sl_seq_log_evalue(95000, 1710, 5000, 230, lo + 1e-6) < log(100.0));

	/* arriving 1 000 flows at a time at the expected counts: caught early */
	sl_seq_init(&s, 0.01, 0.0);
	for (uint64_t k = 1; k <= 100; k++)
		if (sl_seq_look(&s, 950 * k, (uint64_t)llround(0.018 * 950 * k), 50 * k,
				(uint64_t)llround(0.046 * 50 * k)) && !first)
			first = (int)k;
	CU_ASSERT(first > 1);
	CU_ASSERT(first < 100);
	CU_ASSERT_EQUAL(s.reject_look, (uint64_t)first);
	fprintf(stderr, "\n  seed case: rejected at %d000 flows (%d challenger flows)", first,
		50 * first);

	/* equal rates at the same sizes: not rejected */
	sl_seq_init(&s, 0.01, 0.0);
	CU_ASSERT_EQUAL(sl_seq_look(&s, 95000, 1710, 5000, 90), 0);
	CU_ASSERT(sl_seq_statistic(&s) < 0.0);
	sl_seq_bounds(&s, &lo, &hi);
	CU_ASSERT(lo < 0.0);
	CU_ASSERT(hi > 0.0);
}

/* 1.8 % vs 2.2 % at expected counts, growing to 1e8 challenger flows: within
 * a 0.5 pp margin never rejected; with margin 0 rejected. */
static void test_margin(void)
{
	struct sl_seq with, without;
	double nb = 1000;
	uint64_t found = 0;

	sl_seq_init(&with, 0.01, 0.005);
	sl_seq_init(&without, 0.01, 0.0);
	for (; nb <= 1e8; nb *= 1.1) {
		uint64_t b = (uint64_t)nb, a = 19 * b;
		uint64_t xa = (uint64_t)llround(0.018 * (double)a);
		uint64_t xb = (uint64_t)llround(0.022 * (double)b);

		CU_ASSERT_EQUAL(sl_seq_look(&with, a, xa, b, xb), 0);
		CU_ASSERT(sl_seq_statistic(&with) <= 0.0);
		if (sl_seq_look(&without, a, xa, b, xb) && !found)
			found = b;
	}
	CU_ASSERT(found > 10000);
	CU_ASSERT(found < 1000000);
	fprintf(stderr, "\n  1.8 %% vs 2.2 %%, margin 0: rejected at %llu challenger flows\n",
		(unsigned long long)found);
}

static void test_edges(void)
{
	struct sl_seq s;
	double lo, hi;

	/* no flows at all, repeated looks with nothing new */
	sl_seq_init(&s, 0.01, 0.0);
	for (int i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(sl_seq_look(&s, 0, 0, 0, 0), 0);
	CU_ASSERT(fabs(sl_seq_statistic(&s)) < 1e-12);
	CU_ASSERT_EQUAL(sl_seq_rate_a(&s), 0.0);
	CU_ASSERT_EQUAL(sl_seq_rate_b(&s), 0.0);
	sl_seq_bounds(&s, &lo, &hi);
	CU_ASSERT_EQUAL(lo, -1.0);
	CU_ASSERT_EQUAL(hi, 1.0);
	CU_ASSERT_EQUAL(s.looks, 5);

	/* one side empty: nothing to compare with, whatever the other says */
	CU_ASSERT(sl_seq_log_evalue(0, 0, 1000, 1000, 0.0) <= 0.0);
	CU_ASSERT(sl_seq_log_evalue(100000, 0, 0, 0, 0.0) <= 0.0);

	/* no bad event anywhere */
	CU_ASSERT(sl_seq_log_evalue(1000000, 0, 100000, 0, 0.0) <= 0.0);

	/* one bad challenger flow and none in the champion: the z-test says
	 * p < 1e-4, the sequential test waits */
	CU_ASSERT(sl_ztest_p(10000, 0, 500, 1, 0.0) < 1e-4);
	CU_ASSERT(sl_seq_log_evalue(10000, 0, 500, 1, 0.0) < log(100.0));

	/* all bad */
	CU_ASSERT(sl_seq_log_evalue(100, 100, 10, 10, 0.0) <= 0.0);
	CU_ASSERT_EQUAL(sl_ztest_p(100, 100, 10, 10, 0.0), 1.0);
	CU_ASSERT(sl_seq_log_evalue(100, 0, 10, 10, 0.0) > log(100.0));
	/* 10 bad flows cannot show a 50 pp excess at 1 %, 30 can */
	CU_ASSERT(sl_seq_log_evalue(100, 0, 10, 10, 0.5) < log(100.0));
	CU_ASSERT(sl_seq_log_evalue(100, 0, 30, 30, 0.5) > log(100.0));
	CU_ASSERT(sl_seq_log_evalue(100, 0, 10, 10, 0.95) < log(100.0));

	/* huge counts: finite, and the right verdicts */
	{
		double e1 = sl_seq_log_evalue(1000000000, 18000000, 1000000000, 18000000, 0.0);
		double e2 = sl_seq_log_evalue(1000000000, 18000000, 50000000, 2300000, 0.0);
		double e3 = sl_seq_log_evalue(1000000000, 18000000, 50000000, 900000, 0.0);
		double e4 = sl_seq_log_evalue(1000000000000ULL, 1000000000ULL, 1000000000000ULL,
					      1000000000ULL, 0.0);

		CU_ASSERT(isfinite(e1) && e1 < 0.0);
		CU_ASSERT(isfinite(e2) && e2 > 1e4);
		CU_ASSERT(isfinite(e3) && e3 < 0.0);
		CU_ASSERT(isfinite(e4) && e4 <= 0.0);
		CU_ASSERT(isfinite(sl_ztest_p(1000000000, 18000000, 50000000, 2300000, 0.0)));
	}
	sl_seq_init(&s, 0.01, 0.005);
	CU_ASSERT_EQUAL(sl_seq_look(&s, 1000000000, 18000000, 50000000, 1200000), 1);
	sl_seq_bounds(&s, &lo, &hi);
	CU_ASSERT(isfinite(lo) && isfinite(hi));
	CU_ASSERT(lo > 0.0055 && lo < 0.006 && hi > 0.006 && hi < 0.0065);
}

/* Once rejected, stays rejected even when later counts look innocent. */
static void test_latched(void)
{
	struct sl_seq s;

	sl_seq_init(&s, 0.01, 0.0);
	CU_ASSERT_EQUAL(sl_seq_look(&s, 1000, 10, 100, 0), 0);
	CU_ASSERT_EQUAL(sl_seq_look(&s, 2000, 20, 200, 20), 1);
	CU_ASSERT_EQUAL(s.reject_look, 2);
	/* many good challenger flows later: the statistic falls, the verdict not */
	CU_ASSERT_EQUAL(sl_seq_look(&s, 200000, 2000, 20000, 200), 1);
	CU_ASSERT(sl_seq_statistic(&s) < sl_seq_threshold(&s));
	CU_ASSERT(s.max_log_e > sl_seq_threshold(&s));
	CU_ASSERT_EQUAL(s.reject_look, 2);
	CU_ASSERT_EQUAL(s.looks, 3);
}

static void test_counts_refused(void)
{
	struct sl_seq s;
	char err[128];

	CU_ASSERT_EQUAL(sl_seq_check_counts(NULL, 10, 12, 5, 0, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "champion: bad 12 > total 10");
	CU_ASSERT_EQUAL(sl_seq_check_counts(NULL, 10, 1, 10, 12, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "challenger: bad 12 > total 10");
	CU_ASSERT_EQUAL(sl_seq_check_counts(NULL, 10, 10, 0, 0, err, sizeof(err)), 0);

	sl_seq_init(&s, 0.01, 0.0);
	CU_ASSERT_EQUAL(sl_seq_look(&s, 10, 1, 10, 12), -1);
	CU_ASSERT_EQUAL(s.looks, 0);
	CU_ASSERT_EQUAL(sl_seq_look(&s, 100, 1, 10, 1), 0);
	CU_ASSERT_EQUAL(sl_seq_check_counts(&s, 90, 1, 10, 1, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "champion: total 90 < 100 at the previous look");
	CU_ASSERT_EQUAL(sl_seq_check_counts(&s, 100, 1, 10, 0, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "challenger: bad 0 < 1 at the previous look");
	CU_ASSERT_EQUAL(sl_seq_look(&s, 90, 1, 10, 1), -1);
	CU_ASSERT_EQUAL(s.looks, 1);
	CU_ASSERT_EQUAL(s.n_a, 100);
	/* the statistic refuses silently (0) rather than reading x > n */
	CU_ASSERT_EQUAL(sl_seq_log_evalue(10, 12, 10, 1, 0.0), 0.0);
	CU_ASSERT_EQUAL(sl_ztest_p(10, 12, 10, 1, 0.0), 1.0);
}

static void test_params(void)
{
	char err[128];

	CU_ASSERT_EQUAL(sl_seq_check(0.7, 0.0, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "alpha: 0.7 is outside (0, 0.5)");
	CU_ASSERT_EQUAL(sl_seq_check(0.0, 0.0, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "alpha: 0 is outside (0, 0.5)");
	CU_ASSERT_EQUAL(sl_seq_check(0.5, 0.0, err, sizeof(err)), -1);
	CU_ASSERT_EQUAL(sl_seq_check(NAN, 0.0, err, sizeof(err)), -1);
	CU_ASSERT_EQUAL(strncmp(err, "alpha: ", 7), 0);
	CU_ASSERT_EQUAL(sl_seq_check(0.01, -0.1, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "margin: -0.1 is outside [0, 1)");
	CU_ASSERT_EQUAL(sl_seq_check(0.01, 1.0, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "margin: 1 is outside [0, 1)");
	CU_ASSERT_EQUAL(sl_seq_check(0.01, 0.005, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(sl_seq_check(SL_SEQ_ALPHA_DEFAULT, 0.0, err, sizeof(err)), 0);
}

static void test_ztest_values(void)
{
	/* 100/1000 vs 130/1000: pooled z = 2.1027, one-sided p = 0.017744 */
	CU_ASSERT_DOUBLE_EQUAL(sl_ztest_p(1000, 100, 1000, 130, 0.0), 0.017744, 2e-5);
	CU_ASSERT_DOUBLE_EQUAL(sl_ztest_p(1000, 130, 1000, 100, 0.0), 1 - 0.017744, 2e-5);
	CU_ASSERT(sl_ztest_p(95000, 1710, 5000, 230, 0.0) < 1e-20);
	CU_ASSERT_EQUAL(sl_ztest_p(0, 0, 10, 5, 0.0), 1.0);
	/* margin: unpooled z = (0.03 - 0.01) / 0.014251 = 1.4034, p = 0.080252 */
	CU_ASSERT_DOUBLE_EQUAL(sl_ztest_p(1000, 100, 1000, 130, 0.01), 0.080252, 2e-5);
}

void sl_test_register_sequential(void)
{
	CU_pSuite s = CU_add_suite("sequential", NULL, NULL);

	CU_add_test(s, "e-value has expectation <= 1 under H0 (exact sums)",
		    test_evalue_expectation);
	CU_add_test(s, "restricted maximum matches a grid", test_statistic_matches_grid);
	CU_add_test(s, "A/A false alarms: sequential <= alpha, z every look > 3 alpha",
		    test_aa_false_alarms);
	CU_add_test(s, "false alarms at the edge of a margin", test_aa_margin);
	CU_add_test(s, "seed case 1.8 % vs 4.6 % fails, equal rates do not", test_seed_case);
	CU_add_test(s, "margin 0.5 pp tolerates 1.8 % vs 2.2 %, margin 0 does not", test_margin);
	CU_add_test(s, "edge counts: none, zero bad, all bad, one bad, 1e9", test_edges);
	CU_add_test(s, "once rejected stays rejected", test_latched);
	CU_add_test(s, "x > n and decreasing counts refused", test_counts_refused);
	CU_add_test(s, "parameter errors name the field", test_params);
	CU_add_test(s, "z-test p-values", test_ztest_values);
}
