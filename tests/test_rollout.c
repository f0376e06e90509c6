/* Rollout engine and plans: every verb and the timer from every state (state,
 * step, action, reason or refusal text), dwell accounting across pauses,
 * exact deadlines, journal round trips and restarts, and every plan error
 * by its text. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "config.h"
#include "rollout.h"
#include "unit.h"

#ifndef SL_SOURCE_ROOT
#define SL_SOURCE_ROOT "."
#endif

#define SEC 1000ull
#define T0 1700000000000ull /* a wall-clock start, far from 0 */

static char err[512];

#define ASSERT_STR(got, want) \
	do { \
		const char *g_ = (got), *w_ = (want); \
		if (strcmp(g_, w_)) \
			fprintf(stderr, "\n  got:  %s\n  want: %s\n", g_, w_); \
		CU_ASSERT_STRING_EQUAL(g_, w_); \
	} while (0)

/* 1% 60s, 5% pause, 20% 60s, 50% 60s, 100% 60s. */
static const struct sl_ro_step plan5[] = {
	{ .share_bp = 100, .dwell_ms = 60000 },
	{ .share_bp = 500, .pause = 1 },
	{ .share_bp = 2000, .dwell_ms = 60000 },
	{ .share_bp = 5000, .dwell_ms = 60000 },
	{ .share_bp = 10000, .dwell_ms = 60000 },
};

static void fresh(struct sl_rollout *r, const char *challenger)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->challenger, sizeof(r->challenger), "%s", challenger);
}

static void must_ok(int rc)
{
	if (rc)
		fprintf(stderr, "\n  unexpected refusal: %s\n", err);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
}

enum from { F_NONE, F_RUNNING, F_PAUSED_OP, F_PAUSED_STEP, F_COMPLETED, F_ABORTED };

/* Drive r into a state with the verbs themselves; returns the "now" at which
 * the transition under test happens.
 *  running:     step 3/5 (20%), started at T0+70s, 60s dwell, now T0+90s
 *  paused (op): the same, paused at T0+90s with 40s left, now T0+100s
 *  pause step:  step 2/5 (5%, pause), reached at T0+60s, now T0+80s
 *  completed / aborted: from running at T0+90s, now T0+100s */
static uint64_t setup(struct sl_rollout *r, enum from f)
{
	struct sl_ro_action a;

	fresh(r, "green");
	if (f == F_NONE)
		return T0;
	must_ok(sl_ro_start(r, plan5, 5, T0, &a, err, sizeof(err)));
	CU_ASSERT_EQUAL_FATAL(sl_ro_tick(r, T0 + 60 * SEC, &a), 1);
	if (f == F_PAUSED_STEP)
		return T0 + 80 * SEC;
	must_ok(sl_ro_resume(r, T0 + 70 * SEC, &a, err, sizeof(err)));
	switch (f) {
	case F_RUNNING:
		return T0 + 90 * SEC;
	case F_PAUSED_OP:
		must_ok(sl_ro_pause(r, T0 + 90 * SEC, &a, err, sizeof(err)));
		break;
	case F_COMPLETED:
		must_ok(sl_ro_promote(r, 1, T0 + 90 * SEC, &a, err, sizeof(err)));
		break;
	case F_ABORTED:
		must_ok(sl_ro_abort(r, T0 + 90 * SEC, &a, err, sizeof(err)));
		break;
	default:
		break;
	}
	return T0 + 100 * SEC;
}

enum verb { V_START, V_PAUSE, V_RESUME, V_PROMOTE, V_FULL, V_ABORT, V_TICK, V_TICK_LATE };

/* rc: 0/-1 for verbs, 1/0 for ticks.  text: reason on success, error on
 * refusal, NULL for a tick that does nothing. */
struct tcase {
	enum from from;
	enum verb verb;
	int rc;
	enum sl_ro_state state;
	uint32_t step;
	int apply;
	uint16_t share_bp;
	int complete;
	uint64_t deadline; /* after the transition, offset from T0 (UINT64_MAX: none) */
	const char *text;
};

#define NO_DL UINT64_MAX
#define START_OK(from) \
	{ from, V_START, 0, SL_RO_RUNNING, 0, 1, 100, 0, 100 * SEC + 60 * SEC, \
	  "rollout started: step 1/5: 1.00% (dwell 60s)" }
#define REFUSE(from, verb, text) { from, verb, -1, 0, 0, 0, 0, 0, 0, text }
#define IDLE_TICKS(from) \
	{ from, V_TICK, 0, 0, 0, 0, 0, 0, 0, NULL }, \
	{ from, V_TICK_LATE, 0, 0, 0, 0, 0, 0, 0, NULL }

static const struct tcase cases[] = {
	/* none */
	{ F_NONE, V_START, 0, SL_RO_RUNNING, 0, 1, 100, 0, 60 * SEC,
	  "rollout started: step 1/5: 1.00% (dwell 60s)" },
	REFUSE(F_NONE, V_PAUSE, "no rollout to pause: use `rollout start` to start one"),
	REFUSE(F_NONE, V_RESUME, "no rollout to resume: use `rollout start` to start one"),
	REFUSE(F_NONE, V_PROMOTE, "no rollout to promote: use `rollout start` to start one"),
	REFUSE(F_NONE, V_FULL, "no rollout to promote: use `rollout start` to start one"),
	REFUSE(F_NONE, V_ABORT, "no rollout to abort: use `rollout start` to start one"),
	IDLE_TICKS(F_NONE),

	/* running at step 3/5 */
	REFUSE(F_RUNNING, V_START, "rollout is running at step 3/5, cannot start another: use "
	       "`rollout promote --full` to complete it or `rollout abort` to end it first"),
	{ F_RUNNING, V_PAUSE, 0, SL_RO_PAUSED, 2, 0, 0, 0, NO_DL,
	  "rollout paused by operator at step 3/5 (40s of 60s dwell left)" },
	REFUSE(F_RUNNING, V_RESUME, "rollout is running at step 3/5, not paused: use `rollout "
	       "pause` first, or `rollout promote` to go to the next step"),
	{ F_RUNNING, V_PROMOTE, 0, SL_RO_RUNNING, 3, 1, 5000, 0, 90 * SEC + 60 * SEC,
	  "rollout promoted: step 4/5: 50.00% (dwell 60s)" },
	{ F_RUNNING, V_FULL, 0, SL_RO_COMPLETED, 2, 0, 0, 1, NO_DL,
	  "rollout complete (promoted --full at step 3/5): green is champion" },
	{ F_RUNNING, V_ABORT, 0, SL_RO_ABORTED, 2, 1, 0, 0, NO_DL,
	  "rollout aborted at step 3/5: challenger to 0%" },
	{ F_RUNNING, V_TICK, 0, 0, 0, 0, 0, 0, 0, NULL },
	{ F_RUNNING, V_TICK_LATE, 1, SL_RO_RUNNING, 3, 1, 5000, 0, 1000 * SEC + 60 * SEC,
	  "rollout step 4/5: 50.00% (dwell 60s)" },

	/* paused by the operator at step 3/5, 40s left */
	REFUSE(F_PAUSED_OP, V_START, "rollout is paused by the operator at step 3/5, cannot "
	       "start another: use `rollout promote --full` to complete it or `rollout abort` "
	       "to end it first"),
	REFUSE(F_PAUSED_OP, V_PAUSE, "rollout is paused by the operator at step 3/5 already: "
	       "use `rollout resume` to continue, `rollout promote` to go to the next step, or "
	       "`rollout abort`"),
	{ F_PAUSED_OP, V_RESUME, 0, SL_RO_RUNNING, 2, 0, 0, 0, 100 * SEC + 40 * SEC,
	  "rollout resumed at step 3/5: 20.00% (40s of 60s dwell left)" },
	{ F_PAUSED_OP, V_PROMOTE, 0, SL_RO_RUNNING, 3, 1, 5000, 0, 100 * SEC + 60 * SEC,
	  "rollout promoted: step 4/5: 50.00% (dwell 60s)" },
	{ F_PAUSED_OP, V_FULL, 0, SL_RO_COMPLETED, 2, 0, 0, 1, NO_DL,
	  "rollout complete (promoted --full at step 3/5): green is champion" },
	{ F_PAUSED_OP, V_ABORT, 0, SL_RO_ABORTED, 2, 1, 0, 0, NO_DL,
	  "rollout aborted at step 3/5: challenger to 0%" },
	IDLE_TICKS(F_PAUSED_OP),

	/* paused on pause step 2/5 */
	REFUSE(F_PAUSED_STEP, V_START, "rollout is paused on pause step 2/5, cannot start "
	       "another: use `rollout promote --full` to complete it or `rollout abort` to end "
	       "it first"),
	REFUSE(F_PAUSED_STEP, V_PAUSE, "rollout is paused on pause step 2/5 already: use "
	       "`rollout resume` or `rollout promote` to go to the next step, or `rollout "
	       "abort`"),
	{ F_PAUSED_STEP, V_RESUME, 0, SL_RO_RUNNING, 2, 1, 2000, 0, 80 * SEC + 60 * SEC,
	  "rollout resumed: step 3/5: 20.00% (dwell 60s)" },
	{ F_PAUSED_STEP, V_PROMOTE, 0, SL_RO_RUNNING, 2, 1, 2000, 0, 80 * SEC + 60 * SEC,
	  "rollout promoted: step 3/5: 20.00% (dwell 60s)" },
	{ F_PAUSED_STEP, V_FULL, 0, SL_RO_COMPLETED, 1, 0, 0, 1, NO_DL,
	  "rollout complete (promoted --full at step 2/5): green is champion" },
	{ F_PAUSED_STEP, V_ABORT, 0, SL_RO_ABORTED, 1, 1, 0, 0, NO_DL,
	  "rollout aborted at step 2/5: challenger to 0%" },
	IDLE_TICKS(F_PAUSED_STEP),

	/* completed */
	START_OK(F_COMPLETED),
	REFUSE(F_COMPLETED, V_PAUSE, "rollout is complete, nothing to pause: use `rollout "
	       "start` to start a new one"),
	REFUSE(F_COMPLETED, V_RESUME, "rollout is complete, nothing to resume: use `rollout "
	       "start` to start a new one"),
	REFUSE(F_COMPLETED, V_PROMOTE, "rollout is complete, nothing to promote: use `rollout "
	       "start` to start a new one"),
	REFUSE(F_COMPLETED, V_FULL, "rollout is complete, nothing to promote: use `rollout "
	       "start` to start a new one"),
	REFUSE(F_COMPLETED, V_ABORT, "rollout is complete, nothing to abort: use `undo` or "
	       "`switch` to go back to the previous champion"),
	IDLE_TICKS(F_COMPLETED),

	/* aborted at step 3/5 */
	START_OK(F_ABORTED),
	REFUSE(F_ABORTED, V_PAUSE, "rollout was aborted at step 3/5, nothing to pause: use "
	       "`rollout start` to start a new one"),
	REFUSE(F_ABORTED, V_RESUME, "rollout was aborted at step 3/5, nothing to resume: use "
	       "`rollout start` to start a new one"),
	REFUSE(F_ABORTED, V_PROMOTE, "rollout was aborted at step 3/5, nothing to promote: use "
	       "`rollout start` to start a new one"),
	REFUSE(F_ABORTED, V_FULL, "rollout was aborted at step 3/5, nothing to promote: use "
	       "`rollout start` to start a new one"),
	REFUSE(F_ABORTED, V_ABORT, "rollout was aborted at step 3/5, nothing to abort: use "
	       "`rollout start` to start a new one"),
	IDLE_TICKS(F_ABORTED),
};

