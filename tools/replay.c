/* sluice-replay: offline validation of a plan on a capture (DESIGN §7).
 *
 * Runs the dataplane's own code over a pcap file: frames go into mbufs in
 * bursts of 32 and through sl_dp_forward exactly as in sluice-dp; every
 * port's TX hook writes OUTDIR/<port>.pcap with the frames' input
 * timestamps.  The tables come from the daemon's own command code running
 * in this process (struct sl_daemon on tables in memory, its clock the
 * packet time), so a schedule of sluicectl commands is applied as sluiced
 * would apply it, and journaled likewise.  The clock the core sees and the
 * rollout timers run on packet time: the same input, configuration and
 * schedule give the same packets on the same ports in the same order. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mempool.h>

#include "commands.h"
#include "config.h"
#include "decide.h"
#include "filter.h"
#include "hash.h"
#include "maps.h"
#include "parse.h"
#include "ports.h"
#include "replay_io.h"
#include "replay_plot.h"
#include "replay_report.h"
#include "schedule.h"
#include "tables.h"
#include "worker.h"

#ifndef SL_VERSION
#define SL_VERSION "unknown"
#endif

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_INPUT = 2, EXIT_REFUSED = 3, EXIT_SIGNAL = 130 };

#define POOL_MBUFS 8191u
#define POOL_CACHE 256u
#define PROGRESS_MASK 0xffffu /* packets between looks at the wall clock */

struct opts {
	const char *config, *input, *outdir, *schedule;
	const char *plot;              /* --plot FILE.svg|FILE.png */
	uint32_t interval_ms;          /* --interval: the per-interval figures */
	int json, quiet, keep_going, verbose;
	int neal;
	char **eal;
};

/* Per packet of the burst being assembled: what the group-change check
 * needs (client packets of a service whose flow was tracked before). */
struct pinfo {
	uint8_t tracked;   /* the flow had a live entry before this burst */
	uint8_t group;     /* its group then */
	uint8_t state;     /* its TCP state then */
	int16_t svc;
	uint64_t dig;
	struct sl_key key;
};

struct replay {
	struct opts o;
	struct sl_config *cfg;         /* the replay's copy (the daemon owns its own) */
	struct sl_schedule sched;
	struct rp_in in;
	struct rp_out out[SL_MAX_PORTS];
	struct sl_daemon *d;
	struct sl_table_src src;
	struct sl_dp_worker *w;
	struct sl_dp_run run;
	struct sl_dp_shadow shadow;
	int shadow_ok;
	struct rte_mempool *pool;
	struct rp_report rep;
	struct rp_plot plot;
	uint64_t plot_next_ns;         /* end of the open interval (relative) */
	char actor[600];
	char journal[768];
	long journal_off;              /* journal bytes already read back */

	/* the burst being assembled */
	unsigned bport;
	uint16_t bn;
	struct rte_mbuf *burst[SL_BURST];
	struct pinfo info[SL_BURST];
	struct rte_mbuf *stash[SL_BURST]; /* mbufs allocated ahead */
	unsigned nstash;

	uint64_t clock_ns;             /* packet clock, never goes back (start: rep.first_ns) */
	uint64_t now_us;               /* us after the first packet: the core's clock */
	uint32_t now32;                /* the same in ms: the flow table's clock */
	uint64_t burst_us;             /* now_us of the burst's last packet: the
	                                  burst arrives with it (latencies of the
	                                  evidence are taken from it) */
	uint64_t pkt_no;               /* the packet being handled (1-based) */
	uint64_t svc_ports[1024];      /* bit per port number some service uses */
	int any_reset;                 /* some service of the table has a reset_gen */
	unsigned next_action;
	int own_runtime_dir;           /* the EAL's runtime directory is ours alone */
};

static int ts_off = -1;
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static inline uint64_t *mbuf_ts(struct rte_mbuf *m)
{
	return RTE_MBUF_DYNFIELD(m, ts_off, uint64_t *);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: sluice-replay -c CONFIG -r IN.pcap -o OUTDIR [--schedule FILE] [--json]\n"
		"                     [--quiet] [--keep-going] [--verbose] [-- EAL-ARGS...]\n"
		"Run the dataplane's code over a capture, applying a schedule of control actions\n"
		"at packet times, and report what each group received.\n"
		"\n"
		"  -c, --config CONFIG  INI configuration (its ports, groups, services, shadow\n"
		"                       rules; the devargs of its ports are not used)\n"
		"  -r, --read IN.pcap   the capture (pcap, Ethernet) taken on the client side,\n"
		"                       both directions\n"
		"  -o, --out OUTDIR     where OUTDIR/<port>.pcap (one per port, input\n"
		"                       timestamps), OUTDIR/report.json and\n"
		"                       OUTDIR/journal.jsonl go (created)\n"
		"  -s, --schedule FILE  'at TIME COMMAND ...' lines: sluicectl commands applied\n"
		"                       before the first packet at or after TIME (from the first\n"
		"                       packet: 500ms, 2.0s, 10s, 1m)\n"
		"      --json           print report.json on stdout instead of the summary\n"
		"      --interval TIME  the report's per-interval figures (\"intervals\": the\n"
		"                       configured and the measured share of each service) are\n"
		"                       taken every TIME of packet time (default 1s; 10ms..1h)\n"
		"      --plot FILE      draw FILE.svg or FILE.png with gnuplot (Debian's\n"
		"                       gnuplot-nox): per service, the configured and the\n"
		"                       measured share per interval, with the actions (schedule,\n"
		"                       rollout steps, guards) and the guards' verdicts marked\n"
		"  -q, --quiet          print nothing but errors\n"
		"      --keep-going     go on after an action the daemon refuses (it is reported)\n"
		"  -v, --verbose        print the daemon's log lines (as sluiced would)\n"
		"  -h, --help           this text\n"
		"  -V, --version        the version\n"
		"  -- EAL-ARGS...       DPDK EAL arguments instead of the defaults (one lcore,\n"
		"                       --no-huge -m 256 --no-pci --no-shconf, quiet logs)\n"
		"\n"
		"A packet whose source is a service's VIP and port is return traffic: it enters\n"
		"on the port of the group its flow is on (the champion's when the flow is not\n"
		"tracked); every other packet enters on the client port.\n"
		"Exit status: 0 replayed, 1 runtime failure (EAL, memory, writing OUTDIR, gnuplot\n"
		"missing or failing: the report is written, the plot not),\n"
		"2 bad usage, configuration, schedule, capture or OUTDIR (no report.json),\n"
		"3 the daemon refused a scheduled action (no report.json; see --keep-going),\n"
		"130 stopped by SIGINT or SIGTERM (no report.json).\n");
}

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "sluice-replay: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'sluice-replay --help'.\n");
	return EXIT_INPUT;
}

