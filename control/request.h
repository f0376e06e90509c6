/* sluicectl's command grammar: the words of a command ("canary web 5%
 * --reset") -> one protocol request (control/PROTOCOL.md), checked locally
 * first (names, shares, steps, plan files) with the code the daemon uses.
 * Shared by sluicectl and the replay's schedule (control/schedule.c), so
 * that a runbook line means the same in both.  No I/O but plan files. */
#ifndef SLUICE_REQUEST_H
#define SLUICE_REQUEST_H

#include <stddef.h>

#include <jansson.h>

#define SL_RQ_NAME_RULE "1..31 characters a-z, 0-9, _ or -"

enum sl_rq_kind {
	SL_RQ_STATUS, SL_RQ_SWITCH, SL_RQ_CANARY, SL_RQ_WEIGHTS, SL_RQ_RO_START,
	SL_RQ_RO_STATUS, SL_RQ_RO_PAUSE, SL_RQ_RO_RESUME, SL_RQ_RO_PROMOTE, SL_RQ_RO_ABORT,
	SL_RQ_UNDO, SL_RQ_HISTORY, SL_RQ_STATS, SL_RQ_RELOAD, SL_RQ_VERSION,
	SL_RQ_SHADOW_ADD, SL_RQ_SHADOW_REMOVE, SL_RQ_SHADOW_LIST,
};

struct sl_rq_command {
	const char *words;  /* as typed: "canary", "rollout start" */
	const char *cmd;    /* protocol name */
	enum sl_rq_kind kind;
	int min_pos, max_pos;
	unsigned opts;      /* options it takes (request.c) */
	const char *usage;
	int changes;        /* 1: may change a table (a schedule takes only these) */
};

struct sl_rq_error {
	const char *code;   /* "usage", "bad_share", "bad_plan" or "bad_filter" (sluicectl's
			     * codes) */
	char message[1024];
};

/* sl_rq_build flags. */
#define SL_RQ_CLI 1u /* sluicectl: -h/--help asks for help, its global options
		      * after the command are named as misplaced */

/* The command whose words start argv (a rollout verb after "rollout", or
 * the pause/resume/promote/abort aliases); *used: words consumed.  Returns
 * 0, or -1 with e ("unknown command ..."). */
int sl_rq_find(int argc, char *const *argv, unsigned flags, const struct sl_rq_command **out,
	       int *used, struct sl_rq_error *e);

/* The request (a new object with "cmd" and the command's fields, no "id")
 * from the words after the command.  Returns 0 with *req set, 1 when
 * SL_RQ_CLI and -h/--help was given (nothing built), or -1 with e. */
int sl_rq_build(const struct sl_rq_command *c, int argc, char *const *argv, unsigned flags,
		json_t **req, struct sl_rq_error *e);

/* A service, group or instance name as the configuration allows it. */
int sl_rq_valid_name(const char *s);

#endif
