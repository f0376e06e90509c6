/* A replay schedule: control actions at packet times, one a line,
 *
 *   # comment
 *   at 2s canary web 5%
 *   at 10.5s rollout start web --steps 10%,50%,100% --dwell 5s
 *   at 1m abort web --reset        # a comment after the command
 *
 * TIME counts from the first packet of the capture ("500ms", "2.0s", "10s",
 * "1m", "1h"; decimals down to the millisecond), times never decrease.
 * COMMAND and its arguments are sluicectl's (control/request.c builds the
 * request, with the same local checks), limited to the commands that change
 * a table.  Words split on blanks; '...' and "..." quote (a filter
 * expression), a backslash escapes the next character.  Any error names
 * the file and the line, and no schedule is returned: nothing runs. */
#ifndef SLUICE_SCHEDULE_H
#define SLUICE_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "request.h"

#define SL_SCHED_MAX_MS (30ull * 24 * 3600 * 1000) /* 30 days after the first packet */
#define SL_SCHED_MAX_LINE 4096
#define SL_SCHED_MAX_WORDS 64

struct sl_config;

struct sl_sched_action {
	unsigned line;                     /* 1-based line in the file */
	uint64_t at_ms;                    /* after the first packet */
	const struct sl_rq_command *cmd;
	char *text;                        /* COMMAND ARGS (words re-quoted; owned) */
	json_t *req;                       /* the request, without "id" (owned) */
};

struct sl_schedule {
	char path[512];                    /* as given: messages say "PATH:LINE: ..." */
	unsigned n, cap;
	struct sl_sched_action *a;         /* in file order (= time order) */
};

/* "2.0s", "500ms", "1m" -> milliseconds (0 .. SL_SCHED_MAX_MS).  Returns 0,
 * or -1 with what is wrong and what is expected in err. */
int sl_sched_time_parse(const char *s, uint64_t *ms, char *err, size_t errlen);

/* Parse a schedule held in memory (len bytes); name is the file name used
 * in messages.  Returns 0 with *s filled (release with sl_schedule_free),
 * or -1 with "NAME:LINE: message" in err and *s empty. */
int sl_schedule_parse(const char *name, const char *text, size_t len, struct sl_schedule *s,
		      char *err, size_t errlen);

/* The same from a file. */
int sl_schedule_load(const char *path, struct sl_schedule *s, char *err, size_t errlen);

/* Names against a configuration: every action's service must exist, and
 * a group it names must be one of that service's two groups.  Returns 0,
 * or -1 with "PATH:LINE: unknown service 'x' (services: ...)" in err. */
int sl_schedule_check(const struct sl_schedule *s, const struct sl_config *cfg, char *err,
		      size_t errlen);

void sl_schedule_free(struct sl_schedule *s);

#endif
