/* sluicectl: the runbook client of sluiced.
 *
 * Checks everything it can locally (names, shares, plans) before anything
 * is sent, speaks control/PROTOCOL.md over the daemon's Unix socket (one
 * request, one reply; status --watch and note, in watch.c and note.c, ask
 * again or several times), prints a human summary or the reply as is (--json),
 * and exits with a status scripts can trust:
 *   0 success, 1 refused by the daemon, 2 usage or invalid input (nothing
 *   sent), 3 daemon unreachable, 4 published but not acknowledged in time
 *   (or journaled but not yet published). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "../dataplane/config.h"
#include "ctl.h"
#include "flows.h"
#include "request.h"
#include "rollout.h"
#include "state.h"

/* meson passes the project version as SL_VERSION (as for sluiced) */
#ifdef SL_VERSION
#define SLUICECTL_VERSION SL_VERSION
#else
#define SLUICECTL_VERSION "0.1.0"
#endif

#define DEFAULT_TIMEOUT_MS 10000
#define MAX_TIMEOUT_MS 3600000
#define MAX_REPLY (64u << 20)

static void print_usage(FILE *f);

static const char usage_text[] =
	"usage: sluicectl [--socket PATH | --instance NAME] [--json] [--timeout MS] COMMAND ...\n"
	"\n"
	"commands:\n"
	"  status [SERVICE]\n"
	"  status [SERVICE] --watch [--interval S]\n"
	"  note SERVICE [--markdown]\n"
	"  switch SERVICE GROUP [--sticky|--reset]\n"
	"  canary SERVICE SHARE [--sticky|--reset]\n"
	"  weights SERVICE GROUP=SHARE [GROUP=SHARE] [--sticky|--reset]\n"
	"  rollout start SERVICE (--steps 1%,5%,20%,50%,100% --dwell 60s | --plan FILE)\n"
	"                [--guard NAME[,NAME...]]\n"
	"  rollout status [SERVICE]\n"
	"  rollout pause|resume [SERVICE]\n"
	"  rollout promote [SERVICE] [--full]\n"
	"  rollout abort [SERVICE] [--reset]\n"
	"  pause|resume|promote|abort ...   (same as the rollout forms)\n"
	"  undo SERVICE\n"
	"  shadow add NAME --service SERVICE [--filter EXPR] --sample SHARE --port PORT\n"
	"             [--mac MAC]\n"
	"  shadow remove NAME\n"
	"  shadow list\n"
	"  evidence push SERVICE --group GROUP [--slice SLICE] --signal NAME --total N\n"
	"                --bad M\n"
	"  guard list [SERVICE]\n"
	"  slice add NAME --service SERVICE [--src PREFIX[,PREFIX...]] [--filter EXPR]\n"
	"  slice remove NAME\n"
	"  slice list [SERVICE]\n"
	"  history [SERVICE] [--limit N]\n"
	"  stats\n"
	"  flows SERVICE [--group GROUP] [--limit N] [--telemetry PATH]\n"
	"  flow SERVICE tcp|udp SRC:PORT DST:PORT [--telemetry PATH]\n"
	"  reload\n"
	"  version\n"
	"\n"
	"options:\n"
	"  --socket PATH    the daemon's control socket (default /run/sluice/INSTANCE.sock)\n"
	"  --instance NAME  instance whose socket to use (default: $SLUICE_INSTANCE, else\n"
	"                   \"default\")\n"
	"  --json           print the daemon's reply object as is, on one line\n"
	"  --timeout MS     wait at most MS milliseconds for the reply (default 10000)\n"
	"  -h, --help       print this text\n";

/* the rest of the help (one string would pass C11's 4095 characters) */
static const char usage_notes[] =
	"\n"
	"Shares: 5%, 0.5%, 0.05%, 50bp (0%..100%), checked before anything is sent.\n"
	"--sticky (default): established flows keep their group; --reset: every flow of\n"
	"the service is decided again at once (for an abort when the challenger is broken).\n"
	"A rollout command may omit SERVICE when exactly one rollout is running or paused.\n"
	"shadow add: copies of SHARE of SERVICE's flows (whole flows, chosen by hash), those\n"
	"packets that match the pcap-filter EXPR (default: every packet), go to PORT (role\n"
	"shadow), with destination MAC if given; the filter is compiled before sending.\n"
	"status --watch reads the status every S (default 2 s; 100ms..1h, e.g. 2, 500ms,\n"
	"1m): on a terminal it is redrawn in place (Ctrl-C ends, exit 0); elsewhere (a\n"
	"pipe, a file) a block is printed after a '== TIME ==' line each time it changed\n"
	"(with --json: the reply line).\n"
	"With SERVICE the watch ends by itself (exit 0) once that service's rollout has\n"
	"completed or aborted (one already over when the watch starts waits for the next).\n"
	"A daemon that cannot be reached at the start is exit 3; one\n"
	"that goes away later is tried again every S, saying so, until it answers or\n"
	"Ctrl-C; a refused status (a service removed by a reload) ends it with exit 1.\n"
	"note SERVICE writes the release note of the service's live state: the three\n"
	"statements, the traffic path (ports, groups, members, champion and challenger),\n"
	"the strategy and its steps, the guards in force, how rollback works with the\n"
	"exact command to run, the generation, the time and the last changes; --markdown\n"
	"writes it as Markdown.\n"
	"Guards ([guard NAME] in the configuration or the plan; --guard adds those with\n"
	"rollouts = named) watch a rollout and abort or pause it on evidence; evidence\n"
	"push adds an application monitor's counts (N requests, M bad) for GROUP, the\n"
	"champion or the challenger, to the guards with signal = pushed:NAME.\n"
	"flows lists a service's flows from the dataplane's flow tables (client, server,\n"
	"group, member, state, idle time; a 64-byte entry keeps no age or packet count);\n"
	"flow says where a connection goes and why (its sticky entry, else the hash\n"
	"against the share).  Both read sluice-dp's telemetry socket: root only\n"
	"(sluicectl flows --help).\n"
	"\n"
	"exit status:\n"
	"  0  success (including a change that was already in force)\n"
	"  1  the daemon refused the command (its error code and message on stderr)\n"
	"  2  usage error or invalid input caught locally (nothing was sent)\n"
	"  3  the daemon cannot be reached (socket path and reason on stderr)\n"
	"  4  the change was published but not every worker acknowledged it in time\n"
	"     (or journaled but not yet published: sluiced retries every second), or the\n"
	"     dataplane did not compile a new shadow rule set's filters in time; flows,\n"
	"     flow: a worker did not answer in time\n";

static void print_usage(FILE *f)
{
	fputs(usage_text, f);
	fputs(usage_notes, f);
}

/* Where fail() writes instead of stderr (ctl_errors_to): status --watch
 * draws the message on its screen rather than scrolling it. */
static char *err_buf;
static size_t err_len;