/* -1 to go on, else an exit status. */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "read", required_argument, NULL, 'r' },
		{ "out", required_argument, NULL, 'o' },
		{ "schedule", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "keep-going", no_argument, NULL, 'k' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "plot", required_argument, NULL, 'P' },
		{ "interval", required_argument, NULL, 'I' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->interval_ms = 1000;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:c:r:o:s:qvhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 'r':
			o->input = optarg;
			break;
		case 'o':
			o->outdir = optarg;
			break;
		case 's':
			o->schedule = optarg;
			break;
		case 'j':
			o->json = 1;
			break;
		case 'q':
			o->quiet = 1;
			break;
		case 'k':
			o->keep_going = 1;
			break;
		case 'v':
			o->verbose = 1;
			break;
		case 'P': {
			const char *why = rp_plot_ext_error(optarg);

			if (why) {
				fprintf(stderr, "sluice-replay: --plot: '%s': %s\n", optarg, why);
				fprintf(stderr, "Try 'sluice-replay --help'.\n");
				return EXIT_INPUT;
			}
			o->plot = optarg;
			break;
		}
		case 'I': {
			char err[SL_ERR_LEN];

			if (sl_duration_parse(optarg, &o->interval_ms, err, sizeof(err)) ||
			    o->interval_ms < 10 || o->interval_ms > 3600000u) {
				fprintf(stderr, "sluice-replay: --interval: '%s': expected 10ms..1h "
					"of packet time (e.g. 500ms, 1s, 1m)\n", optarg);
				fprintf(stderr, "Try 'sluice-replay --help'.\n");
				return EXIT_INPUT;
			}
			break;
		}
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("sluice-replay %s\n", SL_VERSION);
			return EXIT_OK;
		case ':':
			return usage_error("option '%s' needs an argument", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc && strcmp(argv[optind - 1], "--") != 0)
		return usage_error("unexpected argument '%s' (EAL arguments go after '--')",
				   argv[optind]);
	if (!o->config)
		return usage_error("%s", "missing -c CONFIG");
	if (!o->input)
		return usage_error("%s", "missing -r IN.pcap");
	if (!o->outdir)
		return usage_error("%s", "missing -o OUTDIR");
	if (!o->outdir[0])
		return usage_error("%s", "-o '': expected a directory");
	o->neal = argc - optind;
	o->eal = argv + optind;
	return -1;
}

/* ---- OUTDIR ---- */

static int mkdirs(const char *dir, char *err, size_t errlen)
{
	char buf[512];
	size_t n = strlen(dir);

	if (n >= sizeof(buf)) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -1;
	}
	memcpy(buf, dir, n + 1);
	for (char *p = buf + 1;; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
			snprintf(err, errlen, "OUTDIR %s: cannot create %s: %s", dir, buf,
				 strerror(errno));
			return -1;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	return 0;
}

/* OUTDIR exists and takes files; the report and journal of an earlier run
 * are removed first, so that a failed run never leaves one behind. */
static int outdir_prepare(struct replay *r, char *err, size_t errlen)
{
	static const char *const stale[] = { "report.json", "report.json.tmp", "journal.jsonl" };
	const char *dir = r->o.outdir;
	struct stat st;
	char path[768];

	if (mkdirs(dir, err, errlen))
		return -1;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "OUTDIR %s: not a directory", dir);
		return -1;
	}
	if (access(dir, W_OK | X_OK) != 0) {
		snprintf(err, errlen, "OUTDIR %s: not writable: %s", dir, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < sizeof(stale) / sizeof(stale[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, stale[i]);
		if (unlink(path) != 0 && errno != ENOENT) {
			snprintf(err, errlen, "OUTDIR %s: cannot remove the earlier %s: %s", dir,
				 stale[i], strerror(errno));
			return -1;
		}
	}
	for (unsigned p = 0; p < r->cfg->nports; p++) {
		snprintf(path, sizeof(path), "%s/%s.pcap", dir, r->cfg->ports[p].name);
		if (rp_out_open(&r->out[p], path, r->in.nano, r->in.snaplen, err, errlen))
			return -1;
	}
	snprintf(r->journal, sizeof(r->journal), "%s/journal.jsonl", dir);
	return 0;
}

/* ---- EAL, mbufs ---- */

static int eal_start(struct replay *r, const char *prog)
{
	char lcore[16], prefix[64], *argv[64];
	int argc = 0, rc;
	cpu_set_t set;

	argv[argc++] = (char *)prog;
	if (r->o.neal) {
		for (int i = 0; i < r->o.neal && argc < 63; i++)
			argv[argc++] = r->o.eal[i];
	} else {
		int cpu = 0;

		/* the first CPU this process may run on: one lcore */
		if (sched_getaffinity(0, sizeof(set), &set) == 0)
			for (cpu = 0; cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &set); cpu++)
				;
		snprintf(lcore, sizeof(lcore), "%d", cpu < CPU_SETSIZE ? cpu : 0);
		snprintf(prefix, sizeof(prefix), "--file-prefix=sluice-replay-%ld", (long)getpid());
		argv[argc++] = "-l";
		argv[argc++] = lcore;
		argv[argc++] = "--no-huge";
		argv[argc++] = "-m";
		argv[argc++] = "256";
		r->own_runtime_dir = 1;
		argv[argc++] = "--no-pci";
		/* --in-memory needs hugepages (--no-huge is legacy memory): no
		 * shared files instead, and a prefix of this process's own */
		argv[argc++] = "--no-shconf";
		argv[argc++] = prefix;
		argv[argc++] = "--no-telemetry";
		argv[argc++] = "--log-level=*:error";
	}
	argv[argc] = NULL;
	rc = rte_eal_init(argc, argv);
	if (rc < 0) {
		fprintf(stderr, "sluice-replay: EAL initialisation failed: %s\n",
			rte_errno ? rte_strerror(rte_errno) : "no reason given");
		return -1;
	}
	if (rc + 1 < argc) {
		fprintf(stderr, "sluice-replay: EAL argument '%s' is not an option\n",
			argv[rc + 1]);
		rte_eal_cleanup();
		return -1;
	}
	return 0;
}