static const char *const from_names[] = {
	"none", "running", "paused (operator)", "paused (pause step)", "completed", "aborted"
};
static const char *const verb_names[] = {
	"start", "pause", "resume", "promote", "promote --full", "abort", "tick", "late tick"
};

static void run_case(const struct tcase *c)
{
	struct sl_rollout r, before;
	struct sl_ro_action a, sentinel;
	uint64_t now = setup(&r, c->from);
	int rc = 0;

	memset(&sentinel, 0x5a, sizeof(sentinel));
	a = sentinel;
	before = r;
	/* A late tick comes long after any dwell. */
	if (c->verb == V_TICK_LATE)
		now = T0 + 1000 * SEC;
	err[0] = '\0';
	switch (c->verb) {
	case V_START:
		rc = sl_ro_start(&r, plan5, 5, now, &a, err, sizeof(err));
		break;
	case V_PAUSE:
		rc = sl_ro_pause(&r, now, &a, err, sizeof(err));
		break;
	case V_RESUME:
		rc = sl_ro_resume(&r, now, &a, err, sizeof(err));
		break;
	case V_PROMOTE:
	case V_FULL:
		rc = sl_ro_promote(&r, c->verb == V_FULL, now, &a, err, sizeof(err));
		break;
	case V_ABORT:
		rc = sl_ro_abort(&r, now, &a, err, sizeof(err));
		break;
	case V_TICK:
	case V_TICK_LATE:
		rc = sl_ro_tick(&r, now, &a);
		break;
	}
	if (rc != c->rc)
		fprintf(stderr, "\n  %s, %s: rc %d, expected %d (%s)\n", from_names[c->from],
			verb_names[c->verb], rc, c->rc, err);
	CU_ASSERT_EQUAL(rc, c->rc);
	if (rc == -1 || ((c->verb == V_TICK || c->verb == V_TICK_LATE) && rc == 0)) {
		/* Refused or nothing due: nothing changed, no action written. */
		CU_ASSERT(memcmp(&r, &before, sizeof(r)) == 0);
		CU_ASSERT(memcmp(&a, &sentinel, sizeof(a)) == 0);
		if (c->text)
			ASSERT_STR(err, c->text);
		return;
	}
	if (r.state != c->state || r.step != c->step)
		fprintf(stderr, "\n  %s, %s: state %s step %u, expected %s step %u\n",
			from_names[c->from], verb_names[c->verb], sl_ro_state_name(r.state),
			r.step, sl_ro_state_name(c->state), c->step);
	CU_ASSERT_EQUAL(r.state, c->state);
	CU_ASSERT_EQUAL(r.step, c->step);
	CU_ASSERT_EQUAL(a.apply, c->apply);
	CU_ASSERT_EQUAL(a.share_bp, c->share_bp);
	CU_ASSERT_EQUAL(a.complete, c->complete);
	CU_ASSERT_EQUAL(sl_ro_deadline(&r), c->deadline == NO_DL ? NO_DL : T0 + c->deadline);
	CU_ASSERT_EQUAL(sl_ro_active(&r), c->state == SL_RO_RUNNING || c->state == SL_RO_PAUSED);
	ASSERT_STR(a.reason, c->text);
	CU_ASSERT_STRING_EQUAL(r.challenger, "green");
}

static void test_matrix(void)
{
	unsigned seen[F_ABORTED + 1] = { 0 };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run_case(&cases[i]);
		seen[cases[i].from] |= 1u << cases[i].verb;
	}
	/* Every verb and both ticks from every state. */
	for (unsigned f = 0; f <= F_ABORTED; f++)
		CU_ASSERT_EQUAL(seen[f], (1u << (V_TICK_LATE + 1)) - 1);
}

static void test_setup_states(void)
{
	struct sl_rollout r;

	setup(&r, F_NONE);
	CU_ASSERT_EQUAL(r.state, SL_RO_NONE);
	setup(&r, F_RUNNING);
	CU_ASSERT(r.state == SL_RO_RUNNING && r.step == 2 && !r.operator_pause);
	CU_ASSERT_EQUAL(sl_ro_deadline(&r), T0 + 130 * SEC);
	setup(&r, F_PAUSED_OP);
	CU_ASSERT(r.state == SL_RO_PAUSED && r.step == 2 && r.operator_pause);
	CU_ASSERT_EQUAL(r.dwell_left_ms, 40000);
	setup(&r, F_PAUSED_STEP);
	CU_ASSERT(r.state == SL_RO_PAUSED && r.step == 1 && !r.operator_pause);
	setup(&r, F_COMPLETED);
	CU_ASSERT_EQUAL(r.state, SL_RO_COMPLETED);
	setup(&r, F_ABORTED);
	CU_ASSERT(r.state == SL_RO_ABORTED && r.step == 2);
}

/* The remaining dwell survives pauses to the millisecond. */
static void test_dwell_accounting(void)
{
	static const struct sl_ro_step steps[] = {
		{ .share_bp = 100, .dwell_ms = 60000 }, { .share_bp = 10000, .dwell_ms = 1000 },
	};
	struct sl_rollout r;
	struct sl_ro_action a;
	uint64_t t = T0;

	fresh(&r, "green");
	must_ok(sl_ro_start(&r, steps, 2, t, &a, err, sizeof(err)));
	CU_ASSERT_EQUAL(sl_ro_deadline(&r), t + 60000);

	t += 15250;
	must_ok(sl_ro_pause(&r, t, &a, err, sizeof(err)));
	CU_ASSERT_EQUAL(r.dwell_left_ms, 44750);
	ASSERT_STR(a.reason, "rollout paused by operator at step 1/2 (44.75s of 60s dwell left)");
	CU_ASSERT_EQUAL(a.apply, 0);
	CU_ASSERT_EQUAL(sl_ro_deadline(&r), UINT64_MAX);
	/* A day paused: the timer does nothing. */
	CU_ASSERT_EQUAL(sl_ro_tick(&r, t + 86400 * SEC, &a), 0);

	t += 86400 * SEC;
	must_ok(sl_ro_resume(&r, t, &a, err, sizeof(err)));
	ASSERT_STR(a.reason, "rollout resumed at step 1/2: 1.00% (44.75s of 60s dwell left)");
	CU_ASSERT_EQUAL(a.apply, 0);
	CU_ASSERT_EQUAL(sl_ro_deadline(&r), t + 44750);

	t += 10001;
	must_ok(sl_ro_pause(&r, t, &a, err, sizeof(err)));
	CU_ASSERT_EQUAL(r.dwell_left_ms, 34749);
	ASSERT_STR(a.reason, "rollout paused by operator at step 1/2 (34.749s of 60s dwell left)");
	t += 7;
	must_ok(sl_ro_resume(&r, t, &a, err, sizeof(err)));
	CU_ASSERT_EQUAL(sl_ro_deadline(&r), t + 34749);
	CU_ASSERT_EQUAL(sl_ro_tick(&r, t + 34748, &a), 0);
	CU_ASSERT_EQUAL(r.step, 0);
	CU_ASSERT_EQUAL(sl_ro_tick(&r, t + 34749, &a), 1);
	CU_ASSERT_EQUAL(r.step, 1);
	CU_ASSERT_EQUAL(a.share_bp, 10000);
	ASSERT_STR(a.reason, "rollout step 2/2: 100.00% (dwell 1s)");
	CU_ASSERT_EQUAL(sl_ro_deadline(&r), t + 34749 + 1000);
}

