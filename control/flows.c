/* sluicectl flows / flow.
 *
 * Why sluicectl reads the dataplane's telemetry socket itself rather than
 * asking sluiced: the flow tables live in sluice-dp's memory, and only its
 * workers may read them (one writer, no locks); the telemetry thread gets
 * a copy between bursts (dataplane/worker.h, sl_dp_snap), and a request
 * can wait up to SL_TEL_WAIT_MS for it.  A relay through sluiced would
 * need a non-blocking telemetry client inside its event loop to add
 * nothing but a hop: the answer is the dataplane's either way.  sluiced
 * still says which process the dataplane is (status: dataplane.pid, the
 * pid it checks against the start time the dataplane wrote), and the
 * telemetry socket is the one that very process holds open
 * (/proc/PID/fd against /proc/PID/net/unix), whatever its --file-prefix.
 * The socket is root's (DPDK makes its runtime directory 0700): so are
 * these two commands, unlike the rest of sluicectl.
 *
 * The tuple is parsed here with the dataplane's own parser (tuple.c), so
 * a bad one is refused before anything is sent; the decision is computed
 * in sluice-dp with the packet path's code on the tables it uses. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "../dataplane/config.h"
#include "../dataplane/tuple.h"
#include "flows.h"

enum { EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3, EXIT_PARTIAL = 4 };

#define TEL_FLOWS_MAX 100     /* SL_TEL_FLOWS_MAX of dataplane/telemetry.h */
#define TEL_FLOWS_DEFAULT 20
#define TEL_REPLY_MAX (64u << 10)

static const char flows_usage[] =
	"usage: sluicectl [OPTIONS] flows SERVICE [--group GROUP] [--limit N] [--telemetry PATH]\n"
	"       sluicectl [OPTIONS] flow SERVICE PROTO SRC:PORT DST:PORT [--telemetry PATH]\n"
	"(OPTIONS: sluicectl's --socket, --instance, --json, --timeout; see sluicectl --help)\n"
	"flows: the flows of SERVICE in the dataplane's flow tables (at most N, 1..100,\n"
	"default 20; --group: only those on GROUP): client and server, group, member,\n"
	"state, age (since the flow was decided, in seconds), idle time and packets (both\n"
	"directions).\n"
	"flow: where the connection PROTO (tcp|udp) SRC:PORT -> DST:PORT (IPv6 as\n"
	"[addr]:port) goes and why: its sticky entry if a worker holds one (group, member,\n"
	"state, age, idle time, packets), and the decision a new flow would get\n"
	"now (its hash on the share scale, group and member).\n"
	"Both read sluice-dp's DPDK telemetry socket (root only): the one the dataplane\n"
	"attached to the instance holds open (sluiced's status says which process), or\n"
	"--telemetry PATH (e.g. /var/run/dpdk/PREFIX/dpdk_telemetry.v2).\n"
	"Exit status: 0 done, 1 refused (unknown service, connection of another service),\n"
	"2 bad usage or tuple, 3 no dataplane or telemetry socket reachable, 4 some\n"
	"workers did not answer in time (what the others hold is printed).\n";

/* sluicectl's, set by sl_ctl_observe_main (the one output format) */
static sl_ctl_fail_fn fail;

