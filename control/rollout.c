/* Percentage rollout state machine.  Every verb checks the state first and
 * writes nothing until it knows it will succeed; refusals say what the
 * rollout is doing and which verbs are possible. */
#include "config.h"
#include "errmsg.h"
#include "guard.h"
#include "rollout.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define SHARE_MAX_BP 10000u
#define DWELL_MAX_MS (7u * 24 * 3600 * 1000)
#define PAUSE_WAIT "paused until `rollout resume` or `rollout promote`"

_Static_assert(SL_RO_NAME_LEN == SL_NAME_LEN, "a rollout's challenger is a group name");

__attribute__((format(printf, 2, 3)))
static void reason(struct sl_ro_action *a, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(a->reason, sizeof(a->reason), fmt, ap);
	va_end(ap);
}

/* "5.00%": journal reasons show the share the way status does. */
static const char *pct2(char *buf, size_t len, uint16_t bp)
{
	snprintf(buf, len, "%u.%02u%%", bp / 100u, bp % 100u);
	return buf;
}

const char *sl_share_str(uint16_t bp, char *buf, size_t len)
{
	if (bp % 100 == 0)
		snprintf(buf, len, "%u%%", bp / 100);
	else if (bp % 10 == 0)
		snprintf(buf, len, "%u.%u%%", bp / 100, bp % 100 / 10);
	else
		snprintf(buf, len, "%u.%02u%%", bp / 100, bp % 100);
	return buf;
}

/* "500ms", "60s", "40.5s". */
static const char *dur(char *buf, size_t len, uint64_t ms)
{
	unsigned long long s = ms / 1000, f = ms % 1000;

	if (ms < 1000)
		snprintf(buf, len, "%llums", (unsigned long long)ms);
	else if (f == 0)
		snprintf(buf, len, "%llus", s);
	else if (f % 100 == 0)
		snprintf(buf, len, "%llu.%llus", s, f / 100);
	else if (f % 10 == 0)
		snprintf(buf, len, "%llu.%02llus", s, f / 10);
	else
		snprintf(buf, len, "%llu.%03llus", s, f);
	return buf;
}

static const char *challenger(const struct sl_rollout *r)
{
	return r->challenger[0] ? r->challenger : "the challenger";
}

int sl_ro_check_steps(const struct sl_ro_step *steps, uint32_t n, char *err, size_t errlen)
{
	char a[32], b[32];

	if (n == 0)
		return sl_seterr(err, errlen, "no steps (expected 1..%u steps)", SL_RO_MAX_STEPS);
	if (n > SL_RO_MAX_STEPS)
		return sl_seterr(err, errlen, "%u steps (expected at most %u)", n, SL_RO_MAX_STEPS);
	if (!steps)
		return sl_seterr(err, errlen, "no step array for %u steps", n);
	for (uint32_t i = 0; i < n; i++) {
		const struct sl_ro_step *s = &steps[i];

		if (s->share_bp > SHARE_MAX_BP)
			return sl_seterr(err, errlen, "step %u: share %ubp is above 100%% (expected "
				      "0%%..100%%)", i + 1, s->share_bp);
		if (s->pause > 1)
			return sl_seterr(err, errlen, "step %u: pause is %u (expected 0 or 1)", i + 1,
				      s->pause);
		if (s->pause && s->dwell_ms)
			return sl_seterr(err, errlen, "step %u: a pause step has no dwell (dwell %s "
				      "given; expected a dwell or a pause, not both)", i + 1,
				      dur(a, sizeof(a), s->dwell_ms));
		if (!s->pause && s->dwell_ms == 0)
			return sl_seterr(err, errlen, "step %u: dwell 0ms is below 1ms (expected "
				      "1ms..7 days, or a pause step)", i + 1);
		if (!s->pause && s->dwell_ms > DWELL_MAX_MS)
			return sl_seterr(err, errlen, "step %u: dwell %s is above 7 days (expected "
				      "1ms..7 days, or a pause step)", i + 1,
				      dur(a, sizeof(a), s->dwell_ms));
		if (i > 0 && s->share_bp < steps[i - 1].share_bp)
			return sl_seterr(err, errlen, "step %u: %s after %s: shares must not "
				      "decrease", i + 1, sl_share_str(s->share_bp, a, sizeof(a)),
				      sl_share_str(steps[i - 1].share_bp, b, sizeof(b)));
	}
	return 0;
}

