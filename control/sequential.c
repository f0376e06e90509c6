/* Always-valid sequential test for rollout guards: see sequential.h for the
 * statistic and why it is valid. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>

#include "sequential.h"

/* x log y with 0 log 0 = 0, so that empty or all-bad groups stay finite. */
static double xlogy(double x, double y)
{
	return x == 0.0 ? 0.0 : x * log(y);
}

static double clamp01(double p)
{
	return p < 0.0 ? 0.0 : (p > 1.0 ? 1.0 : p);
}

/* Binomial log-likelihood (without the coefficients, which cancel in E). */
static double loglik(double x, double g, double p)
{
	p = clamp01(p);
	return xlogy(x, p) + xlogy(g, 1.0 - p);
}

/* log of the Jeffreys mixture: B(x+1/2, g+1/2) / B(1/2, 1/2). */
static double logmix(double x, double g)
{
	return lgamma(x + 0.5) + lgamma(g + 0.5) - lgamma(x + g + 1.0) - log(M_PI);
}

/* The likelihood on the line p_b = p_a + d, as a function of p = p_a. */
static double line_ll(double xa, double ga, double xb, double gb, double d, double p)
{
	return loglik(xa, ga, p) + loglik(xb, gb, p + d);
}

/* sup of the log-likelihood over H0: p_b - p_a <= d. */
static double null_max(double xa, double ga, double xb, double gb, double d)
{
	double na = xa + ga, nb = xb + gb;
	/* An empty group's rate is free: pick the one that helps H0 most. */
	double pa = na > 0 ? xa / na : 1.0, pb = nb > 0 ? xb / nb : 0.0;
	double lo, hi, a, b, best, v;
	int i;

	if (pb - pa <= d)
		return loglik(xa, ga, pa) + loglik(xb, gb, pb);
	/* The unrestricted maximum is outside H0 and the likelihood is concave,
	 * so the restricted maximum lies on the line: bisect on its slope. */
	lo = d < 0 ? -d : 0.0;
	hi = d > 0 ? 1.0 - d : 1.0;
	a = lo;
	b = hi;
	for (i = 0; i < 200; i++) {
		double m = 0.5 * (a + b), q = m + d;
		double slope;

		if (m <= a || m >= b)
			break;
		slope = (xa > 0 ? xa / m : 0.0) - (ga > 0 ? ga / (1.0 - m) : 0.0) +
			(xb > 0 ? xb / q : 0.0) - (gb > 0 ? gb / (1.0 - q) : 0.0);
		if (slope > 0)
			a = m;
		else
			b = m;
	}
	best = line_ll(xa, ga, xb, gb, d, 0.5 * (a + b));
	/* The maximum may sit at an end of the segment (e.g. no bad champion
	 * flow and margin > 0). */
	v = line_ll(xa, ga, xb, gb, d, lo);
	if (v > best)
		best = v;
	v = line_ll(xa, ga, xb, gb, d, hi);
	if (v > best)
		best = v;
	return best;
}

double sl_seq_log_evalue(uint64_t n_a, uint64_t x_a, uint64_t n_b, uint64_t x_b, double d)
{
	double xa = (double)x_a, ga = (double)(n_a - x_a);
	double xb = (double)x_b, gb = (double)(n_b - x_b);

	if (x_a > n_a || x_b > n_b || !(d > -1.0 && d < 1.0))
		return 0.0;
	return logmix(xa, ga) + logmix(xb, gb) - null_max(xa, ga, xb, gb, d);
}

int sl_seq_check(double alpha, double margin, char *err, size_t errlen)
{
	if (!(alpha > 0.0 && alpha < 0.5)) {
		snprintf(err, errlen, "alpha: %g is outside (0, 0.5)", alpha);
		return -1;
	}
	if (!(margin >= 0.0 && margin < 1.0)) {
		snprintf(err, errlen, "margin: %g is outside [0, 1)", margin);
		return -1;
	}
	return 0;
}

static int check_group(const char *who, uint64_t n, uint64_t x, uint64_t pn, uint64_t px,
		       int prev, char *err, size_t errlen)
{
	if (x > n) {
		snprintf(err, errlen, "%s: bad %" PRIu64 " > total %" PRIu64, who, x, n);
		return -1;
	}
	if (prev && n < pn) {
		snprintf(err, errlen, "%s: total %" PRIu64 " < %" PRIu64 " at the previous look", who,
			 n, pn);
		return -1;
	}
	if (prev && x < px) {
		snprintf(err, errlen, "%s: bad %" PRIu64 " < %" PRIu64 " at the previous look", who, x,
			 px);
		return -1;
	}
	return 0;
}

