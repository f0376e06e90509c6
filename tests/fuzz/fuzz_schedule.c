/* fuzz_schedule: the replay schedule parser (control/schedule.h) on
 * arbitrary text.  Invariants:
 *  - a refusal is "NAME:LINE: why", LINE a line of the text (1-based);
 *  - an accepted schedule's actions are in file order with times that
 *    never decrease and stay within SL_SCHED_MAX_MS; each is a command
 *    that changes a table, and its request is one the daemon's decoder
 *    (sl_req_parse) accepts as that command;
 *  - an action's text (its words re-quoted) parses back, alone on a line
 *    at the same time, to the same request. */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "proto.h"
#include "schedule.h"

#define NAME "fuzz.sched"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_schedule s, t;
	char err[2048], err2[2048];
	unsigned lines = 1;

	if (size > 64 * 1024)
		return 0;
	for (size_t i = 0; i + 1 < size; i++)
		lines += data[i] == '\n';
	err[0] = 0;
	if (sl_schedule_parse(NAME, (const char *)data, size, &s, err, sizeof(err)) != 0) {
		char *end;
		unsigned long ln;

		FZ_CHECK(fz_starts(err, NAME ":"), "refusal without the file's name: '%s'", err);
		ln = strtoul(err + strlen(NAME ":"), &end, 10);
		FZ_CHECK(end != err + strlen(NAME ":") && ln >= 1 && ln <= lines &&
			 fz_starts(end, ": ") && end[2], "refusal without its line (of %u): '%s'",
			 lines, err);
		FZ_CHECK(s.n == 0 && s.a == NULL, "a refused schedule holds actions");
		return 0;
	}
	for (unsigned i = 0; i < s.n; i++) {
		const struct sl_sched_action *a = &s.a[i];
		struct sl_req r;
		struct sl_error e;
		char *line, *again;
		int rc;

		FZ_CHECK(a->line >= 1 && a->line <= lines, "action %u on line %u of %u", i, a->line,
			 lines);
		if (i) {
			FZ_CHECK(a->line > s.a[i - 1].line, "actions out of file order");
			FZ_CHECK(a->at_ms >= s.a[i - 1].at_ms, "line %u: time goes back", a->line);
		}
		FZ_CHECK(a->at_ms <= SL_SCHED_MAX_MS, "line %u: %" PRIu64 " ms", a->line, a->at_ms);
		FZ_CHECK(a->cmd && a->cmd->changes, "line %u: a command that changes nothing",
			 a->line);
		FZ_CHECK(a->text && a->req && json_is_object(a->req), "line %u: no request",
			 a->line);
		line = json_dumps(a->req, JSON_COMPACT);
		FZ_CHECK(line != NULL, "request not serialisable");
		memset(&e, 0, sizeof(e));
		rc = sl_req_parse(line, strlen(line), &r, &e);
		FZ_CHECK(rc == 0, "line %u: request '%s' refused by the decoder: %s", a->line, line,
			 e.message);
		FZ_CHECK(r.cmd == a->cmd->kind, "line %u: '%s' decoded as %s", a->line, line,
			 sl_cmd_name(r.cmd));
		sl_req_clear(&r);
		free(line);

		/* the text re-quoted, alone on a line at the same time */
		rc = asprintf(&again, "at %" PRIu64 "ms %s\n", a->at_ms, a->text);
		FZ_CHECK(rc > 0, "out of memory");
		err2[0] = 0;
		rc = sl_schedule_parse(NAME, again, strlen(again), &t, err2, sizeof(err2));
		FZ_CHECK(rc == 0, "line %u: its own text '%s' refused: %s", a->line, again, err2);
		FZ_CHECK(t.n == 1 && t.a[0].at_ms == a->at_ms && t.a[0].cmd == a->cmd &&
			 json_equal(t.a[0].req, a->req) && !strcmp(t.a[0].text, a->text),
			 "line %u: '%s' parses back to another action", a->line, again);
		sl_schedule_free(&t);
		free(again);
	}
	sl_schedule_free(&s);
	return 0;
}