/* What the rollout is doing, as the start of a refusal. */
static const char *describe(const struct sl_rollout *r, char *buf, size_t len)
{
	switch (r->state) {
	case SL_RO_RUNNING:
		snprintf(buf, len, "rollout is running at step %u/%u", r->step + 1, r->nsteps);
		break;
	case SL_RO_PAUSED:
		if (r->operator_pause)
			snprintf(buf, len, "rollout is paused by the operator at step %u/%u",
				 r->step + 1, r->nsteps);
		else
			snprintf(buf, len, "rollout is paused on pause step %u/%u", r->step + 1,
				 r->nsteps);
		break;
	case SL_RO_COMPLETED:
		snprintf(buf, len, "rollout is complete");
		break;
	case SL_RO_ABORTED:
		snprintf(buf, len, "rollout was aborted at step %u/%u", r->step + 1, r->nsteps);
		break;
	default:
		snprintf(buf, len, "no rollout");
		break;
	}
	return buf;
}

/* Refusal of verb in a finished (or absent) rollout. */
static int refuse_idle(const struct sl_rollout *r, const char *verb, char *err, size_t errlen)
{
	char d[64];

	if (r->state == SL_RO_NONE)
		return sl_seterr(err, errlen, "no rollout to %s: use `rollout start` to start one",
			      verb);
	if (r->state == SL_RO_COMPLETED && !strcmp(verb, "abort"))
		return sl_seterr(err, errlen, "rollout is complete, nothing to abort: use `undo` or "
			      "`switch` to go back to the previous champion");
	return sl_seterr(err, errlen, "%s, nothing to %s: use `rollout start` to start a new one",
		      describe(r, d, sizeof(d)), verb);
}

static void clear(struct sl_ro_action *a)
{
	memset(a, 0, sizeof(*a));
}

/* Make step i current at now and say so: "rollout step 2/5: 5.00% (dwell 60s)"
 * after the given lead-in. */
static void enter_step(struct sl_rollout *r, uint32_t i, uint64_t now_ms, struct sl_ro_action *a,
		       const char *lead)
{
	const struct sl_ro_step *s = &r->steps[i];
	char p[32], d[32];

	r->step = i;
	r->step_started_ms = now_ms;
	r->operator_pause = 0;
	r->state = s->pause ? SL_RO_PAUSED : SL_RO_RUNNING;
	r->dwell_left_ms = s->pause ? 0 : s->dwell_ms;
	a->apply = 1;
	a->share_bp = s->share_bp;
	if (s->pause)
		reason(a, "%sstep %u/%u: %s (" PAUSE_WAIT ")", lead, i + 1, r->nsteps,
		       pct2(p, sizeof(p), s->share_bp));
	else
		reason(a, "%sstep %u/%u: %s (dwell %s)", lead, i + 1, r->nsteps,
		       pct2(p, sizeof(p), s->share_bp), dur(d, sizeof(d), s->dwell_ms));
}

/* The challenger becomes champion; detail says how we got here ("" or
 * " (promoted at step 2/5)"). */
static void complete(struct sl_rollout *r, uint64_t now_ms, struct sl_ro_action *a,
		     const char *detail)
{
	r->state = SL_RO_COMPLETED;
	r->step_started_ms = now_ms;
	r->dwell_left_ms = 0;
	r->operator_pause = 0;
	a->apply = 0;
	a->share_bp = 0;
	a->complete = 1;
	reason(a, "rollout complete%s: %s is champion", detail, challenger(r));
}