int sl_seq_check_counts(const struct sl_seq *s, uint64_t n_a, uint64_t x_a, uint64_t n_b,
			uint64_t x_b, char *err, size_t errlen)
{
	int prev = s && s->looks > 0;

	if (check_group("champion", n_a, x_a, prev ? s->n_a : 0, prev ? s->x_a : 0, prev, err,
			errlen))
		return -1;
	return check_group("challenger", n_b, x_b, prev ? s->n_b : 0, prev ? s->x_b : 0, prev, err,
			   errlen);
}

void sl_seq_init(struct sl_seq *s, double alpha, double margin)
{
	*s = (struct sl_seq){0};
	s->alpha = alpha > 0.0 && alpha < 0.5 ? alpha : SL_SEQ_ALPHA_DEFAULT;
	s->margin = margin >= 0.0 && margin < 1.0 ? margin : 0.0;
	s->log_threshold = -log(s->alpha);
	s->max_log_e = -INFINITY;
}

int sl_seq_look(struct sl_seq *s, uint64_t n_a, uint64_t x_a, uint64_t n_b, uint64_t x_b)
{
	char err[128];

	if (sl_seq_check_counts(s, n_a, x_a, n_b, x_b, err, sizeof(err)))
		return -1;
	s->n_a = n_a;
	s->x_a = x_a;
	s->n_b = n_b;
	s->x_b = x_b;
	s->looks++;
	s->log_e = sl_seq_log_evalue(n_a, x_a, n_b, x_b, s->margin);
	if (s->log_e > s->max_log_e)
		s->max_log_e = s->log_e;
	/* Ville bounds the first crossing: later values may fall back, the
	 * verdict may not. */
	if (!s->rejected && s->log_e >= s->log_threshold) {
		s->rejected = 1;
		s->reject_look = s->looks;
	}
	return s->rejected;
}

double sl_seq_statistic(const struct sl_seq *s)
{
	return s->log_e;
}

double sl_seq_threshold(const struct sl_seq *s)
{
	return s->log_threshold;
}

double sl_seq_rate_a(const struct sl_seq *s)
{
	return s->n_a ? (double)s->x_a / (double)s->n_a : 0.0;
}

double sl_seq_rate_b(const struct sl_seq *s)
{
	return s->n_b ? (double)s->x_b / (double)s->n_b : 0.0;
}

/* Largest d in (-1, observed difference] with log E(d) >= t; log E is
 * non-increasing in d (the null grows with d), so bisect. */
static double lower_bound(uint64_t n_a, uint64_t x_a, uint64_t n_b, uint64_t x_b, double t)
{
	double a = -1.0 + 1e-12, b;

	if (n_a == 0 || n_b == 0)
		return -1.0;
	b = (double)x_b / (double)n_b - (double)x_a / (double)n_a;
	if (sl_seq_log_evalue(n_a, x_a, n_b, x_b, a) < t)
		return -1.0;
	while (b - a > 1e-9) {
		double m = 0.5 * (a + b);

		if (sl_seq_log_evalue(n_a, x_a, n_b, x_b, m) >= t)
			a = m;
		else
			b = m;
	}
	return a;
}

void sl_seq_bounds(const struct sl_seq *s, double *lo, double *hi)
{
	*lo = lower_bound(s->n_a, s->x_a, s->n_b, s->x_b, s->log_threshold);
	*hi = -lower_bound(s->n_b, s->x_b, s->n_a, s->x_a, s->log_threshold);
}

double sl_ztest_p(uint64_t n_a, uint64_t x_a, uint64_t n_b, uint64_t x_b, double margin)
{
	double na = (double)n_a, nb = (double)n_b, pa, pb, var, diff;

	if (n_a == 0 || n_b == 0 || x_a > n_a || x_b > n_b)
		return 1.0;
	pa = (double)x_a / na;
	pb = (double)x_b / nb;
	diff = pb - pa - margin;
	if (margin == 0.0) {
		double p = ((double)x_a + (double)x_b) / (na + nb);

		var = p * (1.0 - p) * (1.0 / na + 1.0 / nb);
	} else {
		var = pa * (1.0 - pa) / na + pb * (1.0 - pb) / nb;
	}
	if (!(var > 0.0))
		return diff > 0.0 ? 0.0 : 1.0;
	return 0.5 * erfc(diff / sqrt(var) / M_SQRT2);
}