bool sl_ctl_observe_is(const char *word)
{
	return !strcmp(word, "flows") || !strcmp(word, "flow");
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- which socket ---- */

/* The dataplane's pid from sluiced's status; 0 with the exit status in
 * *rc when there is none. */
static long dp_pid(const struct sl_ctl_observe *o, int *rc)
{
	char line[] = "{\"id\":1,\"cmd\":\"status\"}\n", *reply = NULL;
	json_t *rep, *dp;
	long pid = 0;

	*rc = o->exchange(o->socket, line, o->timeout_ms, &reply);
	if (*rc)
		return 0;
	rep = json_loads(reply, 0, NULL);
	free(reply);
	dp = json_object_get(json_object_get(rep, "result"), "dataplane");
	if (!json_is_true(json_object_get(rep, "ok")) || !json_is_object(dp)) {
		*rc = fail(EXIT_REFUSED, "internal", "%s: status gave no dataplane object",
			   o->socket);
	} else if (!json_is_true(json_object_get(dp, "attached")) ||
		   !json_is_integer(json_object_get(dp, "pid"))) {
		*rc = fail(EXIT_UNREACHABLE, "no_dataplane", "no dataplane is attached to the "
			   "instance of %s (its flows live in sluice-dp; --telemetry PATH names a "
			   "dataplane's telemetry socket directly)", o->socket);
	} else {
		pid = (long)json_integer_value(json_object_get(dp, "pid"));
	}
	json_decref(rep);
	return pid;
}

/* The DPDK telemetry socket process pid holds open: the unix sockets of
 * its descriptors, looked up by inode in its network namespace's table. */
static int dp_socket(long pid, char *path, size_t len)
{
	char dir[64], link[PATH_MAX], lnk[384], row[512];
	unsigned long inodes[1024];
	unsigned n = 0;
	struct dirent *de;
	FILE *f;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%ld/fd", pid);
	d = opendir(dir);
	if (!d)
		return fail(EXIT_UNREACHABLE, "unreachable", "cannot read %s: %s (the dataplane "
			    "runs as root: so must sluicectl flows)", dir, strerror(errno));
	while ((de = readdir(d)) && n < sizeof(inodes) / sizeof(inodes[0])) {
		ssize_t r;

		snprintf(lnk, sizeof(lnk), "%s/%s", dir, de->d_name);
		r = readlink(lnk, link, sizeof(link) - 1);
		if (r <= 0)
			continue;
		link[r] = '\0';
		if (sscanf(link, "socket:[%lu]", &inodes[n]) == 1)
			n++;
	}
	closedir(d);
	snprintf(dir, sizeof(dir), "/proc/%ld/net/unix", pid);
	f = fopen(dir, "r");
	if (!f)
		return fail(EXIT_UNREACHABLE, "unreachable", "cannot read %s: %s", dir,
			    strerror(errno));
	while (fgets(row, sizeof(row), f)) {
		char p[PATH_MAX];
		unsigned long ino;
		const char *base;

		if (sscanf(row, "%*s %*s %*s %*s %*s %*s %lu %4095s", &ino, p) != 2)
			continue;
		base = strrchr(p, '/');
		if (!base || strncmp(base + 1, "dpdk_telemetry.v2", 17) != 0)
			continue;
		for (unsigned i = 0; i < n; i++) {
			if (inodes[i] != ino)
				continue;
			fclose(f);
			if (strlen(p) >= len)
				return fail(EXIT_UNREACHABLE, "unreachable", "%s: path too long", p);
			snprintf(path, len, "%s", p);
			return 0;
		}
	}
	fclose(f);
	return fail(EXIT_UNREACHABLE, "unreachable", "the dataplane (pid %ld) has no DPDK "
		    "telemetry socket open (started with --no-telemetry?)", pid);
}

/* ---- the telemetry exchange ---- */

static int recv_msg(int fd, char *buf, size_t len, uint64_t deadline, const char *path,
		    uint32_t timeout_ms)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = (int64_t)(deadline - mono_ms());
		ssize_t r;

		if (left <= 0 || poll(&p, 1, (int)left) == 0)
			return fail(EXIT_UNREACHABLE, "unreachable", "%s: no reply within %" PRIu32
				    " ms (--timeout)", path, timeout_ms);
		r = recv(fd, buf, len - 1, 0);
		if (r > 0) {
			buf[r] = '\0';
			return 0;
		}
		if (r == 0)
			return fail(EXIT_UNREACHABLE, "unreachable", "%s: the dataplane closed the "
				    "connection", path);
		if (errno != EINTR && errno != EAGAIN)
			return fail(EXIT_UNREACHABLE, "unreachable", "cannot read from %s: %s",
				    path, strerror(errno));
	}
}