int sl_ro_start(struct sl_rollout *r, const struct sl_ro_step *steps, uint32_t n,
		uint64_t now_ms, struct sl_ro_action *a, char *err, size_t errlen)
{
	char d[64];

	if (sl_ro_active(r))
		return sl_seterr(err, errlen, "%s, cannot start another: use `rollout promote "
			      "--full` to complete it or `rollout abort` to end it first",
			      describe(r, d, sizeof(d)));
	if (sl_ro_check_steps(steps, n, err, errlen))
		return -1;
	clear(a);
	r->nsteps = n;
	memset(r->steps, 0, sizeof(r->steps));
	memcpy(r->steps, steps, n * sizeof(*steps));
	r->started_ms = now_ms;
	r->nguards = 0;
	memset(r->guards, 0, sizeof(r->guards));
	enter_step(r, 0, now_ms, a, "rollout started: ");
	return 0;
}

int sl_ro_pause(struct sl_rollout *r, uint64_t now_ms, struct sl_ro_action *a, char *err,
		size_t errlen)
{
	uint64_t elapsed;
	char d[64], left[32], dwell[32];

	if (r->state == SL_RO_PAUSED && r->operator_pause)
		return sl_seterr(err, errlen, "%s already: use `rollout resume` to continue, "
			      "`rollout promote` to go to the next step, or `rollout abort`",
			      describe(r, d, sizeof(d)));
	if (r->state == SL_RO_PAUSED)
		return sl_seterr(err, errlen, "%s already: use `rollout resume` or `rollout "
			      "promote` to go to the next step, or `rollout abort`",
			      describe(r, d, sizeof(d)));
	if (r->state != SL_RO_RUNNING)
		return refuse_idle(r, "pause", err, errlen);
	clear(a);
	/* A clock that went back counts as no time spent. */
	elapsed = now_ms > r->step_started_ms ? now_ms - r->step_started_ms : 0;
	r->dwell_left_ms = elapsed < r->dwell_left_ms ? r->dwell_left_ms - elapsed : 0;
	r->step_started_ms = now_ms;
	r->state = SL_RO_PAUSED;
	r->operator_pause = 1;
	reason(a, "rollout paused by operator at step %u/%u (%s of %s dwell left)", r->step + 1,
	       r->nsteps, dur(left, sizeof(left), r->dwell_left_ms),
	       dur(dwell, sizeof(dwell), r->steps[r->step].dwell_ms));
	return 0;
}

/* Next step now, or completion after the last one. */
static void advance(struct sl_rollout *r, uint64_t now_ms, struct sl_ro_action *a,
		    const char *lead, const char *done)
{
	if (r->step + 1 >= r->nsteps)
		complete(r, now_ms, a, done);
	else
		enter_step(r, r->step + 1, now_ms, a, lead);
}

int sl_ro_resume(struct sl_rollout *r, uint64_t now_ms, struct sl_ro_action *a, char *err,
		 size_t errlen)
{
	char d[64], p[32], left[32], dwell[32], done[48];

	if (r->state == SL_RO_RUNNING)
		return sl_seterr(err, errlen, "%s, not paused: use `rollout pause` first, or "
			      "`rollout promote` to go to the next step",
			      describe(r, d, sizeof(d)));
	if (r->state != SL_RO_PAUSED)
		return refuse_idle(r, "resume", err, errlen);
	clear(a);
	if (!r->operator_pause) {
		snprintf(done, sizeof(done), " (resumed after pause step %u/%u)", r->step + 1,
			 r->nsteps);
		advance(r, now_ms, a, "rollout resumed: ", done);
		return 0;
	}
	r->state = SL_RO_RUNNING;
	r->operator_pause = 0;
	r->step_started_ms = now_ms;
	reason(a, "rollout resumed at step %u/%u: %s (%s of %s dwell left)", r->step + 1,
	       r->nsteps, pct2(p, sizeof(p), r->steps[r->step].share_bp),
	       dur(left, sizeof(left), r->dwell_left_ms),
	       dur(dwell, sizeof(dwell), r->steps[r->step].dwell_ms));
	return 0;
}

