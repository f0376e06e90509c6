/* sluiced: the control daemon of one sluice instance.  Owns the pinned
 * maps (tables the dataplane reads), the journal and the control socket;
 * runs in the foreground (systemd), one log line per event on stderr. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "commands.h"
#include "metrics.h"
#include "server.h"

#ifndef SL_VERSION
#define SL_VERSION "unknown"
#endif
#ifndef SL_BPF_OBJECT_BUILD
#define SL_BPF_OBJECT_BUILD ""
#endif
#ifndef SL_BPF_OBJECT_INSTALL
#define SL_BPF_OBJECT_INSTALL "/usr/local/lib/sluice/" SL_MAPS_OBJ_NAME
#endif

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: sluiced -c CONFIG [--instance NAME] [--socket PATH] [--journal PATH]\n"
		"               [--bpffs DIR] [--bpf-object FILE] [--help] [--version]\n"
		"\n"
		"The control daemon of one sluice instance: publishes the decision tables of\n"
		"CONFIG into pinned BPF maps (BPFFS/sluice/INSTANCE/) that sluice-dp --instance\n"
		"reads, journals every change, and answers sluicectl on a Unix socket.\n"
		"\n"
		"  -c, --config CONFIG   the INI file (services, groups, ports, [control])\n"
		"      --instance NAME   instance name (default: [control] instance, else\n"
		"                        \"default\")\n"
		"      --socket PATH     control socket (default: [control] socket, else\n"
		"                        /run/sluice/INSTANCE.sock)\n"
		"      --journal PATH    change journal (default: [control] journal, else\n"
		"                        /var/lib/sluice/INSTANCE.journal)\n"
		"      --bpffs DIR       bpf filesystem (default: [control] bpffs, else %s;\n"
		"                        mounted if it is not)\n"
		"      --bpf-object FILE the maps object (default: [control] bpf_object, else\n"
		"                        the build's %s if it exists, else\n"
		"                        %s)\n"
		"  -h, --help            this text\n"
		"  -V, --version         version and table layout version\n"
		"\n"
		"[control] metrics = ADDRESS:PORT (e.g. 127.0.0.1:9469) also serves Prometheus\n"
		"metrics on http://ADDRESS:PORT/metrics, without authentication.\n"
		"\n"
		"SIGTERM or SIGINT: the socket is closed and removed, the maps stay pinned (the\n"
		"dataplane keeps forwarding with the tables in force), exit 0.\n"
		"Exit status: 0 stopped by a signal, 1 runtime failure (maps, journal, socket),\n"
		"2 bad usage or configuration.\n",
		SL_BPFFS_DEFAULT, SL_MAPS_OBJ_NAME, SL_BPF_OBJECT_INSTALL);
}

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "sluiced: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(sluiced --help shows the usage)\n");
	return EXIT_USAGE;
}

struct opts {
	const char *config, *instance, *socket, *journal, *bpffs, *bpf_object;
};

/* -1 to go on, else an exit status. */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "instance", required_argument, NULL, 'n' },
		{ "socket", required_argument, NULL, 's' },
		{ "journal", required_argument, NULL, 'j' },
		{ "bpffs", required_argument, NULL, 'b' },
		{ "bpf-object", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 'n':
			/* the rule of [control] instance: the name is a path component */
			if (!sl_name_valid(optarg))
				return usage_error("--instance '%s': expected " SL_NAME_RULE, optarg);
			o->instance = optarg;
			break;
		case 's':
			o->socket = optarg;
			break;
		case 'j':
			o->journal = optarg;
			break;
		case 'b':
			o->bpffs = optarg;
			break;
		case 'o':
			o->bpf_object = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("sluiced %s (table layout %u)\n", SL_VERSION, SL_LAYOUT_VERSION);
			return EXIT_OK;
		case ':':
			return usage_error("%s needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (!o->config)
		return usage_error("%sno configuration: -c CONFIG is required", "");
	return -1;
}

/* Fill d's paths: command line, then [control], then the defaults. */
static int settle_paths(struct sl_daemon *d, const struct opts *o)
{
	const struct sl_config *c = d->cfg;
	struct {
		char *dst;
		size_t len;
		const char *opt, *cfg, *what;
	} p[] = {
		{ d->socket_path, sizeof(d->socket_path), o->socket, c->socket_path, "--socket" },
		{ d->journal_path, sizeof(d->journal_path), o->journal, c->journal_path,
		  "--journal" },
		{ d->bpffs, sizeof(d->bpffs), o->bpffs, c->bpffs, "--bpffs" },
		{ d->bpf_object, sizeof(d->bpf_object), o->bpf_object, c->bpf_object,
		  "--bpf-object" },
	};

	snprintf(d->instance, sizeof(d->instance), "%s",
		 o->instance ? o->instance : c->instance[0] ? c->instance : "default");
	for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++) {
		const char *v = p[i].opt ? p[i].opt : p[i].cfg;

		if (p[i].opt && (!*p[i].opt || strlen(p[i].opt) >= p[i].len))
			return usage_error("%s: not a usable path", p[i].what);
		if (v && *v)
			snprintf(p[i].dst, p[i].len, "%s", v);
	}
	if (!d->socket_path[0])
		snprintf(d->socket_path, sizeof(d->socket_path), "/run/sluice/%s.sock",
			 d->instance);
	if (!d->journal_path[0])
		snprintf(d->journal_path, sizeof(d->journal_path), "/var/lib/sluice/%s.journal",
			 d->instance);
	if (!d->bpffs[0])
		snprintf(d->bpffs, sizeof(d->bpffs), "%s", SL_BPFFS_DEFAULT);
	if (!d->bpf_object[0])
		snprintf(d->bpf_object, sizeof(d->bpf_object), "%s",
			 SL_BPF_OBJECT_BUILD[0] && access(SL_BPF_OBJECT_BUILD, R_OK) == 0 ?
			 SL_BPF_OBJECT_BUILD : SL_BPF_OBJECT_INSTALL);
	return -1;
}