/* One command on the telemetry socket; *out: the value under the
 * command's name in the reply.  pid > 0: the greeting must come from it. */
static int tel_call(const char *path, long pid, const char *cmd, uint32_t timeout_ms,
		    json_t **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t deadline = mono_ms() + timeout_ms;
	char *buf = malloc(TEL_REPLY_MAX);
	json_t *j;
	int fd, rc;

	if (!buf)
		return fail(EXIT_REFUSED, "internal", "out of memory");
	if (strlen(path) >= sizeof(sa.sun_path)) {
		free(buf);
		return fail(EXIT_USAGE, "usage", "--telemetry: '%s' is too long for a socket path",
			    path);
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		free(buf);
		return fail(EXIT_UNREACHABLE, "unreachable", "cannot connect to the dataplane's "
			    "telemetry socket %s: %s", path, strerror(e));
	}
	/* the greeting: {"version": ..., "pid": ..., "max_output_len": ...} */
	rc = recv_msg(fd, buf, TEL_REPLY_MAX, deadline, path, timeout_ms);
	if (!rc) {
		j = json_loads(buf, 0, NULL);
		if (pid > 0 && json_integer_value(json_object_get(j, "pid")) != pid)
			rc = fail(EXIT_UNREACHABLE, "unreachable", "%s belongs to pid %lld, not to "
				  "the dataplane (pid %ld)", path,
				  (long long)json_integer_value(json_object_get(j, "pid")), pid);
		json_decref(j);
	}
	if (!rc && send(fd, cmd, strlen(cmd), MSG_NOSIGNAL) < 0)
		rc = fail(EXIT_UNREACHABLE, "unreachable", "cannot send to %s: %s", path,
			  strerror(errno));
	if (!rc)
		rc = recv_msg(fd, buf, TEL_REPLY_MAX, deadline, path, timeout_ms);
	close(fd);
	if (rc) {
		free(buf);
		return rc;
	}
	{
		char name[128];
		const char *comma = strchr(cmd, ',');

		snprintf(name, sizeof(name), "%.*s", comma ? (int)(comma - cmd) : (int)strlen(cmd),
			 cmd);
		j = json_loads(buf, 0, NULL);
		*out = json_incref(json_object_get(j, name));
		json_decref(j);
	}
	if (!json_is_object(*out)) {
		rc = fail(EXIT_REFUSED, "dataplane", "%s: the dataplane does not answer %.60s "
			  "(a sluice-dp without /sluice commands?): %.200s", path, cmd, buf);
		json_decref(*out);
		*out = NULL;
	}
	free(buf);
	return rc;
}

/* ---- printing ---- */

static const char *js(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "?";
}