/* Prints "sluicectl: CODE: MESSAGE" on stderr and returns status. */
static int __attribute__((format(printf, 3, 4))) fail(int status, const char *code,
						      const char *fmt, ...)
{
	va_list ap;

	if (err_buf) {
		int n = snprintf(err_buf, err_len, "sluicectl: %s: ", code);

		va_start(ap, fmt);
		if (n >= 0 && (size_t)n < err_len)
			vsnprintf(err_buf + n, err_len - (size_t)n, fmt, ap);
		va_end(ap);
		return status;
	}
	fprintf(stderr, "sluicectl: %s: ", code);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

/* ---- talking to the daemon ---- */

static uint64_t now_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Waits for events on fd until the deadline; 0 ready, -1 timed out. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		uint64_t now = now_mono_ms();
		int r;

		if (now >= deadline)
			return -1;
		r = poll(&p, 1, (int)(deadline - now));
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

/* Sends one line, reads one reply line into *reply (NUL-terminated,
 * without the newline).  Returns 0 or an exit status (message printed). */
static int exchange(const char *path, const char *line, uint32_t timeout_ms, char **reply)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t deadline = now_mono_ms() + timeout_ms;
	size_t len = strlen(line), off = 0, cap = 4096, used = 0;
	char *buf;
	int fd, send_err = 0;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(EXIT_UNREACHABLE, "unreachable", "cannot create a socket for %s: %s",
			    path, strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int e = errno;

		close(fd);
		return fail(EXIT_UNREACHABLE, "unreachable", "cannot connect to %s: %s (is sluiced "
			    "running for this instance? --socket or --instance choose another)",
			    path, strerror(e));
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	while (off < len && !send_err) {
		ssize_t w = send(fd, line + off, len - off, MSG_NOSIGNAL);

		if (w > 0) {
			off += (size_t)w;
		} else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(fd, POLLOUT, deadline)) {
				close(fd);
				return fail(EXIT_UNREACHABLE, "unreachable",
					    "%s: the daemon took no request within %" PRIu32
					    " ms (--timeout)", path, timeout_ms);
			}
		} else if (errno == EPIPE || errno == ECONNRESET) {
			/* a refusal (forbidden, too many connections) may be waiting */
			send_err = errno;
		} else {
			int e = errno;

			close(fd);
			return fail(EXIT_UNREACHABLE, "unreachable", "cannot send to %s: %s", path,
				    strerror(e));
		}
	}
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		return fail(EXIT_REFUSED, "internal", "out of memory");
	}
	for (;;) {
		ssize_t r;
		char *nl;

		if (used + 1 == cap) {
			char *nb = cap >= MAX_REPLY ? NULL : realloc(buf, cap * 2);

			if (!nb) {
				free(buf);
				close(fd);
				return fail(EXIT_REFUSED, "internal",
					    "%s: reply longer than %u bytes", path, MAX_REPLY);
			}
			buf = nb;
			cap *= 2;
		}
		r = recv(fd, buf + used, cap - 1 - used, 0);
		if (r > 0) {
			buf[used + (size_t)r] = '\0';
			nl = memchr(buf + used, '\n', (size_t)r);
			used += (size_t)r;
			if (nl) {
				*nl = '\0';
				break;
			}
		} else if (r == 0 || (send_err && errno == ECONNRESET)) {
			free(buf);
			close(fd);
			if (send_err)
				return fail(EXIT_UNREACHABLE, "unreachable", "cannot send to %s: %s",
					    path, strerror(send_err));
			return fail(EXIT_UNREACHABLE, "unreachable", "%s: the daemon closed the "
				    "connection without a reply", path);
		} else if (errno == EAGAIN || errno == EINTR) {
			if (wait_fd(fd, POLLIN, deadline)) {
				free(buf);
				close(fd);
				return fail(EXIT_UNREACHABLE, "unreachable", "%s: no reply within %"
					    PRIu32 " ms (--timeout)", path, timeout_ms);
			}
		} else {
			int e = errno;

			free(buf);
			close(fd);
			return fail(EXIT_UNREACHABLE, "unreachable", "cannot read from %s: %s",
				    path, strerror(e));
		}
	}
	close(fd);
	*reply = buf;
	return 0;
}

/* ---- human output ---- */

static const char *jstr(const json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : dflt;
}

static bool jint(const json_t *o, const char *key, json_int_t *v)
{
	json_t *j = json_object_get(o, key);

	if (!json_is_integer(j))
		return false;
	*v = json_integer_value(j);
	return true;
}

static json_int_t jint_or(const json_t *o, const char *key, json_int_t dflt)
{
	json_int_t v;

	return jint(o, key, &v) ? v : dflt;
}

