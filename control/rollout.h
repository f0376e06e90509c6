/* Percentage rollout: the state machine of one service's rollout (no I/O).
 *
 * The daemon calls the verbs and sl_ro_tick(); each returns what to apply
 * (a new challenger share, or completion: the challenger becomes champion)
 * and a reason for the journal.  Times are wall-clock milliseconds so that a
 * restarted daemon can continue a step's dwell from the journal.
 *
 * Semantics (close to Argo Rollouts):
 *  - start: NONE/COMPLETED/ABORTED -> RUNNING at step 0 (its share applied);
 *    a pause step makes it PAUSED (waiting for resume/promote).
 *  - tick: RUNNING and the step's dwell elapsed -> next step (share applied;
 *    PAUSED if it is a pause step), or COMPLETED after the last step.  The
 *    next dwell counts from the tick, so a late tick never shortens a step.
 *  - pause: RUNNING -> PAUSED; the dwell clock stops (remaining time kept).
 *  - resume: PAUSED -> RUNNING; after an operator pause the remaining dwell
 *    continues; on a pause step, the next step is applied.
 *  - promote: RUNNING/PAUSED -> next step now (or COMPLETED after the last).
 *  - promote full: RUNNING/PAUSED -> COMPLETED now.
 *  - abort: RUNNING/PAUSED -> ABORTED, challenger share 0.
 * Everything else is refused with a message saying why and what is possible.
 * Guards (guard.h) pause or abort through the same verbs, with their own
 * reason. */
#ifndef SLUICE_ROLLOUT_H
#define SLUICE_ROLLOUT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "../dataplane/config.h"

#define SL_RO_MAX_STEPS 32
#define SL_RO_MAX_GUARDS 16 /* guards of one rollout */
#define SL_RO_NAME_LEN 32

enum sl_ro_state { SL_RO_NONE = 0, SL_RO_RUNNING, SL_RO_PAUSED, SL_RO_COMPLETED, SL_RO_ABORTED };

struct sl_ro_step {
	uint16_t share_bp;
	uint8_t pause;     /* 1: wait for resume/promote instead of a dwell */
	uint32_t dwell_ms; /* pause == 0: time at this step before the next */
};

struct sl_rollout {
	enum sl_ro_state state;
	uint32_t nsteps;
	uint32_t step;              /* current step index */
	struct sl_ro_step steps[SL_RO_MAX_STEPS];
	uint64_t step_started_ms;   /* when the current step began (or resumed) */
	uint64_t dwell_left_ms;     /* remaining dwell from step_started_ms */
	uint8_t operator_pause;     /* PAUSED by the pause verb (not a pause step) */
	/* The challenger group's name, for reasons ("rollout complete: green is
	 * champion"); "" says "the challenger".  Set by the caller, kept by start. */
	char challenger[SL_RO_NAME_LEN];
	/* When start began it (guard windows tell rollouts apart), and the
	 * guards in force for it, whole (guard.h): fixed at start, journaled
	 * with the rollout, so that a reload or a restart never changes what
	 * watches a running rollout.  Set by the caller after start. */
	uint64_t started_ms;
	uint32_t nguards;
	struct sl_cfg_guard guards[SL_RO_MAX_GUARDS];
};

struct sl_ro_action {
	int apply;         /* 1: set the challenger share to share_bp */
	uint16_t share_bp;
	int complete;      /* 1: the challenger becomes champion (share 0 after swap);
			    * apply is 0 then */
	char reason[160];  /* for the journal and the reply */
};

/* Validate steps: 1..SL_RO_MAX_STEPS, shares 0..10000 and not decreasing,
 * dwell 1 ms..7 days unless a pause step.  Returns 0 or -1 with err naming
 * the step ("step 3: 20% after 50%: shares must not decrease"). */
int sl_ro_check_steps(const struct sl_ro_step *steps, uint32_t n, char *err, size_t errlen);

/* The verbs.  Return 0 with *a filled, or -1 with err (nothing changed, *a
 * untouched).  start checks the state before the steps: a caller that
 * answers bad_plan and bad_state differently calls sl_ro_check_steps first. */
int sl_ro_start(struct sl_rollout *r, const struct sl_ro_step *steps, uint32_t n,
		uint64_t now_ms, struct sl_ro_action *a, char *err, size_t errlen);
int sl_ro_pause(struct sl_rollout *r, uint64_t now_ms, struct sl_ro_action *a, char *err,
		size_t errlen);
int sl_ro_resume(struct sl_rollout *r, uint64_t now_ms, struct sl_ro_action *a, char *err,
		 size_t errlen);
int sl_ro_promote(struct sl_rollout *r, int full, uint64_t now_ms, struct sl_ro_action *a,
		  char *err, size_t errlen);
int sl_ro_abort(struct sl_rollout *r, uint64_t now_ms, struct sl_ro_action *a, char *err,
		size_t errlen);

/* Timer: 1 with *a filled when the dwell elapsed and the rollout moved, else 0. */
int sl_ro_tick(struct sl_rollout *r, uint64_t now_ms, struct sl_ro_action *a);

/* When sl_ro_tick next has something to do (UINT64_MAX: nothing). */
uint64_t sl_ro_deadline(const struct sl_rollout *r);

/* 1 while RUNNING or PAUSED. */
int sl_ro_active(const struct sl_rollout *r);

const char *sl_ro_state_name(enum sl_ro_state s); /* "none", "running", ... */

/* "5%", "0.5%", "0.05%": a share as the configuration writes it, shortest
 * form; returns buf. */
const char *sl_share_str(uint16_t bp, char *buf, size_t len);

/* Journal form and back: {"state", "step", "steps": [{"share_bp", "dwell_ms"
 * | "pause"}], "step_started_ms", "dwell_left_ms", "operator_pause",
 * "challenger" (only when set), "started_ms", "guards" (only when there are
 * any: sl_guard_def_json objects)}.  "step" is the 0-based index as in the
 * struct; from_json checks every field and their consistency, and changes
 * nothing on error. */
json_t *sl_ro_to_json(const struct sl_rollout *r);
int sl_ro_from_json(struct sl_rollout *r, const json_t *j, char *err, size_t errlen);

/* Plans.  An INI plan file: sections [step 1], [step 2], ... (consecutive
 * from 1, in any order in the file), keys share (required) and exactly one of
 * dwell (duration) or pause = yes.  The --steps form:
 * "1%,5%,20%,50%,100%" with one dwell for every step.  Both validate with
 * sl_ro_check_steps; errors name the file, section and key, or the item. */
int sl_plan_load(const char *path, struct sl_ro_step *steps, uint32_t *n, char *err,
		 size_t errlen);

/* A plan file's [guard NAME] sections (sl_plan_load ignores them), in file
 * order, parsed with sl_guard_parse: syntax and ranges only, the daemon checks
 * the service and slice (sl_guard_check).  At most max guards; the steps are
 * not looked at (a file with guards only is fine here).  Returns 0 with *n
 * (0..max) filled, or -1 with err naming file, section and key ("plan.ini:
 * [guard billing] alpha: '0.7' is outside (0, 0.5) (expected ...)"); g and n
 * are untouched on error. */
int sl_plan_load_guards(const char *path, struct sl_cfg_guard *g, uint32_t *n, uint32_t max,
			char *err, size_t errlen);
int sl_plan_from_list(const char *list, const char *dwell, struct sl_ro_step *steps,
		      uint32_t *n, char *err, size_t errlen);

#endif
