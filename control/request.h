/* sluicectl's command grammar: the words of a command ("canary web 5%
 * --reset") -> one protocol request (control/PROTOCOL.md), checked locally
 * first (names, shares, steps, plan files) with the code the daemon uses.
 * Shared by sluicectl and the replay's schedule (control/schedule.c), so
 * that a runbook line means the same in both.  No I/O but plan files. */
#ifndef SLUICE_REQUEST_H
#define SLUICE_REQUEST_H

#include <stddef.h>

#include <jansson.h>

#include "proto.h"

struct sl_rq_command {
	const char *words;  /* as typed: "canary", "rollout start" */
	enum sl_cmd kind;   /* the protocol command (sl_cmd_name: its name) */
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

#endif