static void fmt_share(char *buf, size_t len, json_int_t bp)
{
	if (bp < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%u.%02u %%", (unsigned)(bp / 100), (unsigned)(bp % 100));
}

static uint64_t now_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* "step 2/5 at 5.00 %, running, next step in 41 s" (sl_ro_to_json form,
 * with the daemon's next_step_in_ms when it sends it); to: the challenger's
 * name after the share ("at 5.00 % -> green"), or NULL. */
static bool rollout_line(const json_t *ro, const char *to, char *buf, size_t len)
{
	const char *state = jstr(ro, "state", NULL);
	json_t *steps = json_object_get(ro, "steps");
	json_int_t step = jint_or(ro, "step", 0);
	size_t n = json_array_size(steps);
	const char *chall = jstr(ro, "challenger", NULL);
	json_int_t next;
	json_t *cur;
	char at[64];
	uint64_t left_ms;

	if (!json_is_object(ro) || !state || !strcmp(state, "none"))
		return false;
	if (!n || step < 0 || (size_t)step >= n) {
		snprintf(buf, len, "%s", state);
		return true;
	}
	cur = json_array_get(steps, (size_t)step);
	fmt_share(at, sizeof(at), jint_or(cur, "share_bp", -1));
	if (to)
		snprintf(at + strlen(at), sizeof(at) - strlen(at), " -> %s", to);
	if (!strcmp(state, "completed")) {
		if (chall)
			snprintf(buf, len, "completed after step %lld/%zu (%s became champion)",
				 (long long)step + 1, n, chall);
		else
			snprintf(buf, len, "completed after step %lld/%zu (the challenger became "
				 "champion)", (long long)step + 1, n);
		return true;
	}
	if (!strcmp(state, "aborted")) {
		snprintf(buf, len, "aborted at step %lld/%zu (%s at 0 %%)", (long long)step + 1, n,
			 chall ? chall : "challenger");
		return true;
	}
	left_ms = (uint64_t)jint_or(ro, "dwell_left_ms", 0);
	if (jint(ro, "next_step_in_ms", &next) && next >= 0) {
		left_ms = (uint64_t)next;
	} else if (!strcmp(state, "running")) {
		uint64_t end = (uint64_t)jint_or(ro, "step_started_ms", 0) + left_ms;
		uint64_t now = now_wall_ms();

		left_ms = end > now ? end - now : 0;
	}
	if (!strcmp(state, "running"))
		snprintf(buf, len, "step %lld/%zu at %s, running, %s in %" PRIu64 " s",
			 (long long)step + 1, n, at,
			 (size_t)step + 1 == n ? "completes" : "next step", (left_ms + 999) / 1000);
	else if (!strcmp(state, "paused") && json_is_true(json_object_get(ro, "operator_pause")))
		snprintf(buf, len, "step %lld/%zu at %s, paused by the operator with %" PRIu64
			 " s of dwell left (resume to go on)", (long long)step + 1, n, at,
			 (left_ms + 999) / 1000);
	else if (!strcmp(state, "paused"))
		snprintf(buf, len, "step %lld/%zu at %s, paused at a pause step (resume or "
			 "promote to go on)", (long long)step + 1, n, at);
	else
		snprintf(buf, len, "step %lld/%zu at %s, %s", (long long)step + 1, n, at, state);
	return true;
}

/* "canary 5.00 % -> green" for a SERVICE_STATE; compact ("canary 5.00 % to
 * green") where two of them stand side by side, as "before -> after". */
static void describe_state(const json_t *st, bool compact, char *buf, size_t len)
{
	const char *strategy = jstr(st, "strategy", "?");
	const char *champ = jstr(st, "champion", "?");
	const char *chall = jstr(st, "challenger", "?");
	char share[32];

	fmt_share(share, sizeof(share), jint_or(st, "share_bp", -1));
	if (!json_is_object(st))
		snprintf(buf, len, "-");
	else if (!strcmp(strategy, "steady"))
		snprintf(buf, len, compact ? "steady, all to %s" : "steady, all new flows -> %s",
			 champ);
	else if (!strcmp(strategy, "blue-green") && compact)
		snprintf(buf, len, "blue-green, all to %s", champ);
	else if (!strcmp(strategy, "blue-green"))
		snprintf(buf, len, "blue-green, all new flows -> %s, %s kept for a switch back",
			 champ, chall);
	else
		snprintf(buf, len, compact ? "%s %s to %s" : "%s %s -> %s", strategy, share, chall);
}

/* Exit status 4 for a change's result: published but not acknowledged in
 * time, journaled but not yet published, or a new rule set's filters not
 * compiled in time.  The human output and --json agree on it. */
static bool not_acked(const json_t *res)
{
	const char *acks = jstr(json_object_get(res, "acks"), "status", "");

	return !strcmp(acks, "timeout") || !strcmp(acks, "unpublished") ||
	       !strcmp(jstr(json_object_get(res, "filters"), "status", ""), "timeout");
}

/* ", acknowledged by 1 worker in 37 us". */
static void describe_acks(const json_t *acks, char *buf, size_t len)
{
	const char *status = jstr(acks, "status", NULL);
	json_int_t workers = jint_or(acks, "workers", 0);
	json_int_t waited = jint_or(acks, "waited_us", 0);

	if (!status) {
		buf[0] = '\0';
		return;
	}
	if (!strcmp(status, "acked")) {
		snprintf(buf, len, ", acknowledged by %lld worker%s in %lld us",
			 (long long)workers, workers == 1 ? "" : "s", (long long)waited);
		return;
	}
	if (!strcmp(status, "no_dataplane")) {
		snprintf(buf, len, ", published, no dataplane attached");
		return;
	}
	if (!strcmp(status, "unpublished")) {
		snprintf(buf, len, ", journaled but NOT published yet (the maps refused the "
			 "table; sluiced retries every second)");
		return;
	}
	if (!strcmp(status, "timeout")) {
		json_t *missing = json_object_get(acks, "missing");
		size_t off, i;
		json_t *w;

		off = (size_t)snprintf(buf, len, ", NOT acknowledged by worker%s ",
				       json_array_size(missing) == 1 ? "" : "s");
		json_array_foreach(missing, i, w)
			if (off < len)
				off += (size_t)snprintf(buf + off, len - off, "%s%lld",
							i ? ", " : "",
							(long long)json_integer_value(w));
		if (off < len)
			snprintf(buf + off, len - off, " within %lld ms",
				 (long long)jint_or(acks, "timeout_ms", (waited + 999) / 1000));
		return;
	}
	snprintf(buf, len, ", acknowledgement: %s", status);
}

/* One line for a change (or a no-change). */
static void print_change(const struct sl_rq_command *c, const json_t *res)
{
	const json_t *after = json_object_get(res, "after");
	const json_t *ro = json_object_get(res, "rollout");
	const char *svc = jstr(res, "service", NULL);
	const char *note = jstr(res, "note", NULL);
	char st[256], line[256], desc[640], acks[256];
	bool changed = !json_is_false(json_object_get(res, "changed"));

	describe_state(after, false, st, sizeof(st));
	snprintf(desc, sizeof(desc), "%s", st);
	/* a rollout verb says where the rollout stands */
	if (c->kind >= SL_CMD_ROLLOUT_START && c->kind <= SL_CMD_ROLLOUT_ABORT &&
	    rollout_line(ro, jstr(after, "challenger", NULL), line, sizeof(line))) {
		const char *state = jstr(ro, "state", "");

		if (!strcmp(state, "completed") || !strcmp(state, "aborted"))
			snprintf(desc, sizeof(desc), "rollout %s; now %s", line, st);
		else
			snprintf(desc, sizeof(desc), "rollout %s", line);
	}
	describe_acks(json_object_get(res, "acks"), acks, sizeof(acks));
	if (svc && json_is_object(after) && !changed)
		printf("%s: unchanged (already %s), generation %lld\n", svc, desc,
		       (long long)jint_or(res, "gen", 0));
	else if (svc && json_is_object(after))
		printf("%s: %s%s, generation %lld%s\n", svc, desc,
		       !strcmp(jstr(after, "mode", "sticky"), "reset") ?
		       ", established flows decided again (--reset)" : "",
		       (long long)jint_or(res, "gen", 0), acks);
	else
		printf("%s: %s, generation %lld%s\n", svc ? svc : c->words,
		       changed ? "changed" : "unchanged", (long long)jint_or(res, "gen", 0), acks);
	/* what a reload could not apply: the operator must know */
	if (note && *note)
		printf("%s: note: %s\n", svc ? svc : c->words, note);
}

/* "10.00 % of web's flows matching 'tcp dst port 443' -> port mirror" for
 * a SHADOW_RULE: sluiced's own words for it. */
static void describe_rule(const json_t *r, char *buf, size_t len)
{
	struct sl_shadow_rule rule;
	char err[SL_ERR_LEN];
	unsigned slot;

	if (sl_shadow_from_json(&rule, &slot, r, err, sizeof(err)))
		snprintf(buf, len, "(%s)", err);
	else
		sl_shadow_describe(&rule, buf, len);
}

/* ", filters compiled by the dataplane in 812 us". */
static void describe_filters(const json_t *f, char *buf, size_t len)
{
	const char *status = jstr(f, "status", "");

	buf[0] = '\0';
	if (!strcmp(status, "compiled")) {
		snprintf(buf, len, ", filters compiled by the dataplane in %lld us",
			 (long long)jint_or(f, "waited_us", 0));
	} else if (!strcmp(status, "timeout")) {
		snprintf(buf, len, ", filters NOT compiled by the dataplane within %lld ms (it "
			 "runs those of generation %lld; sampled packets count as pending)",
			 (long long)jint_or(f, "timeout_ms", 0),
			 (long long)jint_or(f, "ready_gen", 0));
	}
}

/* shadow add / remove: one line. */
static void print_shadow_change(const struct sl_rq_command *c, const json_t *res)
{
	const json_t *rule = json_object_get(res, "shadow");
	char what[640], acks[256], filters[256];

	describe_rule(rule, what, sizeof(what));
	if (json_is_false(json_object_get(res, "changed"))) {
		printf("shadow %s: unchanged (already %s), generation %lld\n",
		       jstr(rule, "name", "?"), what, (long long)jint_or(res, "gen", 0));
		return;
	}
	describe_acks(json_object_get(res, "acks"), acks, sizeof(acks));
	describe_filters(json_object_get(res, "filters"), filters, sizeof(filters));
	if (c->kind == SL_CMD_SHADOW_ADD)
		printf("shadow %s: added, %s, generation %lld%s%s\n", jstr(rule, "name", "?"),
		       what, (long long)jint_or(res, "gen", 0), acks, filters);
	else
		printf("shadow %s: removed (was %s), generation %lld%s%s\n",
		       jstr(rule, "name", "?"), what, (long long)jint_or(res, "gen", 0), acks,
		       filters);
}

/* reload: a line for the whole, then one per service whose split moved. */
static void print_reload(const json_t *res)
{
	json_t *svcs = json_object_get(res, "services");
	const char *note = jstr(res, "note", NULL);
	char acks[256];
	json_t *e;
	size_t i;

	describe_acks(json_object_get(res, "acks"), acks, sizeof(acks));
	if (json_is_true(json_object_get(res, "changed")))
		printf("reload: %s applied, generation %lld%s\n", jstr(res, "config", "the file"),
		       (long long)jint_or(res, "gen", 0), acks);
	else
		printf("reload: unchanged, generation %lld\n", (long long)jint_or(res, "gen", 0));
	json_array_foreach(svcs, i, e) {
		const json_t *b = json_object_get(e, "before"), *a = json_object_get(e, "after");
		char before[160], after[160];

		if (json_equal((json_t *)b, (json_t *)a))
			continue;
		describe_state(b, true, before, sizeof(before));
		describe_state(a, true, after, sizeof(after));
		printf("  %s: %s%s -> %s%s\n", jstr(a, "name", jstr(b, "name", "?")),
		       json_is_object(b) ? "" : "new: ", before,
		       json_is_object(a) ? after : "removed",
		       json_is_integer(json_object_get(e, "reset_gen")) &&
		       jint_or(e, "reset_gen", 0) == jint_or(res, "gen", -1) ?
		       " (its flows are decided again)" : "");
	}
	if (note && *note)
		printf("reload: note: %s\n", note);
}

/* ---- aligned tables ---- */

#define TBL_MAX_COLS 12
#define TBL_MAX_ROWS 512
#define TBL_CELL 96

struct table {
	int ncols, nrows;
	bool right[TBL_MAX_COLS];
	char cell[TBL_MAX_ROWS][TBL_MAX_COLS][TBL_CELL];
};

static struct table *table_new(int ncols, const char *const *head, const bool *right)
{
	struct table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->ncols = ncols < TBL_MAX_COLS ? ncols : TBL_MAX_COLS;
	for (int c = 0; c < t->ncols; c++) {
		snprintf(t->cell[0][c], TBL_CELL, "%s", head[c]);
		t->right[c] = right ? right[c] : false;
	}
	t->nrows = 1;
	return t;
}

/* The next row's cells (NULL when full: the caller prints what fits). */
static char (*table_row(struct table *t))[TBL_CELL]
{
	if (t->nrows == TBL_MAX_ROWS)
		return NULL;
	return t->cell[t->nrows++];
}

static void table_print(struct table *t, const char *indent)
{
	size_t w[TBL_MAX_COLS] = { 0 };

	for (int r = 0; r < t->nrows; r++)
		for (int c = 0; c < t->ncols; c++)
			if (strlen(t->cell[r][c]) > w[c])
				w[c] = strlen(t->cell[r][c]);
	for (int r = 0; r < t->nrows; r++) {
		char line[TBL_MAX_COLS * (TBL_CELL + 2) + 64];
		size_t off = (size_t)snprintf(line, sizeof(line), "%s", indent);

		for (int c = 0; c < t->ncols; c++)
			off += (size_t)snprintf(line + off, sizeof(line) - off,
						t->right[c] ? "%s%*s" : "%s%-*s", c ? "  " : "",
						(int)w[c], t->cell[r][c]);
		while (off && line[off - 1] == ' ')
			line[--off] = '\0';
		puts(line);
	}
	if (t->nrows == TBL_MAX_ROWS)
		printf("%s(more rows not shown: use --json)\n", indent);
	free(t);
}

static void print_shadow_list(const json_t *res)
{
	static const char *const head[] = { "rule", "service", "sample", "filter", "port", "mac",
					    "flows", "packets", "dropped", "pending" };
	static const bool right[] = { false, false, true, false, false, false, true, true, true,
				      true };
	json_t *list = json_object_get(res, "shadows"), *r;
	struct table *t;
	json_int_t ready;
	size_t i;

	printf("shadow rules of generation %lld, ", (long long)jint_or(res, "shadow_gen", 0));
	if (jint(res, "ready_gen", &ready))
		printf("the dataplane runs the filters of generation %lld%s\n", (long long)ready,
		       ready == jint_or(res, "shadow_gen", 0) ? "" : " (not compiled yet)");
	else
		printf("no dataplane attached\n");
	if (!json_array_size(list)) {
		printf("no shadow rules\n");
		return;
	}
	t = table_new(10, head, right);
	if (!t)
		return;
	json_array_foreach(list, i, r) {
		char (*row)[TBL_CELL] = table_row(t);
		const char *filter = jstr(r, "filter", "");

		if (!row)
			break;
		snprintf(row[0], TBL_CELL, "%s", jstr(r, "name", "?"));
		snprintf(row[1], TBL_CELL, "%s", jstr(r, "service", "?"));
		fmt_share(row[2], TBL_CELL, jint_or(r, "sample_bp", -1));
		snprintf(row[3], TBL_CELL, "%s", *filter ? filter : "(every packet)");
		snprintf(row[4], TBL_CELL, "%s", jstr(r, "port", "?"));
		snprintf(row[5], TBL_CELL, "%s", jstr(r, "mac", "-"));
		snprintf(row[6], TBL_CELL, "%lld", (long long)jint_or(r, "flows", 0));
		snprintf(row[7], TBL_CELL, "%lld", (long long)jint_or(r, "packets", 0));
		snprintf(row[8], TBL_CELL, "%lld", (long long)jint_or(r, "dropped", 0));
		snprintf(row[9], TBL_CELL, "%lld", (long long)jint_or(r, "pending", 0));
	}
	table_print(t, "");
}

/* ---- status ---- */

static void print_dataplane(const json_t *dp)
{
	json_int_t workers = jint_or(dp, "workers", 0);

	if (json_is_true(json_object_get(dp, "attached")))
		printf("dataplane: attached, %lld worker%s (pid %lld)\n", (long long)workers,
		       workers == 1 ? "" : "s", (long long)jint_or(dp, "pid", 0));
	else
		printf("dataplane: not attached\n");
}

static void print_guards(const json_t *guards, const char *indent);

static void print_service_status(const json_t *s)
{
	static const char *const head[] = { "group", "role", "configured", "measured",
					    "new flows", "active flows" };
	static const bool right[] = { false, false, true, true, true, true };
	const json_t *st = json_object_get(s, "state");
	const json_t *ro = json_object_get(s, "rollout");
	const json_t *sentences = json_object_get(s, "sentences");
	json_int_t conf = jint_or(s, "configured_share_bp", jint_or(st, "share_bp", 0));
	json_int_t meas = jint_or(s, "measured_share_bp", -1);
	const char *grp[2] = { jstr(st, "champion", "?"), jstr(st, "challenger", "?") };
	static const char *const roles[2] = { "champion", "challenger" };
	static const char *const keys[] = { "challenger_output", "live_share", "rollback" };
	struct table *t = table_new(6, head, right);
	char line[160];

	printf("%s\n", jstr(st, "name", "?"));
	if (t) {
		/* the interval makes "new flows" meaningful */
		if (jint_or(s, "interval_s", 0) > 0)
			snprintf(t->cell[0][4], TBL_CELL, "new flows (%lld s)",
				 (long long)jint_or(s, "interval_s", 0));
		for (int i = 0; i < 2; i++) {
			char (*row)[TBL_CELL] = table_row(t);
			json_int_t c = i ? conf : 10000 - conf;
			json_int_t m = meas < 0 ? -1 : (i ? meas : 10000 - meas);
			json_int_t v;

			snprintf(row[0], TBL_CELL, "%s", grp[i]);
			snprintf(row[1], TBL_CELL, "%s", roles[i]);
			fmt_share(row[2], TBL_CELL, c);
			fmt_share(row[3], TBL_CELL, m);
			if (jint(json_object_get(s, "new_flows"), grp[i], &v))
				snprintf(row[4], TBL_CELL, "%lld", (long long)v);
			else
				snprintf(row[4], TBL_CELL, "-");
			if (jint(json_object_get(s, "active_flows"), grp[i], &v))
				snprintf(row[5], TBL_CELL, "%lld", (long long)v);
			else
				snprintf(row[5], TBL_CELL, "-");
		}
		table_print(t, "  ");
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (json_is_string(json_object_get(sentences, keys[i])))
			printf("  %s\n", jstr(sentences, keys[i], ""));
	print_guards(json_object_get(s, "guards"), "  ");
	if (json_is_string(json_object_get(s, "held")))
		printf("  held at the end of the step: %s\n", jstr(s, "held", ""));
	printf("  strategy: %s (%s)\n", jstr(st, "strategy", "?"), jstr(st, "mode", "sticky"));
	printf("  generation: %lld\n", (long long)jint_or(s, "gen", 0));
	if (rollout_line(ro, NULL, line, sizeof(line)))
		printf("  rollout: %s\n", line);
	{
		json_t *r;
		size_t k;

		json_array_foreach(json_object_get(s, "shadows"), k, r) {
			char what[640];

			describe_rule(r, what, sizeof(what));
			printf("  shadow %s: %s\n", jstr(r, "name", "?"), what);
		}
	}
}

/* Each guard: its counts, rates, statistic against threshold, sentence. */
static void print_guards(const json_t *guards, const char *indent)
{
	static const char *const head[] = { "guard", "signal", "verdict", "champion",
					    "challenger", "log E", "threshold" };
	static const bool right[] = { false, false, false, true, true, true, true };
	struct table *t;
	json_t *g;
	size_t i;

	if (!json_array_size(guards))
		return;
	t = table_new(7, head, right);
	if (!t)
		return;
	json_array_foreach(guards, i, g) {
		char (*row)[TBL_CELL] = table_row(t);
		const json_t *a = json_object_get(g, "champion"), *b = json_object_get(g, "challenger");

		if (!row)
			break;
		snprintf(row[0], TBL_CELL, "%s%s%s", jstr(g, "name", "?"),
			 json_object_get(g, "slice") ? "/" : "", jstr(g, "slice", ""));
		snprintf(row[1], TBL_CELL, "%s", jstr(g, "signal", "?"));
		snprintf(row[2], TBL_CELL, "%s", jstr(g, "verdict", "?"));
		snprintf(row[3], TBL_CELL, "%lld/%lld %.2f%%", (long long)jint_or(a, "bad", 0),
			 (long long)jint_or(a, "flows", 0),
			 100.0 * json_number_value(json_object_get(a, "rate")));
		snprintf(row[4], TBL_CELL, "%lld/%lld %.2f%%", (long long)jint_or(b, "bad", 0),
			 (long long)jint_or(b, "flows", 0),
			 100.0 * json_number_value(json_object_get(b, "rate")));
		snprintf(row[5], TBL_CELL, "%.2f", json_number_value(json_object_get(g, "statistic")));
		snprintf(row[6], TBL_CELL, "%.2f", json_number_value(json_object_get(g, "threshold")));
	}
	table_print(t, indent);
	json_array_foreach(guards, i, g)
		printf("%s%s\n", indent, jstr(g, "sentence", ""));
}

static void print_evidence(const json_t *res)
{
	const json_t *ev = json_object_get(res, "evidence");
	const json_t *cum = json_object_get(ev, "cumulative");

	printf("%s: evidence %s%s%s for %s (%s): %lld bad of %lld; %lld bad of %lld pushed so "
	       "far\n", jstr(res, "service", "?"), jstr(ev, "signal", "?"),
	       json_object_get(ev, "slice") ? " on slice " : "", jstr(ev, "slice", ""),
	       jstr(ev, "group", "?"), jstr(ev, "role", "?"), (long long)jint_or(ev, "bad", 0),
	       (long long)jint_or(ev, "total", 0), (long long)jint_or(cum, "bad", 0),
	       (long long)jint_or(cum, "total", 0));
	print_guards(json_object_get(res, "guards"), "  ");
}

static void print_guard_list(const json_t *res)
{
	static const char *const head[] = { "guard", "source", "service", "slice", "signal",
					    "min_flows", "margin", "alpha", "on_fail",
					    "on_inconclusive" };
	json_t *list = json_object_get(res, "guards");
	static const bool right[10] = { false };
	struct table *t;
	json_t *g;
	size_t i;
	int figs = 0;

	if (!json_array_size(list)) {
		printf("no guards\n");
		return;
	}
	t = table_new(10, head, right);
	if (!t)
		return;
	json_array_foreach(list, i, g) {
		char (*row)[TBL_CELL] = table_row(t);

		if (!row)
			break;
		snprintf(row[0], TBL_CELL, "%s", jstr(g, "name", "?"));
		if (!strcmp(jstr(g, "source", ""), "rollout"))
			snprintf(row[1], TBL_CELL, "rollout (%s)", jstr(g, "rollout", "?"));
		else
			snprintf(row[1], TBL_CELL, "config (%s)", jstr(g, "rollouts", "all"));
		snprintf(row[2], TBL_CELL, "%s", jstr(g, "service", "?"));
		snprintf(row[3], TBL_CELL, "%s", jstr(g, "slice", "-"));
		snprintf(row[4], TBL_CELL, "%s%s%s", jstr(g, "signal", "?"),
			 json_object_get(g, "threshold") ? " >= " : "", jstr(g, "threshold", ""));
		snprintf(row[5], TBL_CELL, "%lld", (long long)jint_or(g, "min_flows", 0));
		snprintf(row[6], TBL_CELL, "%s", jstr(g, "margin", "?"));
		snprintf(row[7], TBL_CELL, "%s", jstr(g, "alpha", "?"));
		snprintf(row[8], TBL_CELL, "%s%s", jstr(g, "on_fail", "?"),
			 !strcmp(jstr(g, "reset", "no"), "yes") ? " --reset" : "");
		snprintf(row[9], TBL_CELL, "%s", jstr(g, "on_inconclusive", "?"));
		figs |= json_is_object(json_object_get(g, "figures"));
	}
	table_print(t, "");
	json_array_foreach(list, i, g)
		if (json_is_object(json_object_get(g, "figures")))
			printf("%s\n", jstr(json_object_get(g, "figures"), "sentence", ""));
	(void)figs;
}

static void print_slice_change(const struct sl_rq_command *c, const json_t *res)
{
	const json_t *sl = json_object_get(res, "slice");
	char acks[256];

	describe_acks(json_object_get(res, "acks"), acks, sizeof(acks));
	if (json_is_false(json_object_get(res, "changed")))
		printf("slice %s of %s: unchanged (already so), generation %lld\n",
		       jstr(sl, "name", "?"), jstr(sl, "service", "?"),
		       (long long)jint_or(res, "gen", 0));
	else
		printf("slice %s %s %s (slot %lld), generation %lld%s\n", jstr(sl, "name", "?"),
		       c->kind == SL_CMD_SLICE_ADD ? "added to" : "removed from",
		       jstr(sl, "service", "?"), (long long)jint_or(sl, "slot", -1),
		       (long long)jint_or(res, "gen", 0), acks);
}

static void print_slice_list(const json_t *res)
{
	static const char *const head[] = { "slice", "service", "src", "filter", "champion flows",
					    "rst", "challenger flows", "rst" };
	static const bool right[] = { false, false, false, false, true, true, true, true };
	json_t *list = json_object_get(res, "slices");
	struct table *t;
	json_t *s;
	size_t i;

	if (!json_array_size(list)) {
		printf("no slices\n");
		return;
	}
	t = table_new(8, head, right);
	if (!t)
		return;
	json_array_foreach(list, i, s) {
		char (*row)[TBL_CELL] = table_row(t);
		const json_t *ev = json_object_get(s, "evidence");
		const json_t *a = json_object_get(ev, "champion"), *b = json_object_get(ev, "challenger");
		size_t off = 0, j;
		json_t *p;

		if (!row)
			break;
		snprintf(row[0], TBL_CELL, "%s", jstr(s, "name", "?"));
		snprintf(row[1], TBL_CELL, "%s", jstr(s, "service", "?"));
		row[2][0] = '\0';
		json_array_foreach(json_object_get(s, "src"), j, p)
			if (off < TBL_CELL)
				off += (size_t)snprintf(row[2] + off, TBL_CELL - off, "%s%s",
							j ? "," : "", json_string_value(p));
		if (!off)
			snprintf(row[2], TBL_CELL, "-");
		snprintf(row[3], TBL_CELL, "%s", *jstr(s, "filter", "") ? jstr(s, "filter", "") : "-");
		snprintf(row[4], TBL_CELL, "%lld", (long long)jint_or(a, "flows", 0));
		snprintf(row[5], TBL_CELL, "%lld", (long long)jint_or(a, "rst", 0));
		snprintf(row[6], TBL_CELL, "%lld", (long long)jint_or(b, "flows", 0));
		snprintf(row[7], TBL_CELL, "%lld", (long long)jint_or(b, "rst", 0));
	}
	table_print(t, "");
}

static void print_status(const json_t *res)
{
	json_t *svcs = json_object_get(res, "services");
	json_t *s;
	size_t i;

	printf("instance %s, generation %lld\n", jstr(res, "instance", "?"),
	       (long long)jint_or(res, "gen", 0));
	json_array_foreach(svcs, i, s) {
		putchar('\n');
		print_service_status(s);
	}
	if (!json_array_size(svcs))
		printf("no services\n");
	putchar('\n');
	print_dataplane(json_object_get(res, "dataplane"));
}

/* ---- rollout status ---- */

static void print_rollouts(const json_t *res)
{
	json_t *list = json_object_get(res, "rollouts");
	json_t *r;
	size_t i, shown = 0;
	char line[160];

	json_array_foreach(list, i, r) {
		const char *svc = jstr(r, "service", "?");
		const json_t *ro = json_object_get(r, "rollout");

		if (rollout_line(ro, NULL, line, sizeof(line))) {
			printf("%s: rollout: %s\n", svc, line);
			shown++;
		} else if (json_array_size(list) == 1) {
			printf("%s: no rollout\n", svc);
			shown++;
		}
	}
	if (!shown)
		printf("no rollout\n");
}

/* ---- history ---- */

static void describe_actor(const json_t *a, char *buf, size_t len)
{
	if (json_is_string(a))
		snprintf(buf, len, "%s", json_string_value(a));
	else if (json_is_object(a))
		snprintf(buf, len, "uid %lld pid %lld", (long long)jint_or(a, "uid", -1),
			 (long long)jint_or(a, "pid", -1));
	else
		snprintf(buf, len, "-");
}

/* "web,dns": the services an init, recover or reload entry is about. */
static void join_names(const json_t *svcs, char *buf, size_t len)
{
	size_t off = 0, i;
	json_t *e;

	buf[0] = '\0';
	json_array_foreach(svcs, i, e) {
		const char *n = jstr(json_object_get(e, "after"), "name",
				     jstr(json_object_get(e, "before"), "name", "?"));

		if (off < len)
			off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? "," : "", n);
	}
	if (!off)
		snprintf(buf, len, "-");
}

static void print_history(const json_t *res)
{
	static const char *const head[] = { "time", "gen", "actor", "cmd", "service", "change",
					    "reason" };
	static const bool right[] = { false, true, false, false, false, false, false };
	json_t *list = json_object_get(res, "entries");
	struct table *t;
	json_t *e;
	size_t i;

	if (!json_array_size(list)) {
		printf("no changes journaled\n");
		return;
	}
	t = table_new(7, head, right);
	if (!t)
		return;
	json_array_foreach(list, i, e) {
		char (*row)[TBL_CELL] = table_row(t);
		char before[TBL_CELL], after[TBL_CELL];

		if (!row)
			break;
		snprintf(row[0], TBL_CELL, "%s", jstr(e, "time", "-"));
		snprintf(row[1], TBL_CELL, "%lld", (long long)jint_or(e, "gen", 0));
		describe_actor(json_object_get(e, "actor"), row[2], TBL_CELL);
		snprintf(row[3], TBL_CELL, "%s", jstr(e, "cmd", "-"));
		if (json_is_array(json_object_get(e, "services")))
			join_names(json_object_get(e, "services"), row[4], TBL_CELL);
		else
			snprintf(row[4], TBL_CELL, "%s", jstr(e, "service", "-"));
		describe_state(json_object_get(e, "before"), true, before, sizeof(before));
		describe_state(json_object_get(e, "after"), true, after, sizeof(after));
		if (json_is_object(json_object_get(e, "before")) ||
		    json_is_object(json_object_get(e, "after")))
			snprintf(row[5], TBL_CELL, "%.44s -> %.44s", before, after);
		else
			snprintf(row[5], TBL_CELL, "-");
		snprintf(row[6], TBL_CELL, "%s", jstr(e, "reason", ""));
		if (json_is_object(json_object_get(e, "evidence"))) {
			const json_t *ev = json_object_get(e, "evidence");

			snprintf(row[5], TBL_CELL, "%s %s%s%s: %lld bad of %lld", jstr(ev, "group", "?"),
				 jstr(ev, "signal", "?"), json_object_get(ev, "slice") ? "/" : "",
				 jstr(ev, "slice", ""), (long long)jint_or(ev, "bad", 0),
				 (long long)jint_or(ev, "total", 0));
		}
	}
	table_print(t, "");
}

/* ---- stats and anything else: a readable rendering of any JSON ---- */

static void scalar_text(const json_t *v, char *buf, size_t len)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		snprintf(buf, len, "%s", json_string_value(v));
		break;
	case JSON_INTEGER:
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
		break;
	case JSON_REAL:
		snprintf(buf, len, "%.3f", json_real_value(v));
		break;
	case JSON_TRUE:
		snprintf(buf, len, "yes");
		break;
	case JSON_FALSE:
		snprintf(buf, len, "no");
		break;
	case JSON_NULL:
		snprintf(buf, len, "-");
		break;
	default: {
		char *s = json_dumps(v, JSON_COMPACT);

		snprintf(buf, len, "%s", s ? s : "?");
		free(s);
		break;
	}
	}
}