int sl_ro_promote(struct sl_rollout *r, int full, uint64_t now_ms, struct sl_ro_action *a,
		  char *err, size_t errlen)
{
	char done[48];

	if (!sl_ro_active(r))
		return refuse_idle(r, "promote", err, errlen);
	clear(a);
	snprintf(done, sizeof(done), " (promoted%s at step %u/%u)", full ? " --full" : "",
		 r->step + 1, r->nsteps);
	if (full)
		complete(r, now_ms, a, done);
	else
		advance(r, now_ms, a, "rollout promoted: ", done);
	return 0;
}

int sl_ro_abort(struct sl_rollout *r, uint64_t now_ms, struct sl_ro_action *a, char *err,
		size_t errlen)
{
	if (!sl_ro_active(r))
		return refuse_idle(r, "abort", err, errlen);
	clear(a);
	r->state = SL_RO_ABORTED;
	r->step_started_ms = now_ms;
	r->dwell_left_ms = 0;
	r->operator_pause = 0;
	a->apply = 1;
	a->share_bp = 0;
	reason(a, "rollout aborted at step %u/%u: challenger to 0%%", r->step + 1, r->nsteps);
	return 0;
}

uint64_t sl_ro_deadline(const struct sl_rollout *r)
{
	if (r->state != SL_RO_RUNNING)
		return UINT64_MAX;
	if (r->step_started_ms > UINT64_MAX - r->dwell_left_ms)
		return UINT64_MAX;
	return r->step_started_ms + r->dwell_left_ms;
}

int sl_ro_tick(struct sl_rollout *r, uint64_t now_ms, struct sl_ro_action *a)
{
	char done[32];

	if (r->state != SL_RO_RUNNING || now_ms < sl_ro_deadline(r))
		return 0;
	clear(a);
	/* The next step starts now, not at the missed deadline: every share
	 * gets its whole dwell even after the daemon was away. */
	snprintf(done, sizeof(done), " after step %u/%u", r->step + 1, r->nsteps);
	advance(r, now_ms, a, "rollout ", done);
	return 1;
}

int sl_ro_active(const struct sl_rollout *r)
{
	return r->state == SL_RO_RUNNING || r->state == SL_RO_PAUSED;
}

static const char *const state_names[] = {
	[SL_RO_NONE] = "none",
	[SL_RO_RUNNING] = "running",
	[SL_RO_PAUSED] = "paused",
	[SL_RO_COMPLETED] = "completed",
	[SL_RO_ABORTED] = "aborted",
};

#define NSTATES (sizeof(state_names) / sizeof(state_names[0]))

const char *sl_ro_state_name(enum sl_ro_state s)
{
	if ((unsigned)s >= NSTATES)
		return "invalid";
	return state_names[s];
}