/* Paused after the dwell ran out but before the timer saw it: nothing left,
 * and the step moves on as soon as the rollout is resumed. */
static void test_pause_overdue(void)
{
	static const struct sl_ro_step steps[] = {
		{ .share_bp = 100, .dwell_ms = 500 }, { .share_bp = 300, .dwell_ms = 500 },
	};
	struct sl_rollout r;
	struct sl_ro_action a;

	fresh(&r, "");
	must_ok(sl_ro_start(&r, steps, 2, T0, &a, err, sizeof(err)));
	ASSERT_STR(a.reason, "rollout started: step 1/2: 1.00% (dwell 500ms)");
	must_ok(sl_ro_pause(&r, T0 + 2000, &a, err, sizeof(err)));
	CU_ASSERT_EQUAL(r.dwell_left_ms, 0);
	ASSERT_STR(a.reason, "rollout paused by operator at step 1/2 (0ms of 500ms dwell left)");
	must_ok(sl_ro_resume(&r, T0 + 3000, &a, err, sizeof(err)));
	CU_ASSERT_EQUAL(sl_ro_deadline(&r), T0 + 3000);
	CU_ASSERT_EQUAL(sl_ro_tick(&r, T0 + 3000, &a), 1);
	CU_ASSERT_EQUAL(a.share_bp, 300);
	/* A clock that stepped back spends no dwell and loses none. */
	must_ok(sl_ro_pause(&r, T0 + 2500, &a, err, sizeof(err)));
	CU_ASSERT_EQUAL(r.dwell_left_ms, 500);
	/* No challenger name: the reason still reads. */
	must_ok(sl_ro_promote(&r, 0, T0 + 4000, &a, err, sizeof(err)));
	ASSERT_STR(a.reason, "rollout complete (promoted at step 2/2): the challenger is champion");
}

/* 1, 5, 20, 50, 100 % driven only by the timer at the deadlines it names. */
static void test_full_run(void)
{
	static const struct sl_ro_step steps[] = {
		{ .share_bp = 100, .dwell_ms = 30000 },   { .share_bp = 500, .dwell_ms = 60000 },
		{ .share_bp = 2000, .dwell_ms = 120000 }, { .share_bp = 5000, .dwell_ms = 300000 },
		{ .share_bp = 10000, .dwell_ms = 600000 },
	};
	static const char *const reasons[] = {
		"rollout step 2/5: 5.00% (dwell 60s)",
		"rollout step 3/5: 20.00% (dwell 120s)",
		"rollout step 4/5: 50.00% (dwell 300s)",
		"rollout step 5/5: 100.00% (dwell 600s)",
		"rollout complete after step 5/5: green is champion",
	};
	struct sl_rollout r;
	struct sl_ro_action a;
	uint64_t expect = T0;

	fresh(&r, "green");
	must_ok(sl_ro_start(&r, steps, 5, T0, &a, err, sizeof(err)));
	CU_ASSERT(a.apply == 1 && a.share_bp == 100 && !a.complete);
	ASSERT_STR(a.reason, "rollout started: step 1/5: 1.00% (dwell 30s)");
	for (unsigned i = 0; i < 5; i++) {
		uint64_t d = sl_ro_deadline(&r);

		expect += steps[i].dwell_ms;
		CU_ASSERT_EQUAL(d, expect);
		CU_ASSERT_EQUAL(sl_ro_tick(&r, d - 1, &a), 0);
		CU_ASSERT_EQUAL(r.step, i);
		CU_ASSERT_EQUAL(sl_ro_tick(&r, d, &a), 1);
		ASSERT_STR(a.reason, reasons[i]);
		if (i < 4) {
			CU_ASSERT(r.state == SL_RO_RUNNING && r.step == i + 1);
			CU_ASSERT(a.apply == 1 && a.share_bp == steps[i + 1].share_bp);
			CU_ASSERT_EQUAL(a.complete, 0);
		} else {
			CU_ASSERT_EQUAL(r.state, SL_RO_COMPLETED);
			CU_ASSERT(a.apply == 0 && a.complete == 1);
		}
	}
	CU_ASSERT_EQUAL(expect, T0 + 1110000);
	CU_ASSERT_EQUAL(sl_ro_deadline(&r), UINT64_MAX);
	CU_ASSERT_EQUAL(sl_ro_tick(&r, UINT64_MAX, &a), 0);
	CU_ASSERT_EQUAL(sl_ro_active(&r), 0);
}

static void test_promote_last(void)
{
	static const struct sl_ro_step steps[] = {
		{ .share_bp = 100, .dwell_ms = 1000 }, { .share_bp = 10000, .dwell_ms = 1000 },
	};
	struct sl_rollout r;
	struct sl_ro_action a;

	fresh(&r, "blue");
	must_ok(sl_ro_start(&r, steps, 2, T0, &a, err, sizeof(err)));
	must_ok(sl_ro_promote(&r, 0, T0 + 10, &a, err, sizeof(err)));
	CU_ASSERT(r.step == 1 && a.apply == 1 && a.share_bp == 10000);
	ASSERT_STR(a.reason, "rollout promoted: step 2/2: 100.00% (dwell 1s)");
	must_ok(sl_ro_promote(&r, 0, T0 + 20, &a, err, sizeof(err)));
	CU_ASSERT_EQUAL(r.state, SL_RO_COMPLETED);
	CU_ASSERT(a.complete == 1 && a.apply == 0 && a.share_bp == 0);
	ASSERT_STR(a.reason, "rollout complete (promoted at step 2/2): blue is champion");
}

/* Pause steps first and last: start pauses at once, resume on the last
 * step completes, and the timer can land on a pause step. */
static void test_pause_steps(void)
{
	static const struct sl_ro_step steps[] = {
		{ .share_bp = 0, .pause = 1 }, { .share_bp = 500, .dwell_ms = 2000 },
		{ .share_bp = 2000, .pause = 1 },
	};
	struct sl_rollout r;
	struct sl_ro_action a;

	fresh(&r, "green");
	must_ok(sl_ro_start(&r, steps, 3, T0, &a, err, sizeof(err)));
	CU_ASSERT(r.state == SL_RO_PAUSED && r.step == 0 && !r.operator_pause);
	CU_ASSERT(a.apply == 1 && a.share_bp == 0);
	ASSERT_STR(a.reason, "rollout started: step 1/3: 0.00% (paused until `rollout resume` "
		   "or `rollout promote`)");
	CU_ASSERT_EQUAL(sl_ro_deadline(&r), UINT64_MAX);
	must_ok(sl_ro_resume(&r, T0 + 5, &a, err, sizeof(err)));
	CU_ASSERT(r.state == SL_RO_RUNNING && r.step == 1 && a.share_bp == 500);
	CU_ASSERT_EQUAL(sl_ro_tick(&r, T0 + 2005, &a), 1);
	CU_ASSERT(r.state == SL_RO_PAUSED && r.step == 2 && a.apply && a.share_bp == 2000);
	ASSERT_STR(a.reason, "rollout step 3/3: 20.00% (paused until `rollout resume` or "
		   "`rollout promote`)");
	must_ok(sl_ro_resume(&r, T0 + 9000, &a, err, sizeof(err)));
	CU_ASSERT_EQUAL(r.state, SL_RO_COMPLETED);
	CU_ASSERT(a.complete == 1 && a.apply == 0);
	ASSERT_STR(a.reason, "rollout complete (resumed after pause step 3/3): green is champion");
}