static bool is_scalar(const json_t *v)
{
	return !json_is_object(v) && !json_is_array(v);
}

/* An array of objects whose values are scalars: one table. */
static bool tabular(const json_t *arr)
{
	json_t *e, *v;
	const char *k;
	size_t i;

	if (!json_array_size(arr))
		return false;
	json_array_foreach(arr, i, e) {
		if (!json_is_object(e) || json_object_size(e) > TBL_MAX_COLS)
			return false;
		json_object_foreach(e, k, v)
			if (!is_scalar(v))
				return false;
	}
	return true;
}

static void render(const json_t *v, int depth);

static void render_table(const json_t *arr, int depth)
{
	const char *head[TBL_MAX_COLS];
	bool right[TBL_MAX_COLS];
	char indent[32];
	json_t *first = json_array_get(arr, 0), *e, *v;
	struct table *t;
	const char *k;
	int n = 0;
	size_t i;

	json_object_foreach(first, k, v) {
		head[n] = k;
		right[n++] = json_is_number(v);
	}
	t = table_new(n, head, right);
	if (!t)
		return;
	json_array_foreach(arr, i, e) {
		char (*row)[TBL_CELL] = table_row(t);

		if (!row)
			break;
		for (int c = 0; c < n; c++)
			scalar_text(json_object_get(e, head[c]), row[c], TBL_CELL);
	}
	snprintf(indent, sizeof(indent), "%*s", depth * 2, "");
	table_print(t, indent);
}