json_t *sl_ro_to_json(const struct sl_rollout *r)
{
	json_t *o, *steps = json_array();

	if (!steps)
		return NULL;
	for (uint32_t i = 0; i < r->nsteps && i < SL_RO_MAX_STEPS; i++) {
		const struct sl_ro_step *s = &r->steps[i];
		json_t *st = s->pause ? json_pack("{s:i, s:b}", "share_bp", (int)s->share_bp,
						   "pause", 1)
				      : json_pack("{s:i, s:I}", "share_bp", (int)s->share_bp,
						  "dwell_ms", (json_int_t)s->dwell_ms);

		if (!st || json_array_append_new(steps, st)) {
			json_decref(steps);
			return NULL;
		}
	}
	o = json_pack("{s:s, s:I, s:o, s:I, s:I, s:b}", "state", sl_ro_state_name(r->state),
		      "step", (json_int_t)r->step, "steps", steps,
		      "step_started_ms", (json_int_t)r->step_started_ms,
		      "dwell_left_ms", (json_int_t)r->dwell_left_ms,
		      "operator_pause", (int)r->operator_pause);
	if (o && r->challenger[0] &&
	    json_object_set_new(o, "challenger", json_string(r->challenger))) {
		json_decref(o);
		return NULL;
	}
	if (o && r->started_ms)
		json_object_set_new(o, "started_ms", json_integer((json_int_t)r->started_ms));
	if (o && r->nguards) {
		json_t *g = json_array();

		for (uint32_t i = 0; g && i < r->nguards && i < SL_RO_MAX_GUARDS; i++)
			json_array_append_new(g, sl_guard_def_json(&r->guards[i]));
		if (!g || json_array_size(g) != r->nguards || json_object_set_new(o, "guards", g)) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* A non-negative integer field at most max; 1 when present, 0 absent, -1 bad. */
static int get_uint(const json_t *o, const char *name, const char *where, uint64_t max,
		    uint64_t *out, char *err, size_t errlen)
{
	const json_t *v = json_object_get(o, name);
	json_int_t x;

	if (!v)
		return 0;
	if (!json_is_integer(v))
		return sl_seterr(err, errlen, "%s%s: not an integer (expected 0..%llu)", where, name,
			      (unsigned long long)max);
	x = json_integer_value(v);
	if (x < 0 || (uint64_t)x > max)
		return sl_seterr(err, errlen, "%s%s: %lld is out of range (expected 0..%llu)", where,
			      name, (long long)x, (unsigned long long)max);
	*out = (uint64_t)x;
	return 1;
}

static int need_uint(const json_t *o, const char *name, const char *where, uint64_t max,
		     uint64_t *out, char *err, size_t errlen)
{
	int rc = get_uint(o, name, where, max, out, err, errlen);

	if (rc == 0)
		return sl_seterr(err, errlen, "%s%s: missing (expected an integer 0..%llu)", where,
			      name, (unsigned long long)max);
	return rc < 0 ? -1 : 0;
}

/* Every key of o must be one of keys (NULL-terminated). */
static int only_keys(const json_t *o, const char *const *keys, const char *where,
		     const char *expect, char *err, size_t errlen)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)o, k, v) {
		bool known = false;

		for (int i = 0; keys[i]; i++)
			known |= !strcmp(keys[i], k);
		if (!known)
			return sl_seterr(err, errlen, "%sunknown field '%s' (expected %s)", where, k,
				      expect);
	}
	return 0;
}

static int step_from_json(const json_t *j, uint32_t i, struct sl_ro_step *s, char *err,
			  size_t errlen)
{
	static const char *const keys[] = { "share_bp", "dwell_ms", "pause", NULL };
	const json_t *pause;
	char where[32];
	uint64_t v;
	int rc;

	if (!json_is_object(j))
		return sl_seterr(err, errlen, "steps[%u]: not an object (expected {\"share_bp\": N, "
			      "\"dwell_ms\": N} or {\"share_bp\": N, \"pause\": true})", i);
	snprintf(where, sizeof(where), "steps[%u]: ", i);
	if (only_keys(j, keys, where, "share_bp, dwell_ms or pause", err, errlen))
		return -1;
	snprintf(where, sizeof(where), "steps[%u].", i);
	if (need_uint(j, "share_bp", where, SHARE_MAX_BP, &v, err, errlen))
		return -1;
	s->share_bp = (uint16_t)v;
	pause = json_object_get(j, "pause");
	if (pause && !json_is_true(pause))
		return sl_seterr(err, errlen, "steps[%u].pause: %s (expected true, or dwell_ms "
			      "instead)", i, json_is_false(pause) ? "false" : "not a boolean");
	rc = get_uint(j, "dwell_ms", where, DWELL_MAX_MS, &v, err, errlen);
	if (rc < 0)
		return -1;
	if (rc > 0 && pause)
		return sl_seterr(err, errlen, "steps[%u]: both dwell_ms and pause (expected one of "
			      "them)", i);
	if (rc == 0 && !pause)
		return sl_seterr(err, errlen, "steps[%u]: neither dwell_ms nor pause (expected one "
			      "of them)", i);
	s->pause = pause ? 1 : 0;
	s->dwell_ms = rc > 0 ? (uint32_t)v : 0;
	return 0;
}