/* Abort from paused, then a new start reuses the engine cleanly. */
static void test_abort_paused_restart(void)
{
	struct sl_rollout r;
	struct sl_ro_action a;
	uint64_t now = setup(&r, F_PAUSED_OP);

	must_ok(sl_ro_abort(&r, now, &a, err, sizeof(err)));
	CU_ASSERT(r.state == SL_RO_ABORTED && a.apply == 1 && a.share_bp == 0);
	CU_ASSERT_EQUAL(r.operator_pause, 0);
	CU_ASSERT_EQUAL(r.dwell_left_ms, 0);
	/* start checks the state before the steps; a bad plan changes nothing. */
	CU_ASSERT_EQUAL(sl_ro_start(&r, plan5, 0, now, &a, err, sizeof(err)), -1);
	ASSERT_STR(err, "no steps (expected 1..32 steps)");
	CU_ASSERT_EQUAL(r.state, SL_RO_ABORTED);
	must_ok(sl_ro_start(&r, plan5 + 2, 3, now, &a, err, sizeof(err)));
	CU_ASSERT(r.state == SL_RO_RUNNING && r.nsteps == 3 && r.step == 0);
	CU_ASSERT_EQUAL(r.steps[3].share_bp, 0); /* nothing left of the old plan */
	ASSERT_STR(a.reason, "rollout started: step 1/3: 20.00% (dwell 60s)");
}

static void test_state_names(void)
{
	CU_ASSERT_STRING_EQUAL(sl_ro_state_name(SL_RO_NONE), "none");
	CU_ASSERT_STRING_EQUAL(sl_ro_state_name(SL_RO_RUNNING), "running");
	CU_ASSERT_STRING_EQUAL(sl_ro_state_name(SL_RO_PAUSED), "paused");
	CU_ASSERT_STRING_EQUAL(sl_ro_state_name(SL_RO_COMPLETED), "completed");
	CU_ASSERT_STRING_EQUAL(sl_ro_state_name(SL_RO_ABORTED), "aborted");
	CU_ASSERT_STRING_EQUAL(sl_ro_state_name((enum sl_ro_state)9), "invalid");
}

static int check_err(const struct sl_ro_step *steps, uint32_t n, const char *want)
{
	int rc;

	err[0] = '\0';
	rc = sl_ro_check_steps(steps, n, err, sizeof(err));
	CU_ASSERT_EQUAL(rc, -1);
	ASSERT_STR(err, want);
	return rc;
}

static void test_check_steps(void)
{
	struct sl_ro_step s[SL_RO_MAX_STEPS + 1];

	for (unsigned i = 0; i <= SL_RO_MAX_STEPS; i++)
		s[i] = (struct sl_ro_step){ .share_bp = (uint16_t)(i * 100), .dwell_ms = 1 };
	CU_ASSERT_EQUAL(sl_ro_check_steps(s, SL_RO_MAX_STEPS, err, sizeof(err)), 0);
	check_err(s, 0, "no steps (expected 1..32 steps)");
	check_err(s, 33, "33 steps (expected at most 32)");

	s[2].share_bp = 50;
	check_err(s, 3, "step 3: 0.5% after 1%: shares must not decrease");
	s[2].share_bp = 100; /* equal is fine */
	CU_ASSERT_EQUAL(sl_ro_check_steps(s, 3, err, sizeof(err)), 0);
	s[1].share_bp = 5000;
	s[2].share_bp = 2000;
	check_err(s, 3, "step 3: 20% after 50%: shares must not decrease");
	s[2].share_bp = 10001;
	check_err(s, 3, "step 3: share 10001bp is above 100% (expected 0%..100%)");
	s[2].share_bp = 10000;
	CU_ASSERT_EQUAL(sl_ro_check_steps(s, 3, err, sizeof(err)), 0);

	s[1].dwell_ms = 0;
	check_err(s, 3, "step 2: dwell 0ms is below 1ms (expected 1ms..7 days, or a pause step)");
	s[1].dwell_ms = 7u * 24 * 3600 * 1000 + 1;
	check_err(s, 3, "step 2: dwell 604800.001s is above 7 days (expected 1ms..7 days, or "
		  "a pause step)");
	s[1].dwell_ms = 7u * 24 * 3600 * 1000;
	CU_ASSERT_EQUAL(sl_ro_check_steps(s, 3, err, sizeof(err)), 0);
	s[1].pause = 1;
	check_err(s, 3, "step 2: a pause step has no dwell (dwell 604800s given; expected a "
		  "dwell or a pause, not both)");
	s[1].dwell_ms = 0;
	CU_ASSERT_EQUAL(sl_ro_check_steps(s, 3, err, sizeof(err)), 0);
	s[1].pause = 2;
	check_err(s, 3, "step 2: pause is 2 (expected 0 or 1)");
}

/* Every state the engine produces survives the journal form unchanged. */
static void test_json_roundtrip(void)
{
	for (int f = F_NONE; f <= F_ABORTED; f++) {
		struct sl_rollout r, back;
		json_t *j, *j2;

		setup(&r, (enum from)f);
		j = sl_ro_to_json(&r);
		CU_ASSERT_PTR_NOT_NULL_FATAL(j);
		memset(&back, 0x5a, sizeof(back));
		if (sl_ro_from_json(&back, j, err, sizeof(err)))
			fprintf(stderr, "\n  %s: %s\n", from_names[f], err);
		CU_ASSERT(memcmp(&r, &back, sizeof(r)) == 0);
		j2 = sl_ro_to_json(&back);
		CU_ASSERT(json_equal(j, j2));
		json_decref(j);
		json_decref(j2);
	}
}

static void test_json_shape(void)
{
	struct sl_rollout r;
	json_t *j;
	char *s;

	setup(&r, F_PAUSED_OP);
	j = sl_ro_to_json(&r);
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	ASSERT_STR(s, "{\"challenger\":\"green\",\"dwell_left_ms\":40000,"
		   "\"operator_pause\":true,\"started_ms\":1700000000000,"
		   "\"state\":\"paused\",\"step\":2,"
		   "\"step_started_ms\":1700000090000,\"steps\":["
		   "{\"dwell_ms\":60000,\"share_bp\":100},{\"pause\":true,\"share_bp\":500},"
		   "{\"dwell_ms\":60000,\"share_bp\":2000},{\"dwell_ms\":60000,\"share_bp\":5000},"
		   "{\"dwell_ms\":60000,\"share_bp\":10000}]}");
	free(s);
	json_decref(j);

	fresh(&r, "");
	j = sl_ro_to_json(&r);
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	ASSERT_STR(s, "{\"dwell_left_ms\":0,\"operator_pause\":false,\"state\":\"none\","
		   "\"step\":0,\"step_started_ms\":0,\"steps\":[]}");
	free(s);
	json_decref(j);
}

/* A daemon restarted from the journal keeps the deadline it had. */
static void test_restart(void)
{
	struct sl_rollout r, back;
	struct sl_ro_action a;
	json_t *j;
	char *text;
	uint64_t deadline;

	setup(&r, F_RUNNING);
	deadline = sl_ro_deadline(&r);
	j = sl_ro_to_json(&r);
	text = json_dumps(j, 0);
	json_decref(j);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	/* ...the daemon dies; a new one reads the journal line... */
	j = json_loads(text, 0, NULL);
	free(text);
	memset(&back, 0, sizeof(back));
	must_ok(sl_ro_from_json(&back, j, err, sizeof(err)));
	json_decref(j);
	CU_ASSERT_EQUAL(sl_ro_deadline(&back), deadline);
	CU_ASSERT_EQUAL(deadline, T0 + 130 * SEC);
	CU_ASSERT_EQUAL(sl_ro_tick(&back, deadline - 1, &a), 0);
	CU_ASSERT_EQUAL(sl_ro_tick(&back, deadline, &a), 1);
	CU_ASSERT(back.step == 3 && a.share_bp == 5000);

	/* Paused by the operator: the remaining dwell comes back exactly. */
	setup(&r, F_PAUSED_OP);
	j = sl_ro_to_json(&r);
	memset(&back, 0, sizeof(back));
	must_ok(sl_ro_from_json(&back, j, err, sizeof(err)));
	json_decref(j);
	must_ok(sl_ro_resume(&back, T0 + 500 * SEC, &a, err, sizeof(err)));
	CU_ASSERT_EQUAL(sl_ro_deadline(&back), T0 + 540 * SEC);
}

/* from_json of text that must be refused with err; r stays as it was. */
static void bad_json(const char *text, const char *want)
{
	struct sl_rollout r, before;
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);

	if (!j)
		fprintf(stderr, "\n  test JSON does not parse: %s: %s\n", text, je.text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	setup(&r, F_RUNNING);
	before = r;
	err[0] = '\0';
	CU_ASSERT_EQUAL(sl_ro_from_json(&r, j, err, sizeof(err)), -1);
	ASSERT_STR(err, want);
	CU_ASSERT(memcmp(&r, &before, sizeof(r)) == 0);
	json_decref(j);
}

#define STEPS3 "\"steps\":[{\"share_bp\":100,\"dwell_ms\":1000},{\"share_bp\":500," \
	"\"pause\":true},{\"share_bp\":1000,\"dwell_ms\":1000}]"
#define TAIL "\"step_started_ms\":5,\"dwell_left_ms\":0,\"operator_pause\":false"