static void render(const json_t *v, int depth)
{
	char text[512];
	const char *k;
	json_t *x;
	size_t i;

	if (json_is_object(v)) {
		/* scalars first, as one aligned key: value block */
		size_t w = 0;

		json_object_foreach((json_t *)v, k, x)
			if (is_scalar(x) && strlen(k) > w)
				w = strlen(k);
		json_object_foreach((json_t *)v, k, x)
			if (is_scalar(x)) {
				scalar_text(x, text, sizeof(text));
				printf("%*s%-*s  %s\n", depth * 2, "", (int)w + 1, k, text);
			}
		json_object_foreach((json_t *)v, k, x)
			if (!is_scalar(x)) {
				printf("%*s%s:\n", depth * 2, "", k);
				render(x, depth + 1);
			}
	} else if (json_is_array(v)) {
		if (tabular(v)) {
			render_table(v, depth);
		} else if (!json_array_size(v)) {
			printf("%*s(none)\n", depth * 2, "");
		} else {
			json_array_foreach(v, i, x) {
				if (is_scalar(x)) {
					scalar_text(x, text, sizeof(text));
					printf("%*s%s\n", depth * 2, "", text);
				} else {
					printf("%*s[%zu]\n", depth * 2, "", i);
					render(x, depth + 1);
				}
			}
		}
	} else {
		scalar_text(v, text, sizeof(text));
		printf("%*s%s\n", depth * 2, "", text);
	}
}