/* The fields agree with each other and with the state. */
static int check_consistent(const struct sl_rollout *r, char *err, size_t errlen)
{
	const char *st = sl_ro_state_name(r->state);
	const struct sl_ro_step *cur = &r->steps[r->step];
	char d[32];

	if (r->state == SL_RO_NONE) {
		if (r->nsteps)
			return sl_seterr(err, errlen, "steps: a rollout in state none has no steps "
				      "(expected [])");
		if (r->step_started_ms || r->dwell_left_ms)
			return sl_seterr(err, errlen, "%s: not 0 in state none (expected 0)",
				      r->step_started_ms ? "step_started_ms" : "dwell_left_ms");
	}
	if (r->operator_pause && r->state != SL_RO_PAUSED)
		return sl_seterr(err, errlen, "operator_pause: true in state %s (expected false "
			      "unless paused)", st);
	if (r->operator_pause && cur->pause)
		return sl_seterr(err, errlen, "operator_pause: true on pause step %u (expected "
			      "false: a pause step waits without an operator pause)", r->step + 1);
	if (r->state == SL_RO_PAUSED && !r->operator_pause && !cur->pause)
		return sl_seterr(err, errlen, "operator_pause: false but step %u is not a pause "
			      "step (expected true, or a pause step)", r->step + 1);
	if (r->state == SL_RO_RUNNING && cur->pause)
		return sl_seterr(err, errlen, "state: running on pause step %u (expected paused)",
			      r->step + 1);
	if ((r->state == SL_RO_RUNNING || r->state == SL_RO_PAUSED) &&
	    r->dwell_left_ms > cur->dwell_ms)
		return sl_seterr(err, errlen, "dwell_left_ms: %llu is more than the %s dwell of "
			      "step %u (expected 0..%u)", (unsigned long long)r->dwell_left_ms,
			      dur(d, sizeof(d), cur->dwell_ms), r->step + 1, cur->dwell_ms);
	if ((r->state == SL_RO_COMPLETED || r->state == SL_RO_ABORTED) && r->dwell_left_ms)
		return sl_seterr(err, errlen, "dwell_left_ms: %llu in state %s (expected 0)",
			      (unsigned long long)r->dwell_left_ms, st);
	return 0;
}