static char *on_request(void *ctx, const char *line, size_t len, long uid, long pid)
{
	struct sl_actor who = { uid, pid, NULL };
	char *reply = sl_daemon_request(ctx, line, len, &who);

	return reply == SL_DAEMON_DEFERRED ? SL_REPLY_DEFERRED : reply;
}

/* A change that waited for the dataplane has settled: its reply. */
static void settle_pending(struct sl_daemon *d, struct sl_server *srv)
{
	char *reply;

	if (sl_daemon_poll(d, &reply) == 2)
		sl_server_complete(srv, reply);
}

static int serve(struct sl_daemon *d, struct sl_server *srv, struct sl_metrics *m,
		 const sigset_t *waitmask)
{
	while (!stop_signal) {
		uint64_t now = sl_now_ms(), next, idle, mono, mt;
		/* the metrics endpoint's epoll descriptor (-1 when off: ignored) */
		struct pollfd pfd[2] = { { .fd = sl_server_fd(srv), .events = POLLIN },
					 { .fd = sl_metrics_fd(m), .events = POLLIN } };
		struct timespec ts;
		int rc;

		settle_pending(d, srv);
		sl_daemon_timer(d, now);
		next = sl_daemon_next_ms(d);
		now = sl_now_ms();
		next = next > now ? next - now : 0;
		if (next > 1000)
			next = 1000;
		idle = sl_server_next_ms(srv);
		mono = sl_mono_us() / 1000u;
		if (idle != UINT64_MAX && (idle <= mono ? 0 : idle - mono) < next)
			next = idle <= mono ? 0 : idle - mono;
		if (sl_server_pending(srv))
			next = 0; /* requests read and not yet served: a turn at once */
		mt = sl_metrics_timeout_ms(m);
		if (mt < next)
			next = mt;
		ts.tv_sec = (time_t)(next / 1000);
		ts.tv_nsec = (long)(next % 1000) * 1000000L;
		rc = ppoll(pfd, 2, &ts, waitmask);
		if (rc < 0 && errno != EINTR) {
			sl_log("poll: %s", strerror(errno));
			return EXIT_RUNTIME;
		}
		if (rc >= 0) {
			sl_server_run(srv);
			sl_metrics_run(m);
		}
		settle_pending(d, srv);
	}
	return EXIT_OK;
}

/* The connection limits of [control], within the descriptors this process
 * may open (the soft limit is raised to the hard one). */