static void print_version(const json_t *res)
{
	printf("sluicectl %s\n", SLUICECTL_VERSION);
	printf("sluiced %s, layout %lld, instance %s\n", jstr(res, "version", "?"),
	       (long long)jint_or(res, "layout", -1),
	       jstr(res, "instance", "?"));
}

static void print_reply(const struct sl_rq_command *c, const json_t *res)
{
	switch (c->kind) {
	case SL_CMD_STATUS:
		print_status(res);
		break;
	case SL_CMD_ROLLOUT_STATUS:
		print_rollouts(res);
		break;
	case SL_CMD_HISTORY:
		print_history(res);
		break;
	case SL_CMD_VERSION:
		print_version(res);
		break;
	case SL_CMD_STATS:
		render(res, 0);
		break;
	case SL_CMD_RELOAD:
		print_reload(res);
		break;
	case SL_CMD_SHADOW_ADD:
	case SL_CMD_SHADOW_REMOVE:
		print_shadow_change(c, res);
		break;
	case SL_CMD_SHADOW_LIST:
		print_shadow_list(res);
		break;
	case SL_CMD_EVIDENCE_PUSH:
		print_evidence(res);
		break;
	case SL_CMD_GUARD_LIST:
		print_guard_list(res);
		break;
	case SL_CMD_SLICE_LIST:
		print_slice_list(res);
		break;
	case SL_CMD_SLICE_ADD:
	case SL_CMD_SLICE_REMOVE:
		print_slice_change(c, res);
		break;
	default:
		if (json_object_get(res, "changed") || json_object_get(res, "after"))
			print_change(c, res);
		else
			render(res, 0);
		break;
	}
}

