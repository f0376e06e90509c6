/* Always-valid sequential test for rollout guards (pure: no I/O, libm only).
 *
 * The question.  Champion: n_a flows, x_a of them bad; challenger: n_b flows,
 * x_b bad; counts cumulative since the start of the rollout step, looked at as
 * often as the caller likes (every second, with any increments, 0 included).
 *   H0: p_b - p_a <= margin          (margin >= 0, a fraction: 0.005 = 0.5 pp)
 *   H1: the challenger is worse by more than margin.
 * Requirement: P(the guard ever fails under H0) <= alpha, however many looks.
 *
 * The statistic (a universal-inference e-process, Wasserman, Ramdas and
 * Balakrishnan, "Universal inference", PNAS 2020, the mixture form of their
 * sequential likelihood-ratio test):
 *
 *            integral of L(p_a, p_b) dpi(p_a) dpi(p_b)
 *   E_t  =  -------------------------------------------
 *            sup over {p_b - p_a <= margin} of L(p_a, p_b)
 *
 *   L = p_a^x_a (1-p_a)^(n_a-x_a) p_b^x_b (1-p_b)^(n_b-x_b)  (binomial
 *   likelihood of the flows seen so far; the binomial coefficients cancel),
 *   pi = Beta(1/2, 1/2) (Jeffreys) on each rate, so the numerator is
 *   B(x_a+1/2, n_a-x_a+1/2) B(x_b+1/2, n_b-x_b+1/2) / pi^2 in closed form.
 *   The denominator is the binomial likelihood at the unrestricted MLE when
 *   that satisfies H0 (then E_t <= 1), else at the restricted MLE on the line
 *   p_b = p_a + margin (a concave 1-D maximisation, solved by bisection).
 * The guard fails at the first look where E_t >= 1/alpha.  We work in logs:
 * sl_seq_statistic() is log E_t, sl_seq_threshold() is log(1/alpha).
 *
 * Why it is valid.  Model: each flow's outcome is an independent Bernoulli of
 * its group's rate, the rates are constant during a step, and which group a
 * flow goes to (and when the caller looks) does not depend on outcomes not yet
 * seen.  For the true (p_a*, p_b*) in H0 the denominator is >= L(p_a*, p_b*),
 * so E_t <= integral L dpi / L(p*), a mixture of likelihood ratios, which is a
 * nonnegative martingale with mean 1 in the flow-by-flow filtration.  Ville's
 * inequality gives P(sup over all flows of that martingale >= 1/alpha) <=
 * alpha; the looks are a subset of those times, so any look schedule, any
 * increments and stopping whenever one likes keep P(ever reject) <= alpha.
 * Both numerator and denominator depend only on the four counts, so the order
 * of flows inside a look does not matter and no state is needed.  Nothing is
 * asymptotic: it holds for 0 or 1 bad events, 0.1 % rates, 1 % / 99 %
 * exposures, margin > 0, all-bad groups.  It is conservative: Ville is an
 * inequality, the test overshoots between looks, and the sup over H0 is >=
 * the true likelihood (simulated A/A false alarms are well below alpha).
 *
 * What it costs / what is approximate.  The price of exactness is the
 * mixture's regret: log E_t ~ z^2/2 - log(n_a)/2 - log(n_b)/2 - O(1), so it
 * needs more samples than a fixed-horizon z-test run once (see
 * sluice-guard-sim).  Numerically: lgamma and log of counts up to ~1e9 carry
 * ~1e-5 of absolute error in log E_t; the restricted MLE and the bounds are
 * bisections to double precision / 1e-9.  The model is the approximation that
 * matters: correlated failures (a retrying client, one broken backend member
 * hit by many flows) break independence, for this test as for any test on
 * counts.  A minimum sample is not needed for validity (guard.c may want one
 * for operators).
 *
 * sl_ztest_p() is the naive fixed-horizon z-test, for comparison only: run at
 * every look it fails far more often than alpha under H0. */
