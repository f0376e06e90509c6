/* sluicectl flows / flow: the dataplane's flow tables, read through
 * sluice-dp's DPDK telemetry socket (dataplane/telemetry.c). */
#ifndef SLUICE_FLOWS_H
#define SLUICE_FLOWS_H

#include <stdbool.h>
#include <stdint.h>

/* How sluicectl talks to sluiced (its exchange(): one line out, one line
 * back, 0 or an exit status with the message printed). */
typedef int (*sl_ctl_exchange_fn)(const char *path, const char *line, uint32_t timeout_ms,
				  char **reply);

/* sluicectl's error printer: "sluicectl: CODE: MESSAGE" on stderr;
 * returns status. */
typedef int (*sl_ctl_fail_fn)(int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

struct sl_ctl_observe {
	const char *socket;        /* the daemon's control socket */
	bool json;
	uint32_t timeout_ms;
	sl_ctl_exchange_fn exchange;
	sl_ctl_fail_fn fail;
};

/* argv[0] is "flows" or "flow".  Returns sluicectl's exit status. */
int sl_ctl_observe_main(int argc, char **argv, const struct sl_ctl_observe *o);

/* Whether argv[0] names one of these commands. */
bool sl_ctl_observe_is(const char *word);

#endif