/* ---- main ---- */

struct globals {
	const char *socket, *instance;
	bool json;
	uint32_t timeout_ms;
};

/* Takes "--opt VALUE" or "--opt=VALUE"; returns the value or NULL. */
static const char *opt_value(const char *name, int argc, char **argv, int *i, int *rc)
{
	size_t n = strlen(name);
	const char *a = argv[*i];

	if (a[n] == '=')
		return a + n + 1;
	if (*i + 1 == argc) {
		*rc = fail(EXIT_USAGE, "usage", "%s needs a value", name);
		return NULL;
	}
	return argv[++*i];
}

static bool opt_is(const char *a, const char *name)
{
	size_t n = strlen(name);

	return !strncmp(a, name, n) && (a[n] == '\0' || a[n] == '=');
}

static int parse_globals(int argc, char **argv, struct globals *g, int *next)
{
	int i, rc = 0;

	g->timeout_ms = DEFAULT_TIMEOUT_MS;
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		const char *v;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			print_usage(stdout);
			return -1;
		} else if (!strcmp(a, "--json")) {
			g->json = true;
		} else if (opt_is(a, "--socket")) {
			if (!(v = opt_value("--socket", argc, argv, &i, &rc)))
				return rc;
			if (!*v || strlen(v) >= sizeof(((struct sockaddr_un *)0)->sun_path))
				return fail(EXIT_USAGE, "usage", "--socket: '%s' is not a usable "
					    "socket path (expected 1..%zu characters)", v,
					    sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
			g->socket = v;
		} else if (opt_is(a, "--instance")) {
			if (!(v = opt_value("--instance", argc, argv, &i, &rc)))
				return rc;
			if (!sl_name_valid(v))
				return fail(EXIT_USAGE, "usage", "--instance: '%s' is not a valid "
					    "instance name (expected %s)", v, SL_NAME_RULE);
			g->instance = v;
		} else if (opt_is(a, "--timeout")) {
			char *end;
			long t;

			if (!(v = opt_value("--timeout", argc, argv, &i, &rc)))
				return rc;
			errno = 0;
			t = isdigit((unsigned char)v[0]) ? strtol(v, &end, 10) : -1;
			if (t < 1 || t > MAX_TIMEOUT_MS || errno || *end)
				return fail(EXIT_USAGE, "usage", "--timeout: '%s' is not a number "
					    "of milliseconds (expected 1..%d)", v, MAX_TIMEOUT_MS);
			g->timeout_ms = (uint32_t)t;
		} else {
			return fail(EXIT_USAGE, "usage",
				    "unknown option '%s' (see sluicectl --help)", a);
		}
	}
	if (g->socket && g->instance)
		return fail(EXIT_USAGE, "usage", "--socket and --instance exclude each other "
			    "(the socket path names the instance)");
	*next = i;
	return 0;
}