static void test_json_errors(void)
{
	bad_json("[]", "rollout: not an object (expected {\"state\": ..., \"step\": ..., "
		 "\"steps\": [...], ...})");
	bad_json("{\"state\":\"running\",\"step\":0," STEPS3 "," TAIL ",\"colour\":1}",
		 "rollout: unknown field 'colour' (expected state, step, steps, step_started_ms, "
		 "dwell_left_ms, operator_pause, challenger, started_ms or guards)");
	bad_json("{\"step\":0," STEPS3 "," TAIL "}",
		 "state: missing (expected none, running, paused, completed or aborted)");
	bad_json("{\"state\":\"walking\",\"step\":0," STEPS3 "," TAIL "}",
		 "state: 'walking' is not a rollout state (expected none, running, paused, "
		 "completed or aborted)");
	bad_json("{\"state\":3,\"step\":0," STEPS3 "," TAIL "}",
		 "state: not a string (expected none, running, paused, completed or aborted)");
	bad_json("{\"state\":\"completed\",\"step\":3," STEPS3 "," TAIL "}",
		 "step: 3 is out of range (expected 0..2, the index of one of the 3 steps)");
	bad_json("{\"state\":\"completed\",\"step\":-1," STEPS3 "," TAIL "}",
		 "step: -1 is out of range (expected 0..31)");
	bad_json("{\"state\":\"completed\",\"step\":\"1\"," STEPS3 "," TAIL "}",
		 "step: not an integer (expected 0..31)");
	bad_json("{\"state\":\"completed\"," STEPS3 "," TAIL "}",
		 "step: missing (expected an integer 0..31)");
	bad_json("{\"state\":\"none\",\"step\":1,\"steps\":[]," TAIL "}",
		 "step: 1 in state none (expected 0)");
	bad_json("{\"state\":\"none\",\"step\":0," STEPS3 "," TAIL "}",
		 "steps: a rollout in state none has no steps (expected [])");
	bad_json("{\"state\":\"completed\",\"step\":0,\"steps\":[]," TAIL "}",
		 "steps: no steps (expected 1..32 steps)");
	bad_json("{\"state\":\"completed\",\"step\":0,\"steps\":{}," TAIL "}",
		 "steps: not an array (expected an array of 1..32 steps)");
	bad_json("{\"state\":\"completed\",\"step\":0,\"steps\":[{\"share_bp\":900,"
		 "\"dwell_ms\":5},{\"share_bp\":800,\"dwell_ms\":5}]," TAIL "}",
		 "steps: step 2: 8% after 9%: shares must not decrease");
	bad_json("{\"state\":\"completed\",\"step\":0,\"steps\":[{\"share_bp\":10001,"
		 "\"dwell_ms\":5}]," TAIL "}",
		 "steps[0].share_bp: 10001 is out of range (expected 0..10000)");
	bad_json("{\"state\":\"completed\",\"step\":0,\"steps\":[{\"share_bp\":1,"
		 "\"dwell_ms\":5,\"pause\":true}]," TAIL "}",
		 "steps[0]: both dwell_ms and pause (expected one of them)");
	bad_json("{\"state\":\"completed\",\"step\":0,\"steps\":[{\"share_bp\":1}]," TAIL "}",
		 "steps[0]: neither dwell_ms nor pause (expected one of them)");
	bad_json("{\"state\":\"completed\",\"step\":0,\"steps\":[{\"share_bp\":1,"
		 "\"pause\":false}]," TAIL "}",
		 "steps[0].pause: false (expected true, or dwell_ms instead)");
	bad_json("{\"state\":\"completed\",\"step\":0,\"steps\":[{\"share_bp\":1,"
		 "\"dwell_ms\":0}]," TAIL "}",
		 "steps: step 1: dwell 0ms is below 1ms (expected 1ms..7 days, or a pause step)");
	bad_json("{\"state\":\"completed\",\"step\":0,\"steps\":[{\"share\":1,"
		 "\"dwell_ms\":3}]," TAIL "}",
		 "steps[0]: unknown field 'share' (expected share_bp, dwell_ms or pause)");
	bad_json("{\"state\":\"completed\",\"step\":0,\"steps\":[7]," TAIL "}",
		 "steps[0]: not an object (expected {\"share_bp\": N, \"dwell_ms\": N} or "
		 "{\"share_bp\": N, \"pause\": true})");
	bad_json("{\"state\":\"running\",\"step\":1," STEPS3 "," TAIL "}",
		 "state: running on pause step 2 (expected paused)");
	bad_json("{\"state\":\"paused\",\"step\":0," STEPS3 "," TAIL "}",
		 "operator_pause: false but step 1 is not a pause step (expected true, or a "
		 "pause step)");
	bad_json("{\"state\":\"paused\",\"step\":1," STEPS3 ",\"step_started_ms\":5,"
		 "\"dwell_left_ms\":0,\"operator_pause\":true}",
		 "operator_pause: true on pause step 2 (expected false: a pause step waits "
		 "without an operator pause)");
	bad_json("{\"state\":\"running\",\"step\":0," STEPS3 ",\"step_started_ms\":5,"
		 "\"dwell_left_ms\":0,\"operator_pause\":true}",
		 "operator_pause: true in state running (expected false unless paused)");
	bad_json("{\"state\":\"running\",\"step\":0," STEPS3 ",\"step_started_ms\":5,"
		 "\"dwell_left_ms\":1001,\"operator_pause\":false}",
		 "dwell_left_ms: 1001 is more than the 1s dwell of step 1 (expected 0..1000)");
	bad_json("{\"state\":\"aborted\",\"step\":0," STEPS3 ",\"step_started_ms\":5,"
		 "\"dwell_left_ms\":3,\"operator_pause\":false}",
		 "dwell_left_ms: 3 in state aborted (expected 0)");
	bad_json("{\"state\":\"aborted\",\"step\":0," STEPS3 ",\"step_started_ms\":5,"
		 "\"dwell_left_ms\":0,\"operator_pause\":1}",
		 "operator_pause: not a boolean (expected true or false)");
	bad_json("{\"state\":\"aborted\",\"step\":0," STEPS3 ",\"dwell_left_ms\":0,"
		 "\"operator_pause\":false}",
		 "step_started_ms: missing (expected an integer 0..9223372036854775807)");
	bad_json("{\"state\":\"aborted\",\"step\":0," STEPS3 "," TAIL ",\"challenger\":\"Gr en\"}",
		 "challenger: 'Gr en' is not a group name (expected 1..31 characters a-z, 0-9, "
		 "_ or -)");
	bad_json("{\"state\":\"aborted\",\"step\":0," STEPS3 "," TAIL ",\"challenger\":7}",
		 "challenger: not a string (expected a group name of 1..31 characters a-z, 0-9, "
		 "_ or -)");
}

/* Plan files. */

static char plan_path[64];

static int load_plan(const char *text, struct sl_ro_step *steps, uint32_t *n)
{
	size_t len = strlen(text);
	int fd, rc;

	snprintf(plan_path, sizeof(plan_path), "/tmp/sluice-plan-XXXXXX.ini");
	fd = mkstemps(plan_path, 4);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, text, len) == (ssize_t)len);
	close(fd);
	err[0] = '\0';
	rc = sl_plan_load(plan_path, steps, n, err, sizeof(err));
	unlink(plan_path);
	return rc;
}

/* The text must be refused with "PATH: " + want; the outputs stay untouched. */
static void bad_plan(const char *text, const char *want)
{
	struct sl_ro_step steps[SL_RO_MAX_STEPS];
	uint32_t n = 77;
	char full[600];

	memset(steps, 0x5a, sizeof(steps));
	CU_ASSERT_EQUAL(load_plan(text, steps, &n), -1);
	snprintf(full, sizeof(full), "%s: %s", plan_path, want);
	ASSERT_STR(err, full);
	CU_ASSERT_EQUAL(n, 77);
	CU_ASSERT_EQUAL(steps[0].share_bp, 0x5a5a);
}

static void test_plan_example(void)
{
	struct sl_ro_step steps[SL_RO_MAX_STEPS];
	char path[512];
	uint32_t n = 0;

	snprintf(path, sizeof(path), "%s/conf/plans/rollout-example.ini", SL_SOURCE_ROOT);
	if (sl_plan_load(path, steps, &n, err, sizeof(err)))
		fprintf(stderr, "\n  %s\n", err);
	CU_ASSERT_EQUAL_FATAL(n, 5);
	CU_ASSERT(steps[0].share_bp == 100 && !steps[0].pause && steps[0].dwell_ms == 60000);
	CU_ASSERT(steps[1].share_bp == 500 && steps[1].pause && steps[1].dwell_ms == 0);
	CU_ASSERT(steps[2].share_bp == 2000 && !steps[2].pause && steps[2].dwell_ms == 300000);
	CU_ASSERT(steps[3].share_bp == 5000 && !steps[3].pause && steps[3].dwell_ms == 600000);
	CU_ASSERT(steps[4].share_bp == 10000 && !steps[4].pause && steps[4].dwell_ms == 600000);
}