static long long ji(const json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static void idle_text(long long ms, char *buf, size_t len)
{
	if (ms < 10000)
		snprintf(buf, len, "%.1f s", (double)ms / 1000.0);
	else
		snprintf(buf, len, "%lld s", ms / 1000);
}

/* Age in whole seconds: h m s past a minute. */
static void age_text(long long s, char *buf, size_t len)
{
	if (s < 60)
		snprintf(buf, len, "%lld s", s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm%02llds", s / 60, s % 60);
	else
		snprintf(buf, len, "%lldh%02lldm", s / 3600, s / 60 % 60);
}

static void member_text(long long m, const char *mac, char *buf, size_t len)
{
	if (m < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%lld (%s)", m, mac);
}

/* Workers that did not answer: on stderr, and exit status 4. */
static int partial(const json_t *r)
{
	const json_t *na = json_object_get(r, "no_answer");
	char list[256] = "";
	size_t off = 0, i;
	json_t *v;

	if (!json_array_size(na))
		return 0;
	json_array_foreach(na, i, v)
		off += (size_t)snprintf(list + off, off < sizeof(list) ? sizeof(list) - off : 0,
					"%s%lld", i ? ", " : "", (long long)json_integer_value(v));
	fprintf(stderr, "sluicectl: not_answered: worker%s %s of the dataplane did not answer "
		"within 500 ms: %s\n", json_array_size(na) == 1 ? "" : "s", list,
		"their flows are missing from this answer");
	return EXIT_PARTIAL;
}

static const char *jas(const json_t *a, size_t i)
{
	const char *s = json_string_value(json_array_get(a, i));

	return s ? s : "?";
}

static void print_flows(const json_t *r)
{
	const char *const cols[] = { "src", "dst", "group", "member", "mac", "state", "idle_ms",
				     "age_s", "packets" };
	const json_t *c[9];
	size_t n = json_array_size(json_object_get(r, "src"));
	int w_src = 6, w_dst = 6, w_grp = 5, w_mem = 6;
	long long shown = ji(r, "shown");

	for (int k = 0; k < 9; k++)
		c[k] = json_object_get(r, cols[k]);
	printf("%s (%s), generation %lld: %lld flow%s shown of %lld active%s%s\n", js(r, "service"),
	       js(r, "proto"), ji(r, "generation"), shown, shown == 1 ? "" : "s", ji(r, "active"),
	       json_object_get(r, "group_filter") ? " on group " : "",
	       json_object_get(r, "group_filter") ? js(r, "group_filter") : "");
	for (size_t i = 0; i < n; i++) {
		char mem[48];
		int l;

		if ((l = (int)strlen(jas(c[0], i))) > w_src)
			w_src = l;
		if ((l = (int)strlen(jas(c[1], i))) > w_dst)
			w_dst = l;
		if ((l = (int)strlen(jas(c[2], i))) > w_grp)
			w_grp = l;
		member_text(json_integer_value(json_array_get(c[3], i)),
			    jas(c[4], i), mem, sizeof(mem));
		if ((l = (int)strlen(mem)) > w_mem)
			w_mem = l;
	}
	if (n)
		printf("  %-*s  %-*s  %-*s  %-*s  %-11s  %8s  %7s  %10s\n", w_src, "client", w_dst,
		       "server", w_grp, "group", w_mem, "member", "state", "age", "idle",
		       "packets");
	for (size_t i = 0; i < n; i++) {
		char mem[48], idle[32], age[32];

		member_text(json_integer_value(json_array_get(c[3], i)),
			    jas(c[4], i), mem, sizeof(mem));
		idle_text(json_integer_value(json_array_get(c[6], i)), idle, sizeof(idle));
		age_text(json_integer_value(json_array_get(c[7], i)), age, sizeof(age));
		printf("  %-*s  %-*s  %-*s  %-*s  %-11s  %8s  %7s  %10lld\n", w_src,
		       jas(c[0], i), w_dst,
		       jas(c[1], i), w_grp,
		       jas(c[2], i), w_mem, mem,
		       jas(c[5], i), age, idle,
		       (long long)json_integer_value(json_array_get(c[8], i)));
	}
	if (json_is_true(json_object_get(r, "more")) || ji(r, "more"))
		printf("  (more flows than shown: --limit N, up to %d)\n", TEL_FLOWS_MAX);
}

static void share_text(long long bp, char *buf, size_t len)
{
	snprintf(buf, len, "%lld.%02lld %%", bp / 100, bp % 100);
}

static void print_flow(const json_t *r, const char *proto, const char *src, const char *dst)
{
	char share[48], mem[48];
	long long u = ji(r, "u"), bp = ji(r, "share_bp");

	printf("%s %s -> %s: service %s, generation %lld\n", proto, src, dst, js(r, "service"),
	       ji(r, "generation"));
	if (ji(r, "sticky")) {
		char idle[32], age[32];

		idle_text(ji(r, "idle_ms"), idle, sizeof(idle));
		age_text(ji(r, "age_s"), age, sizeof(age));
		member_text(ji(r, "member"), js(r, "mac"), mem, sizeof(mem));
		printf("  sticky entry (worker %lld): group %s, member %s, %s, age %s, idle %s, "
		       "%lld packets\n", ji(r, "worker"), js(r, "group"), mem, js(r, "state"), age,
		       idle, ji(r, "packets"));
		if (ji(r, "redecide"))
			printf("  its next packet is decided again (a --reset at generation %lld, or "
			       "its group is gone): as a new flow below\n", ji(r, "reset_gen"));
		else
			printf("  its next packets keep group %s and this member (sticky)\n",
			       js(r, "group"));
	} else {
		printf("  no sticky entry: no worker tracks this connection; its next packet "
		       "starts a flow, decided as below\n");
	}
	share_text(bp, share, sizeof(share));
	member_text(ji(r, "new_member"), js(r, "new_mac"), mem, sizeof(mem));
	printf("  a new flow now: hash %lld of 10000 %s %s (challenger %s's share, %lld bp): "
	       "group %s (%s), member %s\n", u, u < bp ? "<" : ">=", share, js(r, "challenger"),
	       bp, js(r, "new_group"), u < bp ? "challenger" : "champion", mem);
}

/* ---- commands ---- */

struct args {
	const char *service, *group, *telemetry;
	const char *tuple[3];
	unsigned long limit;
	int npos;
};

static int parse_args(int argc, char **argv, bool flow, struct args *a)
{
	memset(a, 0, sizeof(*a));
	a->limit = TEL_FLOWS_DEFAULT;
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		bool has_eq;
		const char *val = NULL;
		const char *name = NULL;

		if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
			fputs(flows_usage, stdout);
			return -1;
		}
		if (s[0] == '-' && s[1] == '-') {
			const char *eq = strchr(s, '=');
			static const char *const known[] = { "--group", "--limit", "--telemetry" };
			size_t nl = eq ? (size_t)(eq - s) : strlen(s);

			static const char *const global[] = { "--json", "--socket", "--instance",
							      "--timeout" };

			for (unsigned k = 0; k < 3; k++)
				if (strlen(known[k]) == nl && !strncmp(s, known[k], nl))
					name = known[k];
			for (unsigned k = 0; k < 4; k++)
				if (strlen(global[k]) == nl && !strncmp(s, global[k], nl))
					return fail(EXIT_USAGE, "usage", "option '%s' must come before "
						    "the command (sluicectl %s %s ...)", global[k],
						    global[k], argv[0]);
			if (!name || (flow && strcmp(name, "--telemetry")))
				return fail(EXIT_USAGE, "usage", "%s: unknown option '%s' (see "
					    "sluicectl %s --help)", argv[0], s, argv[0]);
			has_eq = eq != NULL;
			if (has_eq)
				val = eq + 1;
			else if (i + 1 < argc)
				val = argv[++i];
			else
				return fail(EXIT_USAGE, "usage", "%s needs a value", name);
			if (!strcmp(name, "--group")) {
				if (!sl_name_valid(val))
					return fail(EXIT_USAGE, "usage", "--group: '%s' is not a valid "
						    "group name (expected %s)", val, SL_NAME_RULE);
				a->group = val;
			} else if (!strcmp(name, "--limit")) {
				char *end;

				errno = 0;
				a->limit = isdigit((unsigned char)val[0]) ? strtoul(val, &end, 10) : 0;
				if (!a->limit || errno || *end || a->limit > TEL_FLOWS_MAX)
					return fail(EXIT_USAGE, "usage", "--limit: '%s' is not a number "
						    "of flows (expected 1..%d)", val, TEL_FLOWS_MAX);
			} else {
				if (!val[0])
					return fail(EXIT_USAGE, "usage", "--telemetry: expected a "
						    "socket path");
				a->telemetry = val;
			}
			continue;
		}
		if (a->npos == 0) {
			if (!sl_name_valid(s))
				return fail(EXIT_USAGE, "usage", "SERVICE: '%s' is not a valid service "
					    "name (expected %s)", s, SL_NAME_RULE);
			a->service = s;
		} else if (flow && a->npos <= 3) {
			a->tuple[a->npos - 1] = s;
		} else {
			return fail(EXIT_USAGE, "usage", "%s: unexpected argument '%s' (see "
				    "sluicectl %s --help)", argv[0], s, argv[0]);
		}
		a->npos++;
	}
	if (a->npos == 0)
		return fail(EXIT_USAGE, "usage", "%s: missing SERVICE (see sluicectl %s --help)",
			    argv[0], argv[0]);
	if (flow && a->npos < 4)
		return fail(EXIT_USAGE, "usage", "flow: missing %s (expected flow SERVICE PROTO "
			    "SRC:PORT DST:PORT, e.g. tcp 10.0.0.1:1234 192.0.2.10:443)",
			    a->npos == 1 ? "PROTO" : a->npos == 2 ? "SRC:PORT" : "DST:PORT");
	return 0;
}

/* An error the dataplane put in its reply. */
static int dp_refused(const json_t *r)
{
	const char *msg = json_string_value(json_object_get(r, "error"));

	if (!msg)
		return 0;
	return fail(EXIT_REFUSED, strncmp(msg, "unknown service", 15) == 0 ? "unknown_service" :
		    strncmp(msg, "unknown group", 13) == 0 ? "unknown_group" :
		    strncmp(msg, "dst ", 4) == 0 ? "no_service" : "dataplane", "%s", msg);
}

int sl_ctl_observe_main(int argc, char **argv, const struct sl_ctl_observe *o)
{
	bool flow = !strcmp(argv[0], "flow");
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)], cmd[512], err[256];
	struct sl_tuple t;
	struct args a;
	json_t *r = NULL;
	long pid = 0;
	int rc;

	fail = o->fail;
	rc = parse_args(argc, argv, flow, &a);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (flow && sl_tuple_parse(a.tuple[0], a.tuple[1], a.tuple[2], &t, err, sizeof(err)))
		return fail(EXIT_USAGE, "bad_tuple", "flow: %s", err);
	if (a.telemetry) {
		snprintf(path, sizeof(path), "%s", a.telemetry);
	} else {
		pid = dp_pid(o, &rc);
		if (rc)
			return rc;
		if ((rc = dp_socket(pid, path, sizeof(path))))
			return rc;
	}
	if (flow)
		snprintf(cmd, sizeof(cmd), "/sluice/flow,%s,%s,%s", a.tuple[0], a.tuple[1],
			 a.tuple[2]);
	else
		snprintf(cmd, sizeof(cmd), "/sluice/flows,%s,%lu%s%s", a.service, a.limit,
			 a.group ? "," : "", a.group ? a.group : "");
	rc = tel_call(path, pid, cmd, o->timeout_ms, &r);
	if (rc)
		return rc;
	if ((rc = dp_refused(r))) {
		json_decref(r);
		return rc;
	}
	if (flow && strcmp(js(r, "service"), a.service)) {
		json_t *sv = NULL, *v;
		bool known = false;
		size_t i;

		if (tel_call(path, pid, "/sluice/services", o->timeout_ms, &sv) == 0)
			json_array_foreach(json_object_get(sv, "service"), i, v)
				known |= !strcmp(json_string_value(v) ? json_string_value(v) : "",
						 a.service);
		json_decref(sv);
		if (!known) {
			json_decref(r);
			return fail(EXIT_REFUSED, "unknown_service", "unknown service '%s'",
				    a.service);
		}
		rc = fail(EXIT_REFUSED, "other_service", "flow: %s %s -> %s is a connection of "
			  "service %s, not of %s", a.tuple[0], a.tuple[1], a.tuple[2],
			  js(r, "service"), a.service);
		json_decref(r);
		return rc;
	}
	if (o->json) {
		char *s = json_dumps(r, JSON_COMPACT);

		if (s)
			puts(s);
		free(s);
	} else if (flow) {
		print_flow(r, a.tuple[0], a.tuple[1], a.tuple[2]);
	} else {
		print_flows(r);
	}
	fflush(stdout);
	rc = partial(r);
	json_decref(r);
	return rc;
}