int sl_ro_from_json(struct sl_rollout *r, const json_t *j, char *err, size_t errlen)
{
	static const char *const keys[] = {
		"state", "step", "steps", "step_started_ms", "dwell_left_ms", "operator_pause",
		"challenger", "started_ms", "guards", NULL
	};
	struct sl_rollout t;
	const json_t *v, *steps;
	uint64_t u;
	size_t i;
	char msg[256];

	memset(&t, 0, sizeof(t));
	if (!json_is_object(j))
		return sl_seterr(err, errlen, "rollout: not an object (expected {\"state\": ..., "
			      "\"step\": ..., \"steps\": [...], ...})");
	if (only_keys(j, keys, "rollout: ", "state, step, steps, step_started_ms, "
		      "dwell_left_ms, operator_pause, challenger, started_ms or guards", err,
		      errlen))
		return -1;

	v = json_object_get(j, "state");
	if (!v)
		return sl_seterr(err, errlen, "state: missing (expected none, running, paused, "
			      "completed or aborted)");
	if (!json_is_string(v))
		return sl_seterr(err, errlen, "state: not a string (expected none, running, paused, "
			      "completed or aborted)");
	for (i = 0; i < NSTATES; i++)
		if (!strcmp(json_string_value(v), state_names[i]))
			break;
	if (i == NSTATES)
		return sl_seterr(err, errlen, "state: '%s' is not a rollout state (expected none, "
			      "running, paused, completed or aborted)", json_string_value(v));
	t.state = (enum sl_ro_state)i;

	steps = json_object_get(j, "steps");
	if (!steps || !json_is_array(steps))
		return sl_seterr(err, errlen, "steps: %s (expected an array of 1..%u steps)",
			      steps ? "not an array" : "missing", SL_RO_MAX_STEPS);
	if (json_array_size(steps) > SL_RO_MAX_STEPS)
		return sl_seterr(err, errlen, "steps: %zu steps (expected at most %u)",
			      json_array_size(steps), SL_RO_MAX_STEPS);
	t.nsteps = (uint32_t)json_array_size(steps);
	for (i = 0; i < t.nsteps; i++)
		if (step_from_json(json_array_get(steps, i), (uint32_t)i, &t.steps[i], err,
				   errlen))
			return -1;
	if (t.state != SL_RO_NONE && sl_ro_check_steps(t.steps, t.nsteps, msg, sizeof(msg)))
		return sl_seterr(err, errlen, "steps: %s", msg);

	if (need_uint(j, "step", "", SL_RO_MAX_STEPS - 1, &u, err, errlen))
		return -1;
	if (t.state == SL_RO_NONE && u != 0)
		return sl_seterr(err, errlen, "step: %llu in state none (expected 0)",
			      (unsigned long long)u);
	if (t.state != SL_RO_NONE && u >= t.nsteps)
		return sl_seterr(err, errlen, "step: %llu is out of range (expected 0..%u, the index "
			      "of one of the %u steps)", (unsigned long long)u, t.nsteps - 1,
			      t.nsteps);
	t.step = (uint32_t)u;
	if (need_uint(j, "step_started_ms", "", INT64_MAX, &t.step_started_ms, err, errlen) ||
	    need_uint(j, "dwell_left_ms", "", INT64_MAX, &t.dwell_left_ms, err, errlen))
		return -1;

	v = json_object_get(j, "operator_pause");
	if (!v || !json_is_boolean(v))
		return sl_seterr(err, errlen, "operator_pause: %s (expected true or false)",
			      v ? "not a boolean" : "missing");
	t.operator_pause = json_is_true(v) ? 1 : 0;

	v = json_object_get(j, "challenger");
	if (v && !json_is_string(v))
		return sl_seterr(err, errlen, "challenger: not a string (expected a group name of "
			      SL_NAME_RULE ")");
	if (v && !sl_name_valid(json_string_value(v)))
		return sl_seterr(err, errlen, "challenger: '%s' is not a group name (expected "
			      SL_NAME_RULE ")", json_string_value(v));
	if (v)
		snprintf(t.challenger, sizeof(t.challenger), "%s", json_string_value(v));
	if (get_uint(j, "started_ms", "", INT64_MAX, &t.started_ms, err, errlen) < 0)
		return -1;
	v = json_object_get(j, "guards");
	if (v && (!json_is_array(v) || json_array_size(v) > SL_RO_MAX_GUARDS))
		return sl_seterr(err, errlen, "guards: %s (expected an array of at most %u guards)",
				 json_is_array(v) ? "too many" : "not an array", SL_RO_MAX_GUARDS);
	for (i = 0; v && i < json_array_size(v); i++) {
		char where[32];

		snprintf(where, sizeof(where), "guards[%zu]", i);
		if (sl_guard_def_from_json(&t.guards[i], json_array_get(v, i), where, err, errlen))
			return -1;
	}
	t.nguards = v ? (uint32_t)json_array_size(v) : 0;
	if (check_consistent(&t, err, errlen))
		return -1;
	*r = t;
	return 0;
}