static void test_plan_valid(void)
{
	struct sl_ro_step steps[SL_RO_MAX_STEPS];
	uint32_t n = 0;
	char text[4096];
	size_t len = 0;

	/* Any order in the file, comments, quotes, pause = no next to a dwell,
	 * case-insensitive keys and yes. */
	CU_ASSERT_EQUAL(load_plan("# a plan\n[step 3]\nshare = 0.5%\nPAUSE = Yes\n"
				  "[step 1]\nshare = 10bp ; ten basis points\ndwell = 500ms\n"
				  "[STEP  2]\nshare = \"0.25%\"\ndwell = 2m\npause = no\n",
				  steps, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT(steps[0].share_bp == 10 && steps[0].dwell_ms == 500 && !steps[0].pause);
	CU_ASSERT(steps[1].share_bp == 25 && steps[1].dwell_ms == 120000 && !steps[1].pause);
	CU_ASSERT(steps[2].share_bp == 50 && steps[2].dwell_ms == 0 && steps[2].pause);

	for (unsigned i = 1; i <= SL_RO_MAX_STEPS; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
					"[step %u]\nshare = %ubp\ndwell = 1\n", i, i);
	CU_ASSERT_EQUAL(load_plan(text, steps, &n), 0);
	CU_ASSERT_EQUAL(n, 32);
	CU_ASSERT(steps[31].share_bp == 32 && steps[31].dwell_ms == 1000);
}

#define DURATION_EXPECT "expected 1ms..7 days as a whole number with ms, s, m or h, e.g. " \
	"500ms, 30s, 2m, 1h; a bare number is seconds"

static void test_plan_errors(void)
{
	struct sl_ro_step steps[4];
	uint32_t n;

	bad_plan("[step]\nshare = 1%\ndwell = 1s\n",
		 "[step]: missing step number (expected [step N], N of 1..32)");
	bad_plan("[step 1]\nshare = 1%\ndwell = 1s\n[step 3]\nshare = 2%\ndwell = 1s\n",
		 "[step 3]: [step 2] is missing (expected consecutive sections "
		 "[step 1]..[step 3])");
	bad_plan("[step 2]\nshare = 1%\ndwell = 1s\n",
		 "[step 2]: [step 1] is missing (expected consecutive sections "
		 "[step 1]..[step 2])");
	bad_plan("[step 1]\nshare = 1%\ndwell = 1s\nshare = 2%\n",
		 "[step 1] share: set twice, at lines 2 and 4 (expected each key once per step)");
	bad_plan("[step 1]\nshare = 1%\ndwell = 1s\n[step 1]\nshare = 2%\ndwell = 1s\n",
		 "[step 1]: appears twice, at lines 1 and 4 (expected each step once)");
	bad_plan("[step 1]\nshare = 1%\nwait = 1s\n",
		 "[step 1] wait: unknown key (expected one of: share, dwell, pause)");
	bad_plan("[stage 1]\nshare = 1%\n",
		 "[stage 1]: unknown section (expected [step N], N of 1..32, or [guard NAME])");
	bad_plan("[step 1]\nshare = 1%\ndwell = 1s\npause = yes\n",
		 "[step 1] dwell: set together with pause = yes (expected exactly one of dwell "
		 "or pause = yes)");
	bad_plan("[step 1]\nshare = 1%\ndwell = 1s\n[step 2]\nshare = 5%\n",
		 "[step 2]: neither dwell nor pause = yes (expected exactly one of them, e.g. "
		 "dwell = 60s)");
	bad_plan("[step 1]\nshare = 1%\npause = no\n",
		 "[step 1]: neither dwell nor pause = yes (expected exactly one of them, e.g. "
		 "dwell = 60s)");
	bad_plan("[step 1]\nshare = 120%\ndwell = 1s\n",
		 "[step 1] share: '120%' is above 100% (expected 0%..100%, e.g. 5%, 0.5%, 50bp)");
	bad_plan("[step 1]\nshare = 5\ndwell = 1s\n",
		 "[step 1] share: '5' has no unit (expected % or bp, e.g. 5% or 50bp)");
	bad_plan("[step 1]\ndwell = 1s\n",
		 "[step 1] share: missing (expected the challenger's share at this step, e.g. "
		 "5%, 0.5%, 50bp)");
	bad_plan("[step 1]\nshare = 1%\ndwell = 1s\n[step 2]\nshare = 2%\npause = yes\n"
		 "[step 3]\nshare = 3%\ndwell = soon\n",
		 "[step 3] dwell: 'soon' is not a duration (" DURATION_EXPECT ")");
	bad_plan("[step 1]\nshare = 1%\ndwell = 0s\n",
		 "[step 1] dwell: '0s' is out of range (" DURATION_EXPECT ")");
	bad_plan("[step 1]\nshare = 1%\ndwell = 8d\n",
		 "[step 1] dwell: '8d' is not a duration (" DURATION_EXPECT ")");
	bad_plan("[step 1]\nshare = 1%\npause = maybe\n",
		 "[step 1] pause: 'maybe' is not yes or no (expected yes to wait for `rollout "
		 "resume` or `rollout promote`, or no)");
	bad_plan("[step 1]\nshare = 50%\ndwell = 1s\n[step 2]\nshare = 20%\ndwell = 1s\n",
		 "[step 2] share: '20%' is lower than '50%' in [step 1] (expected shares that do "
		 "not decrease)");
	bad_plan("[step 33]\nshare = 1%\ndwell = 1s\n",
		 "[step 33]: step number 33 is out of range (expected [step N], N of 1..32)");
	bad_plan("[step 0]\nshare = 1%\ndwell = 1s\n",
		 "[step 0]: step number 0 is out of range (expected [step N], N of 1..32)");
	bad_plan("[step 01]\nshare = 1%\ndwell = 1s\n",
		 "[step 01]: '01' is not a step number (expected [step N], N of 1..32, no "
		 "leading zeros)");
	bad_plan("[step one]\nshare = 1%\ndwell = 1s\n",
		 "[step one]: 'one' is not a step number (expected [step N], N of 1..32, no "
		 "leading zeros)");
	bad_plan("share = 1%\n[step 1]\nshare = 1%\ndwell = 1s\n",
		 "line 1: key 'share' is outside any section (expected a [step N] header before "
		 "it)");
	bad_plan("; nothing\n", "no [step N] section (expected [step 1]..[step N], N of 1..32)");
	bad_plan("[step 1]\nshare = 1%\ndwell 1s\n",
		 "line 3: syntax error: 'dwell 1s' (expected [step N], [guard NAME], KEY = VALUE "
		 "or a ; "
		 "comment)");
	/* the configuration's quote rules hold for plans too */
	bad_plan("[step 1]\nshare = 1%\ndwell = \"60s\" junk\n",
		 "line 3: syntax error: text after the closing quote in 'dwell = \"60s\" junk' "
		 "(expected nothing or a ; comment after it)");
	bad_plan("[step 1]\nshare = 1%\ndwell = \"60s\n",
		 "line 3: syntax error: unterminated quote in 'dwell = \"60s' (expected KEY = "
		 "\"VALUE\")");

	CU_ASSERT_EQUAL(sl_plan_load("/nonexistent/plan.ini", steps, &n, err, sizeof(err)), -1);
	ASSERT_STR(err, "/nonexistent/plan.ini: cannot read: No such file or directory");
}


/* Plan files with [guard NAME] sections. */
static struct sl_cfg_guard pg[SL_MAX_GUARDS];
static char gwant[700];

static int load_guards(const char *text, uint32_t *n, uint32_t max)
{
	size_t len = strlen(text);
	int fd, rc;

	snprintf(plan_path, sizeof(plan_path), "/tmp/sluice-plan-XXXXXX.ini");
	fd = mkstemps(plan_path, 4);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, text, len) == (ssize_t)len);
	close(fd);
	err[0] = '\0';
	rc = sl_plan_load_guards(plan_path, pg, n, max, err, sizeof(err));
	unlink(plan_path);
	return rc;
}

/* Refused by sl_plan_load_guards with "PATH: " + want; outputs untouched. */
static void bad_guards(const char *text, const char *want)
{
	uint32_t n = 77;
	char full[700];

	memset(pg, 0x5a, sizeof(pg));
	CU_ASSERT_EQUAL(load_guards(text, &n, SL_MAX_GUARDS), -1);
	snprintf(full, sizeof(full), "%s: %s", plan_path, want);
	ASSERT_STR(err, full);
	CU_ASSERT_EQUAL(n, 77);
	CU_ASSERT_EQUAL(pg[0].min_flows, 0x5a5a5a5a);
}

#define STEPS2 "[step 1]\nshare = 1%\ndwell = 60s\n[step 2]\nshare = 100%\ndwell = 60s\n"
#define G_RST "[guard resets]\nservice = web\nsignal = rst\n"
#define G_ALPHA "(expected a false-alarm rate above 0 and below 0.5, e.g. 0.01 or 1%)"