/* The socket from --socket, --instance, $SLUICE_INSTANCE or "default";
 * conn keeps how it was named, for the commands a note prints. */
static int resolve_conn(const struct globals *g, struct ctl_conn *conn)
{
	memset(conn, 0, sizeof(*conn));
	conn->timeout_ms = g->timeout_ms;
	if (g->socket) {
		snprintf(conn->path, sizeof(conn->path), "%s", g->socket);
		conn->socket_opt = g->socket;
		return 0;
	}
	{
		const char *inst = g->instance ? g->instance : getenv("SLUICE_INSTANCE");

		if (!inst || !*inst)
			inst = "default";
		else if (!sl_name_valid(inst))
			return fail(EXIT_USAGE, "usage", "SLUICE_INSTANCE: '%s' is not a valid "
				    "instance name (expected %s)", inst, SL_NAME_RULE);
		snprintf(conn->path, sizeof(conn->path), "/run/sluice/%s.sock", inst);
		conn->instance_opt = g->instance;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct globals g = { 0 };
	const struct sl_rq_command *c = NULL;
	struct ctl_conn conn;
	char *reply = NULL;
	json_t *req = NULL, *rep, *err;
	struct sl_rq_error e;
	int i = 0, used = 0, rc;

	rc = parse_globals(argc, argv, &g, &i);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (i == argc) {
		print_usage(stderr);
		return fail(EXIT_USAGE, "usage", "missing COMMAND");
	}
	/* client-side commands: several requests, or one again and again */
	if (!strcmp(argv[i], "note")) {
		if (g.json)
			return fail(EXIT_USAGE, "usage", "note has no --json form (it is text for "
				    "people; --markdown for a document; status --json for scripts)");
		rc = resolve_conn(&g, &conn);
		return rc ? rc : ctl_note(&conn, argc - i - 1, argv + i + 1);
	}
	/* flows and flow talk to the dataplane (flows.c), not a request */
	if (sl_ctl_observe_is(argv[i])) {
		struct sl_ctl_observe o = { NULL, g.json, g.timeout_ms, exchange, fail };

		rc = resolve_conn(&g, &conn);
		o.socket = conn.path;
		return rc ? rc : sl_ctl_observe_main(argc - i, argv + i, &o);
	}
	if (sl_rq_find(argc - i, argv + i, SL_RQ_CLI, &c, &used, &e))
		return fail(EXIT_USAGE, e.code, "%s", e.message);
	i += used;
	if (c->kind == SL_CMD_STATUS && ctl_watch_wanted(argc - i, argv + i)) {
		rc = resolve_conn(&g, &conn);
		return rc ? rc : ctl_watch(&conn, c, g.json, argc - i, argv + i);
	}
	rc = sl_rq_build(c, argc - i, argv + i, SL_RQ_CLI, &req, &e);
	if (rc > 0) {
		print_usage(stdout);
		return 0;
	}
	if (rc < 0)
		return fail(strcmp(e.code, "internal") ? EXIT_USAGE : EXIT_REFUSED, e.code, "%s",
			    e.message);
	rc = resolve_conn(&g, &conn);
	if (!rc)
		rc = ctl_call(&conn, req, &rep, g.json ? &reply : NULL);
	json_decref(req);
	if (rc)
		return rc;
	if (g.json)
		puts(reply);
	free(reply);
	err = json_object_get(rep, "error");
	if (json_is_false(json_object_get(rep, "ok"))) {
		rc = fail(EXIT_REFUSED, jstr(err, "code", "error"), "%s",
			  jstr(err, "message", "(no message)"));
	} else {
		const json_t *res = json_object_get(rep, "result");

		if (!g.json)
			print_reply(c, res);
		rc = not_acked(res) ? EXIT_NOT_ACKED : 0;
	}
	json_decref(rep);
	fflush(stdout);
	return rc;
}

/* ---- for the client-side commands (ctl.h) ---- */

int ctl_call(const struct ctl_conn *conn, const json_t *req, json_t **rep_out, char **raw)
{
	json_t *full = json_pack("{s:i}", "id", 1), *rep;
	json_error_t jerr;
	char *line, *reply = NULL;
	int rc;

	/* the id first, as the protocol's examples show it */
	if (!full || json_object_update(full, (json_t *)req)) {
		json_decref(full);
		return fail(EXIT_REFUSED, "internal", "out of memory");
	}
	line = json_dumps(full, JSON_COMPACT);
	json_decref(full);
	if (!line)
		return fail(EXIT_REFUSED, "internal", "out of memory");
	{
		size_t n = strlen(line);
		char *l2 = realloc(line, n + 2);

		if (!l2) {
			free(line);
			return fail(EXIT_REFUSED, "internal", "out of memory");
		}
		line = l2;
		line[n] = '\n';
		line[n + 1] = '\0';
	}
	rc = exchange(conn->path, line, conn->timeout_ms, &reply);
	free(line);
	if (rc)
		return rc;
	rep = json_loads(reply, 0, &jerr);
	if (!json_is_object(rep) || !json_is_boolean(json_object_get(rep, "ok"))) {
		fail(EXIT_REFUSED, "internal",
		     "%s: the reply is not a protocol object (%s): %.200s", conn->path,
		     rep ? "no boolean 'ok'" : jerr.text, reply);
		json_decref(rep);
		free(reply);
		return EXIT_REFUSED;
	}
	if (raw)
		*raw = reply;
	else
		free(reply);
	*rep_out = rep;
	return 0;
}

void ctl_usage(FILE *f)
{
	print_usage(f);
}

void ctl_errors_to(char *buf, size_t len)
{
	err_buf = buf;
	err_len = len;
}

int ctl_refused(const json_t *rep)
{
	const json_t *err = json_object_get(rep, "error");

	return fail(EXIT_REFUSED, jstr(err, "code", "error"), "%s",
		    jstr(err, "message", "(no message)"));
}

void ctl_print_status(const json_t *res)
{
	print_status(res);
}

bool ctl_rollout_line(const json_t *ro, const char *to, char *buf, size_t len)
{
	return rollout_line(ro, to, buf, len);
}

void ctl_fmt_share(char *buf, size_t len, json_int_t bp)
{
	fmt_share(buf, len, bp);
}

void ctl_describe_rule(const json_t *r, char *buf, size_t len)
{
	describe_rule(r, buf, len);
}