#ifndef SLUICE_SEQUENTIAL_H
#define SLUICE_SEQUENTIAL_H

#include <stddef.h>
#include <stdint.h>

#define SL_SEQ_ALPHA_DEFAULT 0.01

/* State between looks (a plain struct).  The statistic itself is stateless;
 * the struct keeps the parameters, the last look and the latched verdict. */
struct sl_seq {
	double alpha;
	double margin;
	double log_threshold;   /* log(1/alpha) */
	double log_e;           /* log E_t at the last look */
	double max_log_e;       /* largest log E_t seen */
	uint64_t n_a, x_a;      /* champion counts at the last look */
	uint64_t n_b, x_b;      /* challenger counts at the last look */
	uint64_t looks;         /* accepted looks */
	uint64_t reject_look;   /* 1-based look at which it rejected, 0: not yet */
	int rejected;           /* latched: once 1, stays 1 */
};

/* Parameters: alpha in (0, 0.5), margin in [0, 1).  Returns 0, or -1 with a
 * text naming the field in err ("alpha: 0.7 is outside (0, 0.5)"). */
int sl_seq_check(double alpha, double margin, char *err, size_t errlen);

/* Counts of one look: bad <= total in each group ("challenger: bad 12 > total
 * 10") and, when s is not NULL, no count below the previous look's ("champion:
 * total 90 < 100 at the previous look": a new step needs sl_seq_init).
 * Returns 0, or -1 with the text in err. */
int sl_seq_check_counts(const struct sl_seq *s, uint64_t n_a, uint64_t x_a, uint64_t n_b,
			uint64_t x_b, char *err, size_t errlen);

/* Start a step (parameters as sl_seq_check accepts; others are clamped into
 * range so that the state is never NaN, but check first). */
void sl_seq_init(struct sl_seq *s, double alpha, double margin);

/* One look at cumulative counts.  Returns 1 once H0 is rejected (guard
 * failed: the challenger is worse by more than margin) and from then on;
 * 0 otherwise; -1 when sl_seq_check_counts refuses the counts (state
 * unchanged). */
int sl_seq_look(struct sl_seq *s, uint64_t n_a, uint64_t x_a, uint64_t n_b, uint64_t x_b);

/* log E_t at the last look (0 before any look; <= 0 whenever the observed
 * difference is within margin) and what it is compared with, log(1/alpha). */
double sl_seq_statistic(const struct sl_seq *s);
double sl_seq_threshold(const struct sl_seq *s);

/* Observed bad rates x/n at the last look (0 when n is 0). */
double sl_seq_rate_a(const struct sl_seq *s);
double sl_seq_rate_b(const struct sl_seq *s);

/* Always-valid bounds on p_b - p_a from the last look's counts, by inverting
 * the same test: *lo is the largest d such that H0: p_b - p_a <= d is
 * rejected (so the guard has failed iff *lo > margin, up to the 1e-9 of the
 * search), *hi the same with the groups swapped.  Each holds at every look
 * with probability >= 1 - alpha; together >= 1 - 2 alpha.  No counts: -1, 1. */
void sl_seq_bounds(const struct sl_seq *s, double *lo, double *hi);

/* The statistic alone: log E for H0: p_b - p_a <= d, d in (-1, 1). */
double sl_seq_log_evalue(uint64_t n_a, uint64_t x_a, uint64_t n_b, uint64_t x_b, double d);

/* Comparison only: one-sided p-value of the fixed-horizon two-proportion
 * z-test of H0: p_b - p_a <= margin (pooled variance when margin is 0,
 * unpooled otherwise).  1 when a group has no flows or the variance is 0 and
 * the difference is within margin, 0 when the variance is 0 and it is not. */
double sl_ztest_p(uint64_t n_a, uint64_t x_a, uint64_t n_b, uint64_t x_b, double margin);

#endif