static void test_plan_guards(void)
{
	struct sl_ro_step steps[SL_RO_MAX_STEPS];
	uint32_t n = 0;
	const char *plan = "[guard resets]\nservice = web\nslice = billing\nsignal = rst\n"
			   "margin = 0.5pp\nreset = yes\n"
			   STEPS2
			   "[guard ttfb]\nservice = web\nsignal = ttfb\nthreshold = 250ms\n"
			   "alpha = 2%\non_fail = pause\non_inconclusive = hold\n"
			   "rollouts = named\nmin_flows = 50\n";

	/* sl_plan_load reads the steps and leaves the guards alone */
	CU_ASSERT_EQUAL(load_plan(plan, steps, &n), 0);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_EQUAL(steps[1].share_bp, 10000);
	n = 0;
	CU_ASSERT_EQUAL_FATAL(load_guards(plan, &n, SL_MAX_GUARDS), 0);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_STRING_EQUAL(pg[0].name, "resets");
	CU_ASSERT_STRING_EQUAL(pg[0].service, "web");
	CU_ASSERT_STRING_EQUAL(pg[0].slice, "billing");
	CU_ASSERT_EQUAL(pg[0].signal, SL_SIG_RST);
	CU_ASSERT_DOUBLE_EQUAL(pg[0].margin, 0.005, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(pg[0].alpha, 0.01, 1e-12);
	CU_ASSERT_EQUAL(pg[0].min_flows, 1000);
	CU_ASSERT_EQUAL(pg[0].reset, 1);
	CU_ASSERT_EQUAL(pg[0].on_fail, SL_GUARD_ABORT);
	CU_ASSERT_STRING_EQUAL(pg[1].name, "ttfb");
	CU_ASSERT_EQUAL(pg[1].signal, SL_SIG_TTFB);
	CU_ASSERT_EQUAL(pg[1].threshold_us, 250000);
	CU_ASSERT_DOUBLE_EQUAL(pg[1].alpha, 0.02, 1e-12);
	CU_ASSERT_EQUAL(pg[1].on_fail, SL_GUARD_PAUSE);
	CU_ASSERT_EQUAL(pg[1].on_inconclusive, SL_GUARD_INC_HOLD);
	CU_ASSERT_EQUAL(pg[1].named, 1);
	CU_ASSERT_EQUAL(pg[1].min_flows, 50);
	/* no guards, or guards only */
	n = 9;
	CU_ASSERT_EQUAL(load_guards(STEPS2, &n, SL_MAX_GUARDS), 0);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(load_guards(G_RST, &n, SL_MAX_GUARDS), 0);
	CU_ASSERT_EQUAL(n, 1);
	bad_plan(G_RST, "no [step N] section (expected [step 1]..[step N], N of 1..32)");
	/* at most max */
	CU_ASSERT_EQUAL(load_guards(G_RST "[guard b]\nservice = web\nsignal = icmp\n", &n, 1),
			-1);
	snprintf(gwant, sizeof(gwant), "%s: [guard b]: a guard too many "
		 "(expected at most 1 [guard NAME] sections)", plan_path);
	ASSERT_STR(err, gwant);

	/* section and key errors: both loaders refuse them */
	bad_guards(STEPS2 "[guard]\nservice = web\n",
		   "[guard]: missing name (expected [guard NAME], NAME of 1..31 characters a-z, "
		   "0-9, _ or -)");
	bad_plan(STEPS2 "[guard]\nservice = web\n",
		 "[guard]: missing name (expected [guard NAME], NAME of 1..31 characters a-z, "
		 "0-9, _ or -)");
	bad_guards(STEPS2 "[guard Bill.ing]\nservice = web\n",
		   "[guard bill.ing]: name 'bill.ing' is not valid (expected 1..31 characters "
		   "a-z, 0-9, _ or -)");
	bad_guards(G_RST STEPS2 G_RST,
		   "[guard resets]: appears twice, at lines 1 and 10 (expected each guard once)");
	bad_guards(G_RST "window = 5m\n" STEPS2,
		   "[guard resets] window: unknown key (expected one of: service, slice, signal, "
		   "threshold, min_flows, margin, alpha, on_fail, on_inconclusive, reset, "
		   "rollouts)");
	bad_plan(G_RST "share = 5%\n" STEPS2,
		 "[guard resets] share: unknown key (expected one of: service, slice, signal, "
		 "threshold, min_flows, margin, alpha, on_fail, on_inconclusive, reset, "
		 "rollouts)");
	bad_guards(G_RST "Signal = icmp\n",
		   "[guard resets] signal: set twice, at lines 3 and 4 (expected each key once "
		   "per guard)");
	/* a step after a guard is a step again */
	bad_plan(G_RST "[step 1]\nshare = 1%\ndwell = 1s\nservice = web\n",
		 "[step 1] service: unknown key (expected one of: share, dwell, pause)");
	/* values: sl_guard_parse's checks, named by file, section and key */
	bad_guards(STEPS2 "[guard resets]\nsignal = rst\n",
		   "[guard resets] service: missing (expected the name of a [service NAME])");
	bad_guards(STEPS2 "[guard resets]\nservice = web\n",
		   "[guard resets] signal: missing (expected rst, handshake, icmp, ttfb, synack "
		   "or pushed:NAME)");
	bad_guards(STEPS2 G_RST "alpha = 0.7\n",
		   "[guard resets] alpha: '0.7' is outside (0, 0.5) " G_ALPHA);
	bad_guards(STEPS2 G_RST "threshold = 1s\n",
		   "[guard resets] threshold: not used by signal rst (expected threshold only "
		   "with signal ttfb or synack)");
	bad_guards(STEPS2 "[guard t]\nservice = web\nsignal = synack\nthreshold = soon\n",
		   "[guard t] threshold: 'soon' is not a duration (expected 1us..1h as a whole "
		   "number with us, ms, s, m or h, e.g. 500us, 200ms, 2s; a bare number is "
		   "seconds)");
	bad_guards(STEPS2 G_RST "margin = 0.5\n",
		   "[guard resets] margin: '0.5' has no unit (expected pp or % after the number, "
		   "e.g. 0.5pp; only 0 needs none)");
	bad_guards(STEPS2 G_RST "min_flows = 0\n",
		   "[guard resets] min_flows: '0' is out of range (expected 1..1000000000 flows "
		   "per group)");
	bad_guards(STEPS2 G_RST "on_fail = pause\nreset = yes\n",
		   "[guard resets] reset: yes with on_fail = pause (expected reset = yes only "
		   "with on_fail = abort)");
	bad_guards(STEPS2 G_RST "on_inconclusive = later\n",
		   "[guard resets] on_inconclusive: 'later' is not an action (expected pause or "
		   "hold)");
	bad_guards(STEPS2 G_RST "rollouts = any\n",
		   "[guard resets] rollouts: 'any' is not all or named (expected all: every "
		   "rollout of the service, or named: only when a plan or --guard names it)");
	bad_guards(STEPS2 G_RST "slice =\n",
		   "[guard resets] slice: empty (expected the name of a [slice NAME] of the "
		   "service, or no slice key)");
	/* a plan's guard values are not sl_plan_load's business */
	CU_ASSERT_EQUAL(load_plan(STEPS2 G_RST "alpha = 0.7\n", steps, &n), 0);
}

/* Plans are read like configurations: a NUL byte or a lone CR is refused
 * with its line (iniparser read the step after the NUL, the scan did not). */
static void test_plan_hidden_bytes(void)
{
	static const char nul[] = "[step 1]\nshare = 1%\ndwell = 1s\n\0\n[step 2]\nshare = 100%\n"
				  "dwell = 1s\n";
	static const char cr[] = "[step 1]\nshare = 1%\ndwell = 1s ; x\rpause = yes\n";
	struct sl_ro_step steps[SL_RO_MAX_STEPS];
	char want[600];
	uint32_t n = 77;
	int fd;

	for (int i = 0; i < 2; i++) {
		const char *t = i ? cr : nul;
		size_t len = i ? sizeof(cr) - 1 : sizeof(nul) - 1;

		snprintf(plan_path, sizeof(plan_path), "/tmp/sluice-plan-XXXXXX.ini");
		fd = mkstemps(plan_path, 4);
		CU_ASSERT_FATAL(fd >= 0);
		CU_ASSERT_FATAL(write(fd, t, len) == (ssize_t)len);
		close(fd);
		CU_ASSERT_EQUAL(sl_plan_load(plan_path, steps, &n, err, sizeof(err)), -1);
		CU_ASSERT_EQUAL(n, 77);
		snprintf(want, sizeof(want), "%s: %s", plan_path, i ?
			 "line 3: a carriage return inside a line (expected LF or CR LF line ends)" :
			 "line 4: a NUL byte (expected text: the lines after it would be read by "
			 "one parser and not the other)");
		ASSERT_STR(err, want);
		CU_ASSERT_EQUAL(sl_plan_load_guards(plan_path, pg, &n, SL_MAX_GUARDS, err,
						    sizeof(err)), -1);
		ASSERT_STR(err, want);
		unlink(plan_path);
	}
}

/* sl_plan_load in a child that cannot hang (5 s) or take much memory (1 GiB):
 * 0 or -1 with err as the child saw it, -2 when it was killed. */
static int plan_in_child(const char *path)
{
	int fds[2], status, rc = -2;
	pid_t pid;
	ssize_t n;

	CU_ASSERT_FATAL(pipe(fds) == 0);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		struct rlimit lim = { 1ul << 30, 1ul << 30 };
		struct sl_ro_step steps[SL_RO_MAX_STEPS];
		char e[512] = "";
		uint32_t k;

		close(fds[0]);
		alarm(5);
		setrlimit(RLIMIT_AS, &lim);
		rc = sl_plan_load(path, steps, &k, e, sizeof(e));
		if (write(fds[1], e, strlen(e) + 1) < 0)
			_exit(3);
		_exit(rc ? 1 : 0);
	}
	close(fds[1]);
	memset(err, 0, sizeof(err));
	n = read(fds[0], err, sizeof(err) - 1);
	close(fds[0]);
	CU_ASSERT_FATAL(waitpid(pid, &status, 0) == pid);
	if (WIFEXITED(status) && WEXITSTATUS(status) <= 1 && n > 0)
		rc = WEXITSTATUS(status) ? -1 : 0;
	else
		snprintf(err, sizeof(err), "(the load was killed or failed: status %d)", status);
	return rc;
}