static void server_limits(const struct sl_config *c, struct sl_server_limits *lim)
{
	struct rlimit rl;
	rlim_t want;

	memset(lim, 0, sizeof(*lim));
	lim->max_connections = c->max_connections;
	lim->max_per_uid = c->max_connections_per_uid;
	lim->idle_timeout_ms = c->idle_timeout_ms;
	if (c->control_group[0]) {
		lim->has_group = 1;
		lim->gid = c->control_gid;
		snprintf(lim->group, sizeof(lim->group), "%s", c->control_group);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	want = (rlim_t)c->max_connections + 128; /* maps, journal, epoll, listener, ... */
	if (rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want
										  : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < want) {
		lim->max_connections = rl.rlim_cur > 128 + 2 * SL_SERVER_ROOT_RESERVE ?
				       (uint32_t)(rl.rlim_cur - 128) : 2 * SL_SERVER_ROOT_RESERVE;
		sl_log("warning: [control] max_connections %u: only %llu descriptors allowed "
		       "(RLIMIT_NOFILE), holding at most %u connections", c->max_connections,
		       (unsigned long long)rl.rlim_cur, lim->max_connections);
	}
}

int main(int argc, char **argv)
{
	struct sl_daemon *d = calloc(1, sizeof(*d));
	struct sl_server srv = { .fd = -1, .epfd = -1 };
	struct sl_metrics metrics = { .fd = -1 };
	struct sl_server_limits lim;
	struct sigaction sa;
	sigset_t block, waitmask;
	char err[SL_ERR_LEN];
	struct opts o;
	int rc;

	if (!d) {
		fprintf(stderr, "sluiced: out of memory\n");
		return EXIT_RUNTIME;
	}
	rc = parse_opts(argc, argv, &o);
	if (rc >= 0)
		goto out_free;
	d->cfg = calloc(1, sizeof(*d->cfg));
	if (!d->cfg) {
		fprintf(stderr, "sluiced: out of memory\n");
		rc = EXIT_RUNTIME;
		goto out_free;
	}
	if (sl_config_load(o.config, d->cfg, err, sizeof(err))) {
		fprintf(stderr, "sluiced: %s\n", err);
		rc = EXIT_USAGE;
		goto out_free;
	}
	snprintf(d->config_path, sizeof(d->config_path), "%s", o.config);
	rc = settle_paths(d, &o);
	if (rc >= 0)
		goto out_free;

	/* Signals are taken only inside ppoll: no change is cut in half. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGINT);

	sl_log("sluiced %s starting: instance %s, config %s, socket %s, journal %s, bpffs %s",
	       SL_VERSION, d->instance, d->config_path, d->socket_path, d->journal_path,
	       d->bpffs);
	/* Before anything is written: one daemon per instance. */
	rc = sl_server_probe(d->socket_path, err, sizeof(err));
	if (rc != 0) {
		if (rc > 0)
			snprintf(err, sizeof(err), "another sluiced serves %s on %s", d->instance,
				 d->socket_path);
		sl_log("%s", err);
		rc = EXIT_RUNTIME;
		goto out_free;
	}
	/* The metrics port too before anything is written (a port in use is
	 * exit 1 with the maps and journal untouched); nothing is served from
	 * it before the event loop runs. */
	if (d->cfg->metrics[0]) {
		if (sl_metrics_listen(&metrics, d->cfg->metrics, d, err, sizeof(err))) {
			sl_log("%s", err);
			rc = EXIT_RUNTIME;
			goto out_free;
		}
		sl_log("metrics on http://%s/metrics (Prometheus text format, no "
		       "authentication)", d->cfg->metrics);
	}
	if (sl_daemon_start(d, err, sizeof(err))) {
		sl_log("%s", err);
		rc = EXIT_RUNTIME;
		goto out;
	}
	server_limits(d->cfg, &lim);
	if (sl_server_listen(&srv, d->socket_path, d->instance, &lim, on_request, d, err,
			     sizeof(err))) {
		sl_log("%s", err);
		rc = EXIT_RUNTIME;
		goto out;
	}
	/* From now on a change the dataplane is slow to acknowledge is
	 * answered later: the event loop never waits for ack_timeout. */
	d->defer_acks = 1;
	sl_log("listening on %s (generation %u in force; %s; at most %u connections, %u per "
	       "uid but root, closed after %u ms without a request)", d->socket_path, d->st->gen,
	       lim.has_group ? "root and the operator group" : "root only", lim.max_connections,
	       lim.max_per_uid, lim.idle_timeout_ms);
	rc = serve(d, &srv, &metrics, &waitmask);
	if (stop_signal)
		sl_log("stopped by %s: socket closed, maps stay pinned (generation %u)",
		       stop_signal == SIGINT ? "SIGINT" : "SIGTERM", d->st->gen);
out:
	sl_metrics_close(&metrics);
	sl_server_close(&srv);
	sl_daemon_stop(d);
	free(d);
	return rc;
out_free:
	free(d->cfg);
	free(d);
	return rc;
}