static int mbufs_create(struct replay *r)
{
	static const struct rte_mbuf_dynfield ts_desc = {
		.name = "sluice_replay_ts",
		.size = sizeof(uint64_t),
		.align = __alignof__(uint64_t),
	};
	char err[256];
	/* sluice-dp's data room: a frame must take the same segments here */
	uint32_t room = sl_ports_data_room(r->cfg, err, sizeof(err));

	if (!room) {
		fprintf(stderr, "sluice-replay: %s\n", err);
		return -1;
	}
	ts_off = rte_mbuf_dynfield_register(&ts_desc);
	if (ts_off < 0) {
		fprintf(stderr, "sluice-replay: cannot register the mbuf timestamp field: %s\n",
			rte_strerror(rte_errno));
		return -1;
	}
	r->pool = rte_pktmbuf_pool_create("sl_replay", POOL_MBUFS, POOL_CACHE, 0,
					  (uint16_t)room, (int)rte_socket_id());
	if (!r->pool) {
		fprintf(stderr, "sluice-replay: cannot create a pool of %u mbufs of %u bytes: %s "
			"(more memory: -- -m MB ...)\n", POOL_MBUFS, room, rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

/* The frame in an mbuf (a chain when it is longer than one), stamped with
 * its input time.  NULL when the pool is empty. */
static struct rte_mbuf *frame_mbuf(struct replay *r, const uint8_t *d, uint32_t len,
				   uint64_t ts)
{
	struct rte_mbuf *m, *seg, *last;
	uint32_t room, take;

	if (r->nstash == 0) {
		if (rte_pktmbuf_alloc_bulk(r->pool, r->stash, SL_BURST) != 0)
			return NULL;
		r->nstash = SL_BURST;
	}
	m = r->stash[--r->nstash];
	*mbuf_ts(m) = ts;
	room = rte_pktmbuf_tailroom(m);
	take = len < room ? len : room;
	memcpy(rte_pktmbuf_mtod(m, uint8_t *), d, take);
	m->data_len = (uint16_t)take;
	m->pkt_len = len;
	for (last = m, d += take, len -= take; len; d += take, len -= take) {
		seg = rte_pktmbuf_alloc(r->pool);
		if (!seg) {
			rte_pktmbuf_free(m);
			return NULL;
		}
		room = rte_pktmbuf_tailroom(seg);
		take = len < room ? len : room;
		memcpy(rte_pktmbuf_mtod(seg, uint8_t *), d, take);
		seg->data_len = (uint16_t)take;
		last->next = seg;
		last = seg;
		m->nb_segs++;
	}
	return m;
}

/* The TX hook: every frame goes to its port's capture, with its input
 * timestamp; the port always takes all. */
static uint16_t replay_tx(void *ctx, unsigned p, struct rte_mbuf **m, uint16_t n)
{
	struct replay *r = ctx;
	struct rp_out *o = &r->out[p];

	for (uint16_t i = 0; i < n; i++) {
		uint32_t len = rte_pktmbuf_pkt_len(m[i]);
		uint8_t *dst = rp_out_record(o, *mbuf_ts(m[i]), len);

		if (unlikely(!dst))
			continue;
		if (likely(m[i]->nb_segs == 1)) {
			memcpy(dst, rte_pktmbuf_mtod(m[i], uint8_t *), len);
		} else {
			for (struct rte_mbuf *s = m[i]; s; s = s->next) {
				memcpy(dst, rte_pktmbuf_mtod(s, uint8_t *), s->data_len);
				dst += s->data_len;
			}
		}
	}
	rte_pktmbuf_free_bulk(m, n);
	return n;
}

/* ---- bursts ---- */

static inline const struct sl_view *view(const struct replay *r)
{
	return sl_src_view(&r->src);
}

/* After a client burst: flows that had a live entry and now are on
 * another group were moved (a --reset); an established TCP connection
 * moved is broken.  Each flow counts once per burst. */
static void group_changes(struct replay *r)
{
	struct rp_slice *s = rp_slice_cur(&r->rep);

	for (unsigned i = 0; i < r->bn; i++) {
		const struct pinfo *pi = &r->info[i];
		struct sl_flow *f;
		unsigned j;

		if (!pi->tracked)
			continue;
		f = sl_ft_lookup(r->w->core.ft, &pi->key, pi->dig, r->now32);
		if (!f || sl_flow_group(f) == pi->group)
			continue;
		for (j = 0; j < i; j++)
			if (r->info[j].tracked && r->info[j].dig == pi->dig &&
			    !memcmp(&r->info[j].key, &pi->key, sizeof(pi->key)))
				break;
		if (j < i)
			continue;
		s->svc[pi->svc].changed++;
		if ((pi->state & SL_FS_TCP) && (pi->state & SL_FS_EST))
			s->svc[pi->svc].broken++;
	}
}

/* Forward the burst being assembled, at the time of its last packet (not
 * of the packet read after it, which may be much later); its port buffers
 * are flushed to the captures at once. */
static void burst_send(struct replay *r)
{
	struct sl_dp_worker *w = r->w;
	unsigned port = r->bport;
	uint16_t n = r->bn;

	if (n == 0)
		return;
	sl_dp_forward(w, view(r), port, r->burst, n, r->burst_us);
	sl_dp_flush(w);
	if (port == w->core.client_port)
		group_changes(r);
	sl_worker_sweep(&w->core, r->now_us);
	rp_slice_cur(&r->rep)->packets += n;
	r->bn = 0;
}

static inline int port_used(const struct replay *r, uint16_t port)
{
	return r->svc_ports[port >> 6] >> (port & 63) & 1;
}

/* The common case without a full parse: an untagged, unfragmented TCP or
 * UDP packet over IPv4 (no options) or IPv6 (no extension header) whose
 * source port no service uses, while no --reset is in force, arrives on
 * the client port whatever else it holds (arrival_port would find no
 * service at its source).  0: look closer. */
static inline int client_side(const struct replay *r, const uint8_t *d, uint32_t len)
{
	if (r->any_reset || len < 58)
		return 0;
	if (d[12] == 0x08 && d[13] == 0x00)
		return d[14] == 0x45 && !(d[20] & 0x3f) && !d[21] && (d[23] == 6 || d[23] == 17) &&
		       !port_used(r, (uint16_t)(d[34] << 8 | d[35]));
	if (d[12] == 0x86 && d[13] == 0xdd)
		return (d[20] == 6 || d[20] == 17) && !port_used(r, (uint16_t)(d[54] << 8 | d[55]));
	return 0;
}

/* Which port the packet arrives on (see the usage text); a client packet
 * of a service with a tracked flow fills *pi for group_changes. */
static unsigned arrival_port(struct replay *r, const uint8_t *d, uint32_t len,
			     struct pinfo *pi)
{
	const struct sl_view *v = view(r);
	const struct sl_table_hdr *h = v->hdr;
	struct sl_worker *core = &r->w->core;
	struct sl_flow *f;
	struct sl_pkt p;
	int s;

	pi->tracked = 0;
	if (likely(client_side(r, d, len)))
		return core->client_port;
	if (sl_parse(d, len, &p) != SL_OK || !p.family || (p.proto != 6 && p.proto != 17))
		return core->client_port;
	/* the service end of the packet is its sender: return traffic (for an
	 * ICMP error, the quoted packet's receiver); a source port no service
	 * uses spares the look-up */
	if (p.icmp_err || p.frag != SL_FRAG_NONE || port_used(r, p.sport))
		s = sl_find_service(h, p.family, p.proto, p.icmp_err ? p.dst : p.src,
				    p.icmp_err ? p.dport : p.sport, p.frag != SL_FRAG_NONE);
	else
		s = -1;
	if (s >= 0) {
		unsigned g;

		/* the client packets before it may have made its flow */
		if (r->bn && r->bport == core->client_port)
			burst_send(r);
		pi->dig = sl_key_digest(&pi->key, &p, h->seed_flow);
		f = sl_ft_lookup(core->ft, &pi->key, pi->dig, r->now32);
		g = f ? sl_flow_group(f) : h->services[s].champion;
		return g < h->ngroups ? v->groups[g].port : v->groups[h->services[s].champion].port;
	}
	/* a live flow moves only when decided before its service's reset_gen
	 * (the replay never removes a group): no look-up before a --reset */
	if (!r->any_reset || p.icmp_err)
		return core->client_port;
	s = sl_find_service(h, p.family, p.proto, p.dst, p.dport, p.frag != SL_FRAG_NONE);
	if (s < 0 || h->services[s].reset_gen == 0)
		return core->client_port;
	pi->dig = sl_key_digest(&pi->key, &p, h->seed_flow);
	f = sl_ft_lookup(core->ft, &pi->key, pi->dig, r->now32);
	if (f && sl_ft_redecides(core->ft, f, h->services[s].reset_gen) &&
	    !((f->state & SL_FS_TCP) && sl_fs_closed(f->state))) {
		pi->tracked = 1;
		pi->group = sl_flow_group(f);
		pi->state = f->state;
		pi->svc = (int16_t)s;
	}
	return core->client_port;
}

/* ---- the daemon in this process ---- */

static void daemon_log(void *ctx, const char *line)
{
	const struct replay *r = ctx;

	if (r->o.verbose)
		fprintf(stderr, "sluiced: %s\n", line);
}

static int daemon_start(struct replay *r, uint64_t clock_ms)
{
	struct sl_daemon *d = calloc(1, sizeof(*d));
	char err[SL_ERR_LEN + 512];

	if (!d || !(d->cfg = malloc(sizeof(*d->cfg)))) {
		free(d);
		fprintf(stderr, "sluice-replay: out of memory for the daemon\n");
		return -1;
	}
	r->d = d;
	memcpy(d->cfg, r->cfg, sizeof(*d->cfg));
	snprintf(d->config_path, sizeof(d->config_path), "%s", r->o.config);
	snprintf(d->instance, sizeof(d->instance), "replay");
	if (strlen(r->journal) >= sizeof(d->journal_path)) {
		fprintf(stderr, "sluice-replay: OUTDIR %s: path too long for the journal (at most "
			"%zu characters)\n", r->o.outdir, sizeof(d->journal_path) - 15);
		return -1;
	}
	memcpy(d->journal_path, r->journal, strlen(r->journal) + 1);
	d->in_memory = 1;
	d->virtual_clock = 1;
	d->clock_ms = clock_ms;
	sl_log_sink(daemon_log, r);
	if (sl_daemon_start(d, err, sizeof(err)) != 0) {
		fprintf(stderr, "sluice-replay: the control daemon could not start: %s\n", err);
		return -1;
	}
	sl_maps_source(&d->maps, &r->src);
	return 0;
}

static void daemon_stop(struct replay *r)
{
	if (!r->d)
		return;
	if (r->d->st)
		sl_daemon_stop(r->d);
	else
		free(r->d->cfg);
	free(r->d);
	r->d = NULL;
	sl_log_sink(NULL, NULL);
}

/* Rollout steps the daemon's timer took, and what guards did (an abort
 * or a pause, at a look of the timer or at a pushed count): its journal
 * says which. */
static void plan_steps(struct replay *r, uint64_t rel_ns)
{
	FILE *f = fopen(r->journal, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!f)
		return;
	if (fseek(f, r->journal_off, SEEK_SET) == 0) {
		while ((n = getline(&line, &cap, f)) > 0 && line[n - 1] == '\n') {
			json_t *e = json_loads(line, 0, NULL);
			const char *actor = json_string_value(json_object_get(e, "actor"));
			struct rp_action *a;

			r->journal_off += n;
			if (actor && (!strcmp(actor, "plan") || !strncmp(actor, "guard", 5))) {
				const char *why = json_string_value(json_object_get(e, "reason"));

				a = rp_action_add(&r->rep, strcmp(actor, "plan") ? RP_BY_GUARD :
						  RP_BY_PLAN, 0, 0, why ? why : "rollout step");
				if (a) {
					const char *svc = json_string_value(
						json_object_get(e, "service"));

					snprintf(a->service, sizeof(a->service), "%s", svc ? svc : "");
					a->status = RP_CHANGED;
					a->applied_ns = rel_ns;
					a->packet = r->pkt_no;
					a->gen = (uint32_t)json_integer_value(
						json_object_get(e, "gen"));
					rp_slice_action(&r->rep, r->rep.nactions - 1);
				}
			}
			json_decref(e);
		}
	}
	free(line);
	fclose(f);
}

static void journal_skip(struct replay *r)
{
	struct stat st;

	if (stat(r->journal, &st) == 0)
		r->journal_off = (long)st.st_size;
}

/* The guards' figures at the end of the open slice, per service whose
 * rollout has guards (as of their last look). */
static void guards_capture(struct replay *r)
{
	struct rp_slice *s = rp_slice_cur(&r->rep);

	if (!s || !r->d || !r->d->st)
		return;
	for (unsigned i = 0; i < r->cfg->nservices; i++) {
		int k = sl_state_service(r->d->st, r->cfg->services[i].name);

		if (k < 0 || !r->d->st->svc[k].ro.nguards)
			continue;
		json_decref(s->svc[i].guards);
		s->svc[i].guards = sl_daemon_guards(r->d, k, r->d->clock_ms);
	}
}

/* The daemon journaled something since plan_steps last read (a guard's
 * pause publishes nothing). */
static int journal_grew(const struct replay *r)
{
	struct stat st;

	return stat(r->journal, &st) == 0 && (long)st.st_size > r->journal_off;
}

/* Apply schedule action k; 0, or an exit status (refused). */
static int action_apply(struct replay *r, unsigned k, uint64_t rel_ns)
{
	const struct sl_sched_action *sa = &r->sched.a[k];
	struct sl_actor who = { -1, 0, r->actor };
	struct rp_action *a = rp_action_add(&r->rep, 0, sa->line, sa->at_ms, sa->text);
	char *line = json_dumps(sa->req, JSON_COMPACT), *reply;
	json_t *rep, *res, *err;

	if (!a || !line) {
		free(line);
		fprintf(stderr, "sluice-replay: out of memory\n");
		return EXIT_RUNTIME;
	}
	snprintf(r->actor, sizeof(r->actor), "schedule %s:%u", r->sched.path, sa->line);
	r->d->clock_ms = (r->rep.first_ns + rel_ns) / 1000000u;
	reply = sl_daemon_request(r->d, line, strlen(line), &who);
	free(line);
	rep = reply ? json_loads(reply, 0, NULL) : NULL;
	free(reply);
	res = json_object_get(rep, "result");
	err = json_object_get(rep, "error");
	a->applied_ns = rel_ns;
	a->packet = r->pkt_no;
	a->gen = r->d->st->gen;
	{
		/* a rollout verb may name no service: the reply says which */
		const char *svc = json_string_value(json_object_get(res, "service"));

		if (!svc)
			svc = json_string_value(json_object_get(sa->req, "service"));
		snprintf(a->service, sizeof(a->service), "%s", svc ? svc : "");
	}
	rp_slice_action(&r->rep, r->rep.nactions - 1);
	if (json_is_true(json_object_get(rep, "ok"))) {
		a->status = json_is_false(json_object_get(res, "changed")) ? RP_UNCHANGED :
									      RP_CHANGED;
		json_decref(rep);
		/* the action's own entry is skipped; a guard it set off is not */
		plan_steps(r, rel_ns);
		return 0;
	}
	a->status = RP_REFUSED;
	{
		const char *code = json_string_value(json_object_get(err, "code"));
		const char *msg = json_string_value(json_object_get(err, "message"));

		snprintf(a->code, sizeof(a->code), "%s", code ? code : "internal");
		a->message = strdup(msg ? msg : "no reply from the daemon");
	}
	json_decref(rep);
	fprintf(stderr, "sluice-replay: %s:%u: %s: refused by the daemon at %.3f s (before "
		"packet %" PRIu64 "): %s: %s%s\n", r->sched.path, sa->line, sa->text,
		(double)rel_ns / 1e9, r->pkt_no, a->code, a->message ? a->message : "",
		r->o.keep_going ? " (--keep-going: the replay goes on)" :
		" (the replay stops: no report; --keep-going goes on)");
	return r->o.keep_going ? 0 : EXIT_REFUSED;
}

/* A new rule set is compiled before the next packet: none is pending. */
static void shadow_sync(struct replay *r)
{
	char err[SL_ERR_LEN * 4];

	if (r->shadow_ok && sl_dp_shadow_update(&r->shadow, err, sizeof(err)) < 0)
		fprintf(stderr, "sluice-replay: shadow rules of generation %u: %s (those rules "
			"never match)\n", r->shadow.cur ? r->shadow.cur->shadow_gen : 0, err);
}

/* A new table in force: its filters, its resets, the slice's record. */
static void table_changed(struct replay *r)
{
	const struct sl_table_hdr *h = view(r)->hdr;

	shadow_sync(r);
	r->any_reset = 0;
	for (unsigned s = 0; s < h->nservices; s++)
		r->any_reset |= h->services[s].reset_gen != 0;
	rp_slice_table(&r->rep, view(r));
}

/* Schedule actions and rollout steps due before the packet at rel_ns;
 * returns 0 or an exit status. */
static int events(struct replay *r, uint64_t rel_ns)
{
	uint64_t abs_ms = (r->rep.first_ns + rel_ns) / 1000000u;
	int boundary = 0, rc;

	burst_send(r);
	/* the intervals that ended before this packet, with the table then */
	while (rel_ns >= r->plot_next_ns) {
		if (rp_plot_close(&r->plot, r->plot_next_ns, r->w->core.cnt, view(r)->hdr))
			return EXIT_RUNTIME;
		r->plot_next_ns += r->plot.interval_ns;
	}
	while (r->next_action < r->sched.n &&
	       rel_ns >= r->sched.a[r->next_action].at_ms * 1000000u) {
		if (!boundary) {
			sl_worker_sweep_all(&r->w->core, r->now_us);
			guards_capture(r);
			if (rp_slice_begin(&r->rep, rel_ns, r->pkt_no, r->w->core.cnt))
				return EXIT_RUNTIME;
			boundary = 1;
		}
		rc = action_apply(r, r->next_action++, rel_ns);
		if (rc)
			return rc;
	}
	for (int i = 0; i < 64 && abs_ms >= sl_daemon_next_ms(r->d); i++) {
		uint32_t gen = r->d->st->gen;
		int step = sl_state_deadline_skip(r->d->st, r->d->held) <= abs_ms;

		if (step && !boundary) {
			sl_worker_sweep_all(&r->w->core, r->now_us);
			guards_capture(r);
			if (rp_slice_begin(&r->rep, rel_ns, r->pkt_no, r->w->core.cnt))
				return EXIT_RUNTIME;
			boundary = 1;
		}
		r->d->clock_ms = abs_ms;
		sl_daemon_timer(r->d, abs_ms);
		if ((r->d->st->gen != gen || journal_grew(r)) && !boundary) {
			/* a guard acted at this look: the slice ends here (no
			 * packet came in between) */
			sl_worker_sweep_all(&r->w->core, r->now_us);
			guards_capture(r);
			if (rp_slice_begin(&r->rep, rel_ns, r->pkt_no, r->w->core.cnt))
				return EXIT_RUNTIME;
			boundary = 1;
		}
		if (r->d->st->gen != gen || step || journal_grew(r))
			plan_steps(r, rel_ns);
	}
	if (boundary)
		table_changed(r);
	return 0;
}

static uint64_t next_event_ns(const struct replay *r)
{
	uint64_t next = UINT64_MAX, dm = sl_daemon_next_ms(r->d);

	if (r->next_action < r->sched.n)
		next = r->sched.a[r->next_action].at_ms * 1000000u;
	if (r->plot_next_ns < next)
		next = r->plot_next_ns;
	if (dm != UINT64_MAX) {
		uint64_t t = dm * 1000000u;

		t = t > r->rep.first_ns ? t - r->rep.first_ns : 0;
		if (t < next)
			next = t;
	}
	return next;
}

static int worker_create(struct replay *r)
{
	struct sl_dp_worker *w = rte_zmalloc("sl_replay_worker", sizeof(*w), RTE_CACHE_LINE_SIZE);

	if (!w) {
		fprintf(stderr, "sluice-replay: out of memory for the worker\n");
		return -1;
	}
	r->w = w;
	return 0;
}

/* The worker counts into the daemon's stats map, like an attached
 * sluice-dp's worker 0. */
static int worker_init(struct replay *r)
{
	struct sl_dp_worker *w = r->w;

	if (sl_worker_init(&w->core, r->cfg, &r->d->maps.stats[0]) != 0) {
		fprintf(stderr, "sluice-replay: cannot allocate the flow table (%s: [dataplane] "
			"flow_capacity %u)\n", r->cfg->path, r->cfg->flow_capacity);
		return -1;
	}
	w->tx_fn = replay_tx;
	w->tx_ctx = r;
	w->run = &r->run;
	return 0;
}

/* ---- the run ---- */

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* This thread's CPU time: what the loop costs, whatever else runs. */
static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress(const struct replay *r, double start, int done)
{
	double el = mono_s() - start;

	if (done) {
		fprintf(stderr, "\r\033[K");
		return;
	}
	fprintf(stderr, "\rsluice-replay: %3.0f %% of %s, %" PRIu64 " packets, %.2f Mpps",
		r->in.size ? 100.0 * (double)r->in.offset / (double)r->in.size : 100.0,
		r->in.path, r->pkt_no, el > 0 ? (double)r->pkt_no / el / 1e6 : 0.0);
}

static int check_outputs(struct replay *r)
{
	for (unsigned p = 0; p < r->cfg->nports; p++)
		if (r->out[p].failed) {
			fprintf(stderr, "sluice-replay: %s\n", r->out[p].err);
			return EXIT_RUNTIME;
		}
	return 0;
}

/* hot and apart from main(): gcc treats what only main() calls as run once */
static __attribute__((noinline, hot)) int run(struct replay *r)
{
	char err[RP_ERR_LEN];
	int show = isatty(2) && !r->o.quiet && !r->o.json;
	double start = mono_s(), last_show = start, loop_start, loop_s, loop_cpu;
	uint64_t next_ns, ts = 0;
	const uint8_t *d;
	uint32_t len;
	int rc;

	rc = rp_in_next(&r->in, &ts, &len, &d, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "sluice-replay: %s\n", err);
		return EXIT_INPUT;
	}
	r->clock_ns = r->rep.first_ns = r->rep.last_ns = ts;
	if (daemon_start(r, rc ? ts / 1000000u : 0) != 0 || worker_init(r) != 0)
		return EXIT_RUNTIME;
	journal_skip(r);
	r->d->local_stats = r->w->core.cnt; /* the guards read this worker's evidence */
	r->w->src = &r->src;
	if (sl_dp_shadow_init(&r->shadow, &r->src, &r->w, 1, NULL, err, sizeof(err)) != 0) {
		fprintf(stderr, "sluice-replay: %s\n", err);
		return EXIT_RUNTIME;
	}
	r->shadow_ok = 1;
	if (rp_slice_begin(&r->rep, 0, 1, r->w->core.cnt))
		return EXIT_RUNTIME;
	table_changed(r);
	r->plot_next_ns = r->plot.interval_ns;
	for (unsigned s = 0; s < r->cfg->nservices; s++)
		for (unsigned k = 0; k < r->cfg->services[s].nranges; k++)
			for (uint32_t q = r->cfg->services[s].ranges[k].lo;
			     q <= r->cfg->services[s].ranges[k].hi; q++)
				r->svc_ports[q >> 6] |= 1ull << (q & 63);
	next_ns = next_event_ns(r);
	loop_start = mono_s();
	loop_cpu = cpu_s();

	for (; rc == 1; rc = rp_in_next(&r->in, &ts, &len, &d, err, sizeof(err))) {
		struct pinfo pi;
		struct rte_mbuf *m;
		uint64_t rel;
		unsigned port;

		r->pkt_no++;
		r->rep.bytes += len;
		if (ts < r->clock_ns)
			r->rep.out_of_order++;
		else
			r->clock_ns = ts;
		rel = r->clock_ns - r->rep.first_ns;
		r->now_us = rel / 1000u;
		r->now32 = sl_clock_ms(r->now_us);
		if (unlikely(rel >= next_ns)) {
			rc = events(r, rel);
			if (rc)
				return rc;
			next_ns = next_event_ns(r);
		}
		port = arrival_port(r, d, len, &pi);
		if (r->bn && (port != r->bport || r->bn == SL_BURST))
			burst_send(r);
		/* group_changes reads the rest only for a tracked flow */
		r->info[r->bn].tracked = pi.tracked;
		if (unlikely(pi.tracked))
			r->info[r->bn] = pi;
		m = frame_mbuf(r, d, len, ts);
		if (!m) {
			fprintf(stderr, "sluice-replay: packet %" PRIu64 ": out of mbufs (pool of "
				"%u)\n", r->pkt_no, POOL_MBUFS);
			return EXIT_RUNTIME;
		}
		r->bport = port;
		r->burst[r->bn++] = m;
		r->burst_us = r->now_us;
		if (unlikely((r->pkt_no & PROGRESS_MASK) == 0)) {
			if (check_outputs(r))
				return EXIT_RUNTIME;
			if (stop_signal) {
				if (show)
					progress(r, start, 1);
				fprintf(stderr, "sluice-replay: stopped by %s at packet %" PRIu64
					"\n", stop_signal == SIGINT ? "SIGINT" : "SIGTERM",
					r->pkt_no);
				return EXIT_SIGNAL;
			}
			if (show && mono_s() - last_show >= 0.5) {
				progress(r, start, 0);
				last_show = mono_s();
			}
		}
	}
	if (rc < 0) {
		if (show)
			progress(r, start, 1);
		fprintf(stderr, "sluice-replay: %s\n", err);
		return EXIT_INPUT;
	}
	burst_send(r);
	sl_dp_drain(r->w);
	loop_s = mono_s() - loop_start;
	loop_cpu = cpu_s() - loop_cpu;
	sl_worker_sweep_all(&r->w->core, r->now_us);
	r->rep.packets = r->pkt_no;
	r->rep.last_ns = r->clock_ns;
	guards_capture(r);
	rp_slice_close(&r->rep, r->clock_ns - r->rep.first_ns, r->w->core.cnt);
	/* the last interval ends with the capture */
	if ((r->clock_ns - r->rep.first_ns > r->plot.from_ns || !r->plot.n) &&
	    rp_plot_close(&r->plot, r->clock_ns - r->rep.first_ns, r->w->core.cnt, view(r)->hdr))
		return EXIT_RUNTIME;
	/* actions after the last packet were not reached: listed as such */
	for (; r->next_action < r->sched.n; r->next_action++) {
		const struct sl_sched_action *sa = &r->sched.a[r->next_action];

		if (!rp_action_add(&r->rep, 0, sa->line, sa->at_ms, sa->text))
			return EXIT_RUNTIME;
	}
	/* the packet rate over the packets alone, set-up and summary aside */
	r->rep.elapsed_s = mono_s() - start;
	r->rep.pps = loop_s > 0 ? (double)r->pkt_no / loop_s : 0;
	r->rep.cpu_pps = loop_cpu > 0 ? (double)r->pkt_no / loop_cpu : 0;
	if (show)
		progress(r, start, 1);
	return check_outputs(r);
}

static int report_write(struct replay *r)
{
	char path[768], tmp[800];
	json_t *j;
	int rc;

	r->rep.complete = 1;
	r->rep.total = r->w->core.cnt;
	j = rp_report_json(&r->rep);
	if (j)
		json_object_set_new(j, "intervals", rp_plot_json(&r->plot, r->cfg));
	if (!j) {
		fprintf(stderr, "sluice-replay: out of memory for the report\n");
		return EXIT_RUNTIME;
	}
	snprintf(path, sizeof(path), "%s/report.json", r->o.outdir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	rc = json_dump_file(j, tmp, JSON_INDENT(2) | JSON_ENSURE_ASCII);
	if (rc != 0 || rename(tmp, path) != 0) {
		fprintf(stderr, "sluice-replay: cannot write %s: %s\n", path, strerror(errno));
		unlink(tmp);
		json_decref(j);
		return EXIT_RUNTIME;
	}
	if (r->o.json) {
		json_dumpf(j, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII);
		fputc('\n', stdout);
	} else if (!r->o.quiet) {
		rp_report_text(&r->rep, stdout);
	}
	json_decref(j);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	static struct replay rp;
	struct replay *r = &rp;
	char err[SL_ERR_LEN + 1024];
	int rc, status = EXIT_RUNTIME, plot_failed = 0;

	rc = parse_opts(argc, argv, &r->o);
	if (rc >= 0)
		return rc;
	r->cfg = calloc(1, sizeof(*r->cfg));
	if (!r->cfg || rp_report_init(&r->rep, r->cfg) != 0) {
		fprintf(stderr, "sluice-replay: out of memory\n");
		return EXIT_RUNTIME;
	}
	if (sl_config_load(r->o.config, r->cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "sluice-replay: %s\n", err);
		status = EXIT_INPUT;
		goto out_cfg;
	}
	if (rp_plot_init(&r->plot, r->cfg->nservices, (uint64_t)r->o.interval_ms * 1000000u)) {
		fprintf(stderr, "sluice-replay: out of memory\n");
		goto out_cfg;
	}
	/* before the replay: a missing gnuplot must not cost a run */
	if (r->o.plot && rp_plot_gnuplot_check(err, sizeof(err)) != 0) {
		fprintf(stderr, "sluice-replay: %s\n", err);
		goto out_cfg;
	}
	if (r->o.schedule && (sl_schedule_load(r->o.schedule, &r->sched, err, sizeof(err)) ||
			      sl_schedule_check(&r->sched, r->cfg, err, sizeof(err)))) {
		fprintf(stderr, "sluice-replay: %s (nothing was replayed)\n", err);
		status = EXIT_INPUT;
		goto out_sched;
	}
	if (rp_in_open(&r->in, r->o.input, err, sizeof(err)) != 0) {
		fprintf(stderr, "sluice-replay: %s\n", err);
		status = EXIT_INPUT;
		goto out_sched;
	}
	if (outdir_prepare(r, err, sizeof(err)) != 0) {
		fprintf(stderr, "sluice-replay: %s\n", err);
		status = EXIT_INPUT;
		goto out_files;
	}
	r->rep.config_path = r->o.config;
	r->rep.input_path = r->o.input;
	r->rep.schedule_path = r->o.schedule;
	r->rep.outdir = r->o.outdir;
	r->rep.nano = r->in.nano;
	if (eal_start(r, argv[0]) != 0)
		goto out_files;
	/* stop between packets, so that the EAL's files are cleaned up */
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	sl_dp_run_init(&r->run, 0, 0);
	if (mbufs_create(r) != 0 || worker_create(r) != 0)
		goto out_eal;
	status = run(r);
	if (status == EXIT_OK)
		status = report_write(r);
	else
		fprintf(stderr, "sluice-replay: no report written; the captures in %s are "
			"incomplete\n", r->o.outdir);
	if (status == EXIT_OK && r->o.plot) {
		if (rp_plot_write(&r->plot, &r->rep, r->o.plot, err, sizeof(err)) != 0) {
			fprintf(stderr, "sluice-replay: %s (the report is written)\n", err);
			plot_failed = 1;
		} else if (!r->o.quiet && !r->o.json) {
			printf("plot: %s\n", r->o.plot);
		}
	}
	if (r->shadow_ok)
		sl_dp_shadow_fini(&r->shadow);
	if (r->w->core.ft)
		sl_worker_fini(&r->w->core);
	rte_free(r->w);
	daemon_stop(r);
	rte_mempool_free(r->pool);
out_eal:
	if (r->own_runtime_dir)
		snprintf(err, sizeof(err), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	if (r->own_runtime_dir)
		rmdir(err);
out_files:
	for (unsigned p = 0; p < r->cfg->nports; p++)
		rp_out_close(&r->out[p]);
	rp_in_close(&r->in);
out_sched:
	sl_schedule_free(&r->sched);
out_cfg:
	/* a failed run leaves no report behind, not even an earlier one */
	if (status != EXIT_OK) {
		snprintf(err, sizeof(err), "%s/report.json", r->o.outdir);
		unlink(err);
	}
	rp_report_free(&r->rep);
	rp_plot_free(&r->plot);
	free(r->cfg);
	/* a plot gnuplot could not draw: the report stands, the run did not */
	return status == EXIT_OK && plot_failed ? EXIT_RUNTIME : status;
}
