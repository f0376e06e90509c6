/* sluicectl's pieces shared by its commands: sluicectl.c (one request,
 * one reply), watch.c (status --watch: the same request again and again)
 * and note.c (a release note from several replies). */
#ifndef SLUICE_CTL_H
#define SLUICE_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "request.h"

enum {
	EXIT_REFUSED = 1,
	EXIT_USAGE = 2,
	EXIT_UNREACHABLE = 3,
	EXIT_NOT_ACKED = 4,
};

struct ctl_conn {
	char path[108];           /* the socket (sun_path) */
	uint32_t timeout_ms;
	/* how the socket was named on the command line (NULL: not so), for
	 * commands printed for the operator to run: they reach the same daemon */
	const char *socket_opt, *instance_opt;
};

/* One request (no "id": it is added) -> *rep, the reply object (ok true or
 * false; the caller decrefs), and with raw its text as received.  Returns
 * 0, or an exit status with the message printed (ctl_errors_to). */
int ctl_call(const struct ctl_conn *conn, const json_t *req, json_t **rep, char **raw);

/* Error messages into buf (one line, no newline) instead of stderr; NULL:
 * back to stderr. */
void ctl_errors_to(char *buf, size_t len);

/* sluicectl --help. */
void ctl_usage(FILE *f);

/* "sluicectl: CODE: MESSAGE" for an ok:false reply; returns EXIT_REFUSED. */
int ctl_refused(const json_t *rep);

/* The human forms sluicectl prints (sluicectl.c). */
void ctl_print_status(const json_t *res);
bool ctl_rollout_line(const json_t *ro, const char *to, char *buf, size_t len);
void ctl_fmt_share(char *buf, size_t len, json_int_t bp);
void ctl_describe_rule(const json_t *rule, char *buf, size_t len);

/* status --watch (watch.c): 1 when argv (after "status") asks for it. */
bool ctl_watch_wanted(int argc, char *const *argv);
int ctl_watch(const struct ctl_conn *conn, const struct sl_rq_command *c, bool json, int argc,
	      char *const *argv);

/* note SERVICE [--markdown] (note.c). */
int ctl_note(const struct ctl_conn *conn, int argc, char *const *argv);

#endif