#define NOT_REGULAR ", not a regular file (expected a file of at most 1 MiB)"

/* The configuration's reader: regular files of at most 1 MiB, no blocking. */
static void test_plan_not_regular(void)
{
	char dir[64], path[128], want[256];
	FILE *f;

	snprintf(dir, sizeof(dir), "/tmp/sluice-plan-XXXXXX");
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/fifo.ini", dir);
	CU_ASSERT_FATAL(mkfifo(path, 0600) == 0);
	CU_ASSERT_EQUAL(plan_in_child(path), -1);
	snprintf(want, sizeof(want), "%s: cannot read: a FIFO" NOT_REGULAR, path);
	ASSERT_STR(err, want);
	unlink(path);
	snprintf(path, sizeof(path), "%s/zero.ini", dir);
	CU_ASSERT_FATAL(symlink("/dev/zero", path) == 0);
	CU_ASSERT_EQUAL(plan_in_child(path), -1);
	snprintf(want, sizeof(want), "%s: cannot read: a character device" NOT_REGULAR, path);
	ASSERT_STR(err, want);
	unlink(path);
	CU_ASSERT_EQUAL(plan_in_child(dir), -1);
	snprintf(want, sizeof(want), "%s: cannot read: a directory" NOT_REGULAR, dir);
	ASSERT_STR(err, want);
	snprintf(path, sizeof(path), "%s/big.ini", dir);
	f = fopen(path, "w");
	CU_ASSERT_FATAL(f != NULL);
	fputs("[step 1]\nshare = 1%\ndwell = 1s\n", f);
	while (ftell(f) <= 1l << 20)
		fputs("; ------------------------------------------------------------------\n", f);
	fclose(f);
	CU_ASSERT_EQUAL(plan_in_child(path), -1);
	snprintf(want, sizeof(want), "%s: cannot read: larger than 1048576 bytes (expected a "
		 "file of at most 1 MiB)", path);
	ASSERT_STR(err, want);
	unlink(path);
	rmdir(dir);
}

static int from_list(const char *list, const char *dwell, struct sl_ro_step *steps,
		     uint32_t *n)
{
	err[0] = '\0';
	return sl_plan_from_list(list, dwell, steps, n, err, sizeof(err));
}

static void bad_list(const char *list, const char *dwell, const char *want)
{
	struct sl_ro_step steps[SL_RO_MAX_STEPS];
	uint32_t n = 77;

	memset(steps, 0x5a, sizeof(steps));
	CU_ASSERT_EQUAL(from_list(list, dwell, steps, &n), -1);
	ASSERT_STR(err, want);
	CU_ASSERT_EQUAL(n, 77);
	CU_ASSERT_EQUAL(steps[0].share_bp, 0x5a5a);
}

static void test_plan_list(void)
{
	struct sl_ro_step steps[SL_RO_MAX_STEPS];
	char list[512];
	size_t len = 0;
	uint32_t n = 0;

	CU_ASSERT_EQUAL(from_list("1%,5%,20%,50%,100%", "60s", steps, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 5);
	CU_ASSERT(steps[0].share_bp == 100 && steps[1].share_bp == 500 &&
		  steps[2].share_bp == 2000 && steps[3].share_bp == 5000 &&
		  steps[4].share_bp == 10000);
	for (unsigned i = 0; i < 5; i++)
		CU_ASSERT(steps[i].dwell_ms == 60000 && !steps[i].pause);
	CU_ASSERT_EQUAL(from_list(" 0.5%, 50bp ,1%", "500ms", steps, &n), 0);
	CU_ASSERT(n == 3 && steps[0].share_bp == 50 && steps[1].share_bp == 50 &&
		  steps[2].share_bp == 100 && steps[2].dwell_ms == 500);

	for (unsigned i = 1; i <= 32; i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%ubp", i > 1 ? "," : "",
					i);
	CU_ASSERT_EQUAL(from_list(list, "1s", steps, &n), 0);
	CU_ASSERT_EQUAL(n, 32);
	snprintf(list + len, sizeof(list) - len, ",33bp");
	bad_list(list, "1s", "--steps: more than 32 items (expected at most 32)");

	/* bare numbers are percentages, as in DESIGN's `--steps 1,5,20,50,100` */
	CU_ASSERT_EQUAL(from_list("1,5,20.5,50%,100", "60s", steps, &n), 0);
	CU_ASSERT(n == 5 && steps[0].share_bp == 100 && steps[1].share_bp == 500 &&
		  steps[2].share_bp == 2050 && steps[3].share_bp == 5000 &&
		  steps[4].share_bp == 10000);
	bad_list("1%,5%,20x", "60s",
		 "--steps item 3 '20x': '20x' has an unknown unit 'x' (expected % or bp, e.g. 5% or "
		 "50bp)");
	bad_list("1,5,120", "60s", "--steps item 3 '120%': '120%' is above 100% (expected "
		 "0%..100%, e.g. 5%, 0.5%, 50bp)");
	bad_list("1%,,5%", "60s", "--steps item 2 '': empty (expected 0%..100%, e.g. 5%, 0.5%, "
		 "50bp)");
	bad_list("1%,5%,", "60s", "--steps item 3 '': empty (expected 0%..100%, e.g. 5%, 0.5%, "
		 "50bp)");
	bad_list("1%,101%", "60s", "--steps item 2 '101%': '101%' is above 100% (expected "
		 "0%..100%, e.g. 5%, 0.5%, 50bp)");
	bad_list("1%,50%,20%", "60s", "--steps item 3 '20%': lower than item 2 '50%' (expected "
		 "shares that do not decrease, e.g. 1%,5%,20%,50%,100%)");
	bad_list("", "60s", "--steps: empty (expected shares separated by commas, e.g. "
		 "1%,5%,20%,50%,100%)");
	bad_list(NULL, "60s", "--steps: missing (expected shares separated by commas, e.g. "
		 "1%,5%,20%,50%,100%)");
	bad_list("1%", "soon", "--dwell: 'soon' is not a duration (" DURATION_EXPECT ")");
	bad_list("1%", "0ms", "--dwell: '0ms' is out of range (" DURATION_EXPECT ")");
	bad_list("1%", NULL, "--dwell: missing (expected the time at each step, e.g. 60s)");
	bad_list("1%,xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "1s",
		 "--steps item 2 'xxxxxxxxxxxxxxxxxxxx...': too long (expected a share such as "
		 "5%, 0.5% or 50bp)");
}

void sl_test_register_rollout(void)
{
	CU_pSuite s = CU_add_suite("rollout", NULL, NULL);

	CU_add_test(s, "states reached by the verbs", test_setup_states);
	CU_add_test(s, "every verb and tick from every state", test_matrix);
	CU_add_test(s, "dwell kept exactly across pause/resume", test_dwell_accounting);
	CU_add_test(s, "pause after the dwell ran out", test_pause_overdue);
	CU_add_test(s, "full run by ticks at exact deadlines", test_full_run);
	CU_add_test(s, "promote on the last step completes", test_promote_last);
	CU_add_test(s, "pause steps first and last", test_pause_steps);
	CU_add_test(s, "abort from paused, start again", test_abort_paused_restart);
	CU_add_test(s, "state names", test_state_names);
	CU_add_test(s, "check_steps errors", test_check_steps);
	CU_add_test(s, "journal round trip of every state", test_json_roundtrip);
	CU_add_test(s, "journal form", test_json_shape);
	CU_add_test(s, "restart keeps the deadline", test_restart);
	CU_add_test(s, "from_json errors", test_json_errors);
	CU_add_test(s, "example plan file", test_plan_example);
	CU_add_test(s, "valid plan files", test_plan_valid);
	CU_add_test(s, "plan file errors", test_plan_errors);
	CU_add_test(s, "plan [guard NAME] sections", test_plan_guards);
	CU_add_test(s, "plan: FIFO, /dev/zero, directory, 1 MiB + 1", test_plan_not_regular);
	CU_add_test(s, "plan: NUL and CR bytes refused by line", test_plan_hidden_bytes);
	CU_add_test(s, "--steps/--dwell list", test_plan_list);
}
