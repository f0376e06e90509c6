/* sluice-dp: the DPDK dataplane.  Loads a configuration, brings up EAL and
 * the ports, runs one worker per lcore, reports at exit. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_pdump.h>

#include "config.h"
#include "decide.h"
#include "dpstats.h"
#include "filter.h"
#include "maps.h"
#include "ports.h"
#include "tables.h"
#include "telemetry.h"
#include "worker.h"

#define SL_DP_VERSION "0.1.0"

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

struct opts {
	const char *config;
	const char *stats;
	const char *instance;
	const char *bpffs;
	double duration_s;
	uint32_t idle_ms;
	int neal;
	char **eal;
};

static struct sl_config cfg;
static struct sl_eal_args eal;
/* The EAL runtime directory of a --file-prefix of our own (no hugepages). */
static char runtime_dir[512];

static void remove_runtime_dir(void)
{
	if (runtime_dir[0])
		rmdir(runtime_dir);
}
static char *eal_orig[SL_EAL_MAX_ARGS + 1];
static struct sl_dp_ports ports;
static struct sl_dp_run run;
static struct sl_counters sum;
static uint64_t worker_rx[RTE_MAX_LCORE];
/* Attached to an instance: the tables come from its pinned maps. */
static struct sl_maps maps;
static struct sl_table_src map_src;
static int attached;
/* Shadow filters: compiled off the packet path, handed to the workers. */
static struct sl_dp_shadow shadow;
static int shadow_ready;
/* Telemetry commands (telemetry.c) and packet capture (dpdk-dumpcap). */
static struct sl_dp_tel tel;
static int pdump_on;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: sluice-dp -c CONFIG [--instance NAME] [--bpffs DIR] [--duration SECONDS]\n"
		"                 [--exit-when-idle MS] [--stats FILE] [--help] [--version]\n"
		"                 [-- EAL-ARGS...]\n"
		"Forward traffic between the ports of CONFIG, splitting the new flows of each\n"
		"service between its champion and challenger groups.\n"
		"\n"
		"  -c, --config CONFIG    INI configuration (required)\n"
		"      --instance NAME    take the tables from the pinned maps of the sluiced\n"
		"                         instance NAME, waiting until it publishes (default:\n"
		"                         [control] instance; none or '': the tables of CONFIG)\n"
		"      --bpffs DIR        bpf filesystem of the maps (default: [control] bpffs,\n"
		"                         /sys/fs/bpf)\n"
		"      --duration SECONDS stop after SECONDS (decimals allowed; time spent\n"
		"                         waiting for an instance's tables counts)\n"
		"      --exit-when-idle MS\n"
		"                         stop once no port has received a packet for MS ms\n"
		"                         (counted from the start of forwarding too)\n"
		"      --stats FILE       write the end of run statistics to FILE as JSON\n"
		"  -h, --help             print this help and exit\n"
		"  -V, --version          print the version and exit\n"
		"  -- EAL-ARGS...         DPDK EAL arguments, after those of [dataplane] "
		"eal_args;\n"
		"                         -l/-c/--lcores, -m/--socket-mem, --file-prefix,\n"
		"                         --main-lcore, --iova-mode and -n given here replace\n"
		"                         the same option from eal_args\n"
		"\n"
		"Every [port] becomes an EAL device (--vdev=DEVARGS, or -a for a PCI address).\n"
		"Without free hugepages, --no-huge (and -m 512 unless -m/--socket-mem is\n"
		"given) is added.  Every lcore but the main one runs a worker; a single lcore\n"
		"runs the only worker.  SIGINT and SIGTERM stop the run like --duration: the\n"
		"workers send what they buffered, then the summary is printed.\n"
		"Attached to an instance, the ports of CONFIG must be those the published table\n"
		"names, in order; the workers count into the instance's stats map and\n"
		"acknowledge each table generation they use.\n"
		"Exit status: 0 clean run, 1 runtime failure (EAL, ports, memory, --stats\n"
		"file, unusable maps), 2 bad usage or configuration.\n");
}

/* dpdk-dumpcap is a secondary process: it needs the primary's shared
 * configuration (hugepages, files under the runtime directory), which
 * these options take away. */
static const char *pdump_blocker(void)
{
	static const char *const blockers[] = { "--in-memory", "--no-shconf", "--no-huge" };

	for (int i = 1; i < eal.argc; i++)
		for (unsigned b = 0; b < sizeof(blockers) / sizeof(blockers[0]); b++)
			if (strcmp(eal_orig[i], blockers[b]) == 0)
				return blockers[b];
	return NULL;
}

static void pdump_start(void)
{
	const char *why = pdump_blocker();

	if (why) {
		printf("sluice-dp: packet capture (dpdk-dumpcap) off: EAL runs with %s\n", why);
		return;
	}
	if (rte_pdump_init() != 0) {
		fprintf(stderr, "sluice-dp: packet capture (dpdk-dumpcap) off: rte_pdump_init: "
			"%s\n", rte_strerror(rte_errno));
		return;
	}
	pdump_on = 1;
	{
		/* the prefix is the runtime directory's last component */
		const char *dir = rte_eal_get_runtime_dir(), *slash = strrchr(dir, '/');

		printf("sluice-dp: packet capture ready: dpdk-dumpcap --file-prefix=%s -i PORT\n",
		       slash ? slash + 1 : dir);
	}
}

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "sluice-dp: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'sluice-dp --help'.\n");
	return EXIT_USAGE;
}

/* Fail before the run, not after it, when --stats cannot be written. */
static int stats_dir_check(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (path[0] == '\0' || (slash && slash[1] == '\0')) {
		fprintf(stderr, "sluice-dp: --stats '%s': expected a file name\n", path);
		return -1;
	}
	if (access(dir, W_OK | X_OK) != 0) {
		fprintf(stderr, "sluice-dp: --stats %s: directory %s is not writable: %s\n", path,
			dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* Returns -1 to go on, or an exit status. */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'd' },
		{ "exit-when-idle", required_argument, NULL, 'i' },
		{ "stats", required_argument, NULL, 's' },
		{ "instance", required_argument, NULL, 'n' },
		{ "bpffs", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:c:hV", longopts, NULL)) != -1) {
		char *end;

		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 'd':
			errno = 0;
			o->duration_s = strtod(optarg, &end);
			if (errno || end == optarg || *end || !isfinite(o->duration_s) ||
			    o->duration_s <= 0 || o->duration_s > 1e9)
				return usage_error("--duration '%s': expected a number of seconds "
						   "greater than 0", optarg);
			break;
		case 'i': {
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-' || v == 0 ||
			    v > UINT32_MAX)
				return usage_error("--exit-when-idle '%s': expected milliseconds, "
						   "an integer from 1 to 4294967295", optarg);
			o->idle_ms = (uint32_t)v;
			break;
		}
		case 's':
			o->stats = optarg;
			break;
		case 'n':
			o->instance = optarg;
			break;
		case 'b':
			if (!optarg[0])
				return usage_error("--bpffs '%s': expected a directory", optarg);
			o->bpffs = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("sluice-dp " SL_DP_VERSION "\n");
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
	/* the rule of [control] instance: the name is a path component */
	if (o->instance && o->instance[0] && !sl_name_valid(o->instance))
		return usage_error("--instance '%s': expected " SL_NAME_RULE, o->instance);
	if (o->stats && stats_dir_check(o->stats) != 0)
		return EXIT_USAGE;
	o->neal = argc - optind;
	o->eal = argv + optind;
	return -1;
}

static void on_signal(int sig)
{
	sl_dp_run_stop(&run, SL_DP_STOP_SIGNAL, sig);
}

static int signals_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0) {
		fprintf(stderr, "sluice-dp: cannot install signal handlers: %s\n",
			strerror(errno));
		return -1;
	}
	return 0;
}

/* The lcores that run workers: every one but the main lcore, or the main
 * lcore alone. */
static unsigned worker_lcores(unsigned *lc)
{
	unsigned lcore, n = 0;

	if (rte_lcore_count() == 1) {
		lc[0] = rte_get_main_lcore();
		return 1;
	}
	RTE_LCORE_FOREACH_WORKER(lcore)
		lc[n++] = lcore;
	return n;
}

/* stats: the instance's stats map (worker i counts into stats[i]), or NULL. */
static struct sl_dp_worker **workers_create(unsigned nw, const unsigned *lc,
					    const struct sl_table_src *src,
					    struct sl_counters *stats)
{
	struct sl_dp_worker **w = calloc(nw, sizeof(*w));

	if (!w) {
		fprintf(stderr, "sluice-dp: out of memory for %u workers\n", nw);
		return NULL;
	}
	for (unsigned i = 0; i < nw; i++) {
		w[i] = rte_zmalloc_socket("sl_dp_worker", sizeof(*w[i]), RTE_CACHE_LINE_SIZE,
					  (int)rte_lcore_to_socket_id(lc[i]));
		if (!w[i]) {
			fprintf(stderr, "sluice-dp: out of memory for worker %u (lcore %u)\n", i,
				lc[i]);
			return w;
		}
		if (sl_worker_init(&w[i]->core, &cfg, stats ? &stats[i] : NULL) != 0) {
			fprintf(stderr, "sluice-dp: worker %u (lcore %u): cannot allocate its flow "
				"table (%s: [dataplane] flow_capacity %u, flow_capacity_v6 %u)\n", i,
				lc[i], cfg.path, cfg.flow_capacity, sl_cfg_capacity_v6(&cfg));
			rte_free(w[i]);
			w[i] = NULL;
			return w;
		}
		w[i]->src = src;
		w[i]->run = &run;
		w[i]->queue = (uint16_t)i;
		w[i]->solo = nw == 1 && lc[i] == rte_get_main_lcore();
		memcpy(w[i]->port_id, ports.port_id, sizeof(ports.port_id));
		for (unsigned p = 0; p < ports.nports; p++) {
			w[i]->copy_pool[p] = sl_ports_copy_pool(&ports, p);
			w[i]->clone_pool[p] = sl_ports_clone_pool(&ports, p);
		}
	}
	return w;
}

static int workers_ok(struct sl_dp_worker **w, unsigned nw)
{
	for (unsigned i = 0; i < nw; i++)
		if (!w[i])
			return 0;
	return 1;
}

static void workers_free(struct sl_dp_worker **w, unsigned nw)
{
	if (!w)
		return;
	for (unsigned i = 0; i < nw; i++) {
		if (!w[i])
			continue;
		sl_worker_fini(&w[i]->core);
		rte_free(w[i]);
	}
	free(w);
}

/* A new rule set of the tables in force: compile it and hand it over. */
static void shadow_step(void)
{
	char err[SL_ERR_LEN * 4];
	int rc = sl_dp_shadow_update(&shadow, err, sizeof(err));

	if (rc == 0 || !attached)
		return;
	if (rc < 0 && !shadow.cur) {
		fprintf(stderr, "sluice-dp: shadow rules: %s\n", err);
		return;
	}
	if (rc < 0)
		fprintf(stderr, "sluice-dp: shadow rules of generation %u: %s (those rules never "
			"match)\n", shadow.cur->shadow_gen, err);
	printf("sluice-dp: shadow rules of generation %u: %u rule%s, filters ready in %" PRIu64
	       " us\n", shadow.cur->shadow_gen, shadow.cur->nrules,
	       shadow.cur->nrules == 1 ? "" : "s", shadow.last_build_us);
	fflush(stdout);
}

/* The ports' own counters (what the device lost before a worker saw it)
 * into the dataplane record about once a second, for sluiced's metrics;
 * rte_eth_stats_get beside the workers is what DPDK's own telemetry does. */
static void port_dev_step(void)
{
	static uint64_t next_ms;
	struct timespec now, wall;
	uint64_t ms;

	if (!attached)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
	if (ms < next_ms)
		return;
	next_ms = ms + 1000;
	for (unsigned p = 0; p < ports.nports && p < SL_MAX_PORTS; p++) {
		struct sl_port_dev *d = &maps.dp->port_dev[p];
		struct rte_eth_stats st;

		if (rte_eth_stats_get(ports.port_id[p], &st) != 0)
			continue;
		__atomic_store_n(&d->rx_missed, st.imissed, __ATOMIC_RELAXED);
		__atomic_store_n(&d->rx_errors, st.ierrors, __ATOMIC_RELAXED);
		__atomic_store_n(&d->rx_nombuf, st.rx_nombuf, __ATOMIC_RELAXED);
		__atomic_store_n(&d->tx_errors, st.oerrors, __ATOMIC_RELAXED);
	}
	clock_gettime(CLOCK_REALTIME, &wall);
	__atomic_store_n(&maps.dp->port_dev_ns,
			 (uint64_t)wall.tv_sec * 1000000000u + (uint64_t)wall.tv_nsec,
			 __ATOMIC_RELEASE);
}

/* The main lcore is the only worker: filters are compiled here. */
static void *shadow_thread(void *arg)
{
	(void)arg;
	while (__atomic_load_n(&run.stop, __ATOMIC_RELAXED) == SL_DP_RUNNING) {
		shadow_step();
		port_dev_step();
		rte_delay_us_sleep(1000);
	}
	return NULL;
}

/* Run the workers until a stop condition; returns 0 or -1. */
static int workers_run(struct sl_dp_worker **w, unsigned nw, const unsigned *lc)
{
	if (w[0]->solo) {
		pthread_t tid;
		int rc = rte_ctrl_thread_create(&tid, "sl-shadow", NULL, shadow_thread, NULL);

		if (rc != 0) {
			fprintf(stderr, "sluice-dp: cannot start the shadow filter thread: %s\n",
				strerror(rc));
			return -1;
		}
		sl_dp_worker_main(w[0]);
		pthread_join(tid, NULL);
		return 0;
	}
	for (unsigned i = 0; i < nw; i++) {
		int rc = rte_eal_remote_launch(sl_dp_worker_main, w[i], lc[i]);

		if (rc != 0) {
			fprintf(stderr, "sluice-dp: cannot start worker %u on lcore %u: %s\n", i,
				lc[i], rte_strerror(-rc));
			sl_dp_run_stop(&run, SL_DP_STOP_SIGNAL, 0);
			rte_eal_mp_wait_lcore();
			return -1;
		}
	}
	while (!sl_dp_run_check(&run)) {
		shadow_step();
		port_dev_step();
		rte_delay_us_sleep(1000);
	}
	rte_eal_mp_wait_lcore();
	return 0;
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Open the instance's maps once sluiced has published a table; -1 when
 * they are open, else the exit status.  *waited_s: time spent waiting. */
static int maps_wait(const char *bpffs, const char *instance, double duration_s,
		     double *waited_s)
{
	char err[SL_ERR_LEN + 256];
	double start = mono_s(), left;
	int said = 0;

	for (;;) {
		int rc = sl_maps_open(bpffs, instance, &maps, err, sizeof(err));

		*waited_s = mono_s() - start;
		if (rc < 0) {
			fprintf(stderr, "sluice-dp: instance %s: %s\n", instance, err);
			return EXIT_RUNTIME;
		}
		if (rc == 0) {
			if (__atomic_load_n(&maps.control->gen, __ATOMIC_ACQUIRE) != 0)
				return -1;
			sl_maps_close(&maps);
		}
		if (!said) {
			printf("sluice-dp: waiting for sluiced to publish tables of instance %s "
			       "(%s/sluice/%s)\n", instance, bpffs, instance);
			fflush(stdout);
			said = 1;
		}
		if (__atomic_load_n(&run.stop, __ATOMIC_RELAXED) == SL_DP_STOP_SIGNAL) {
			printf("sluice-dp: stopped by %s before instance %s published tables\n",
			       run.signo == SIGINT ? "SIGINT" : "SIGTERM", instance);
			return EXIT_OK;
		}
		left = duration_s > 0 ? duration_s - *waited_s : 0.2;
		if (left <= 0) {
			fprintf(stderr, "sluice-dp: --duration %g s elapsed before instance %s "
				"published tables\n", duration_s, instance);
			return EXIT_RUNTIME;
		}
		if (left > 0.2)
			left = 0.2;
		{
			struct timespec ts = { 0, (long)(left * 1e9) };

			nanosleep(&ts, NULL);
		}
	}
}

/* The published table must name the configuration's ports, in order: its
 * group records send traffic to port indexes. */
static int ports_match(const struct sl_table_hdr *h, const char *instance)
{
	int same = h->nports == cfg.nports;

	for (unsigned p = 0; same && p < cfg.nports; p++)
		same = strncmp(h->port_names[p], cfg.ports[p].name, SL_NAME_LEN) == 0;
	if (same)
		return 0;
	fprintf(stderr, "sluice-dp: instance %s publishes tables for the ports (", instance);
	for (unsigned p = 0; p < h->nports && p < SL_MAX_PORTS; p++)
		fprintf(stderr, "%s%.*s", p ? ", " : "", SL_NAME_LEN, h->port_names[p]);
	fprintf(stderr, ") but %s configures (", cfg.path);
	for (unsigned p = 0; p < cfg.nports; p++)
		fprintf(stderr, "%s%s", p ? ", " : "", cfg.ports[p].name);
	fprintf(stderr, "): both lists must be equal, in order\n");
	return -1;
}

/* Refuse a second dataplane on one instance: acks and counters are per
 * worker index. */
static int dp_other_attached(const char *instance)
{
	uint32_t n = sl_maps_workers(&maps), pid = maps.dp->pid;

	if (n == 0 || pid == (uint32_t)getpid())
		return 0;
	fprintf(stderr, "sluice-dp: instance %s already has a dataplane attached (pid %u, %u "
		"worker%s)\n", instance, pid, n, n == 1 ? "" : "s");
	return 1;
}

/* The CPUs the workers poll on, so that the publisher keeps off them. */
static uint64_t worker_cpus(void)
{
	uint64_t cpus = 0;
	unsigned lc;
	int c;

	RTE_LCORE_FOREACH_WORKER(lc) {
		c = rte_lcore_to_cpu_id((int)lc);
		if (c >= 0 && c < 64)
			cpus |= 1ull << c;
	}
	if (!cpus) { /* the main lcore is the only worker */
		c = rte_lcore_to_cpu_id((int)rte_get_main_lcore());
		if (c >= 0 && c < 64)
			cpus = 1ull << c;
	}
	return cpus;
}

/* Announce the workers to the publisher: counters from zero, acks at the
 * generation in force (the workers have not read a table yet), nworkers
 * last, so that a publisher never sees workers without their acks. */
static void dp_attach(unsigned nw)
{
	struct sl_dp_info *d = maps.dp;
	uint32_t gen = __atomic_load_n(&maps.control->gen, __ATOMIC_ACQUIRE);
	struct timespec ts;

	__atomic_store_n(&d->nworkers, 0, __ATOMIC_RELEASE);
	memset(maps.stats, 0, (size_t)SL_MAX_WORKERS * sizeof(*maps.stats));
	for (unsigned i = 0; i < SL_MAX_WORKERS; i++)
		__atomic_store_n(&d->ack[i].gen, gen, __ATOMIC_RELAXED);
	clock_gettime(CLOCK_REALTIME, &ts);
	d->pid = (uint32_t)getpid();
	d->pid_start = sl_proc_start(d->pid);
	d->attach_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	d->nports = ports.nports;
	d->worker_cpus = worker_cpus();
	memset(d->port_dev, 0, sizeof(d->port_dev));
	d->port_dev_ns = 0;
	__atomic_store_n(&d->nworkers, nw, __ATOMIC_RELEASE);
	attached = 1;
}

static void dp_detach(void)
{
	if (!attached)
		return;
	__atomic_store_n(&maps.dp->shadow_ready_gen, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&maps.dp->nworkers, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&maps.dp->pid, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&maps.dp->pid_start, 0, __ATOMIC_RELEASE);
	attached = 0;
}

static void report_fill(struct sl_dp_report *r, struct sl_dp_worker **w, unsigned nw,
			const struct sl_table_src *src)
{
	uint64_t first = 0, last = 0, rx = 0, end = run.stop_tsc ? run.stop_tsc : rte_rdtsc();

	memset(r, 0, sizeof(*r));
	memset(&sum, 0, sizeof(sum));
	for (unsigned i = 0; i < nw; i++) {
		sl_counters_add(&sum, w[i]->core.cnt);
		worker_rx[i] = 0;
		for (unsigned p = 0; p < cfg.nports; p++)
			worker_rx[i] += w[i]->core.cnt->port_rx[p];
		r->ft_capacity += sl_ft_capacity(w[i]->core.ft);
		r->ft_bytes += sl_ft_bytes(w[i]->core.ft);
		if (w[i]->first_rx_tsc && (!first || w[i]->first_rx_tsc < first))
			first = w[i]->first_rx_tsc;
		if (w[i]->last_rx_tsc > last)
			last = w[i]->last_rx_tsc;
	}
	for (unsigned p = 0; p < cfg.nports; p++) {
		struct rte_eth_stats st;

		rx += sum.port_rx[p];
		if (rte_eth_stats_get(ports.port_id[p], &st) == 0) {
			r->rx_missed[p] = st.imissed;
			r->tx_errors[p] = st.oerrors;
		}
	}
	r->cfg = &cfg;
	r->view = sl_src_view(src);
	r->sum = &sum;
	r->nworkers = nw;
	r->worker_rx = worker_rx;
	r->elapsed_s = (double)(end - run.start_tsc) / (double)run.tsc_hz;
	if (rx >= 2 && last > first)
		r->pps = (double)rx * (double)run.tsc_hz / (double)(last - first);
}

/* The filters of the rules in force before the first packet: a rule is
 * never pending at the start.  From the configuration, a filter DPDK
 * cannot run stops the start; from an instance, its rules never match. */
static int shadow_start(struct sl_dp_worker **w, unsigned nw, const struct sl_table_src *src)
{
	char err[SL_ERR_LEN * 4];
	int rc;

	if (sl_dp_shadow_init(&shadow, src, w, nw, attached ? &maps.dp->shadow_ready_gen : NULL,
			      err, sizeof(err)) != 0) {
		fprintf(stderr, "sluice-dp: %s\n", err);
		return -1;
	}
	shadow_ready = 1;
	rc = sl_dp_shadow_update(&shadow, err, sizeof(err));
	if (rc < 0 && (!attached || !shadow.cur)) {
		fprintf(stderr, "sluice-dp: %s: %s\n", cfg.path, err);
		return -1;
	}
	if (rc < 0)
		fprintf(stderr, "sluice-dp: shadow rules of generation %u: %s (those rules never "
			"match)\n", shadow.cur->shadow_gen, err);
	if (shadow.cur->nrules || shadow.cur->nslice_filters) {
		char slices[48] = "";

		if (shadow.cur->nslice_filters)
			snprintf(slices, sizeof(slices), " and %u slice filter%s",
				 shadow.cur->nslice_filters,
				 shadow.cur->nslice_filters == 1 ? "" : "s");
		printf("sluice-dp: %u shadow rule%s%s, filters ready in %" PRIu64 " us (%s)\n",
		       shadow.cur->nrules, shadow.cur->nrules == 1 ? "" : "s", slices,
		       shadow.last_build_us, shadow.cur->ninterp ?
		       "some interpreted: DPDK returned no JIT code" : "JIT-compiled");
		fflush(stdout);
	}
	return 0;
}

/* Tables from the configuration, or from the instance's maps once
 * published.  Returns -1 to go on, or an exit status. */
static int tables_open(const struct opts *o, const char **instance,
		       struct sl_table_src **ini_src, const struct sl_table_src **src,
		       double *waited_s)
{
	char err[SL_ERR_LEN + SL_DEVARGS_LEN];
	const char *bpffs = o->bpffs ? o->bpffs : cfg.bpffs;
	int rc;

	*instance = o->instance ? o->instance : cfg.instance;
	*waited_s = 0;
	if (!(*instance)[0]) {
		*ini_src = sl_tables_from_config(&cfg, err, sizeof(err));
		if (!*ini_src) {
			fprintf(stderr, "sluice-dp: %s\n", err);
			return EXIT_USAGE;
		}
		*src = *ini_src;
		return -1;
	}
	rc = maps_wait(bpffs, *instance, o->duration_s, waited_s);
	if (rc >= 0)
		return rc;
	sl_maps_source(&maps, &map_src);
	*src = &map_src;
	if (ports_match(sl_src_view(*src)->hdr, *instance) != 0)
		return EXIT_USAGE;
	if (dp_other_attached(*instance))
		return EXIT_RUNTIME;
	printf("sluice-dp: instance %s: tables of generation %u (%s)\n", *instance,
	       sl_src_view(*src)->hdr->gen, maps.dir);
	fflush(stdout);
	return -1;
}

int main(int argc, char **argv)
{
	char err[SL_ERR_LEN + SL_DEVARGS_LEN], note[256], why[96];
	struct sl_huge_probe probe = { "/proc/meminfo", "/proc/mounts" };
	struct sl_table_src *ini_src = NULL;
	const struct sl_table_src *src = NULL;
	const char *instance;
	struct sl_dp_worker **w = NULL;
	struct sl_dp_report rep;
	struct opts o;
	unsigned nw = 0, lcores[RTE_MAX_LCORE];
	double waited_s, duration_s;
	int rc, status = EXIT_RUNTIME;

	rc = parse_opts(argc, argv, &o);
	if (rc >= 0)
		return rc;
	if (sl_config_load(o.config, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "sluice-dp: %s\n", err);
		return EXIT_USAGE;
	}
	/* from here a signal stops the start-up (or the wait for tables) too */
	if (signals_install() != 0)
		return EXIT_RUNTIME;
	rc = tables_open(&o, &instance, &ini_src, &src, &waited_s);
	if (rc >= 0) {
		status = rc;
		goto out_tables;
	}
	if (sl_eal_args_build(&eal, &cfg, argv[0], o.neal, o.eal, &probe, note, sizeof(note),
			      err, sizeof(err)) != 0) {
		fprintf(stderr, "sluice-dp: %s\n", err);
		status = EXIT_USAGE;
		goto out_tables;
	}
	if (note[0])
		printf("sluice-dp: %s\n", note);
	fflush(stdout);

	/* rte_eal_init permutes argv: keep the order for messages */
	memcpy(eal_orig, eal.argv, sizeof(eal_orig));
	/* Registered before EAL's own exit handlers, so it runs after them,
	 * once the directory is empty. */
	if (eal.own_runtime_dir)
		atexit(remove_runtime_dir);
	rc = rte_eal_init(eal.argc, eal.argv);
	if (rc >= 0 && eal.own_runtime_dir)
		snprintf(runtime_dir, sizeof(runtime_dir), "%s", rte_eal_get_runtime_dir());
	if (rc < 0) {
		fprintf(stderr, "sluice-dp: EAL initialisation failed: %s (see the EAL messages "
			"above; EAL arguments:", rte_errno ? rte_strerror(rte_errno) :
			"no reason given");
		for (int i = 1; i < eal.argc; i++)
			fprintf(stderr, " %s", eal_orig[i]);
		fprintf(stderr, ")\n");
		goto out_tables;
	}
	if (rc + 1 < eal.argc) {
		fprintf(stderr, "sluice-dp: EAL argument '%s' is not an option (%s: [dataplane] "
			"eal_args, or after '--')\n", eal.argv[rc + 1], cfg.path);
		status = EXIT_USAGE;
		goto out_eal;
	}
	nw = worker_lcores(lcores);
	if (instance[0] && nw > SL_MAX_WORKERS) {
		fprintf(stderr, "sluice-dp: %u worker lcores, but the maps of instance %s hold "
			"acks and counters for at most %u (give fewer lcores with -l)\n", nw,
			instance, SL_MAX_WORKERS);
		status = EXIT_USAGE;
		goto out_eal;
	}
	if (sl_ports_map(&ports, &cfg, err, sizeof(err)) != 0 ||
	    sl_ports_setup(&ports, &cfg, (uint16_t)nw, err, sizeof(err)) != 0) {
		fprintf(stderr, "sluice-dp: %s\n", err);
		goto out_ports;
	}
	w = workers_create(nw, lcores, src, instance[0] ? maps.stats : NULL);
	if (!w || !workers_ok(w, nw))
		goto out_workers;
	if (instance[0]) {
		if (dp_other_attached(instance))
			goto out_workers;
		dp_attach(nw);
	}
	if (shadow_start(w, nw, src) != 0)
		goto out_workers;
	tel = (struct sl_dp_tel){ &cfg, src, w, nw, lcores, instance };
	if (sl_dp_telemetry_init(&tel, err, sizeof(err)) != 0)
		fprintf(stderr, "sluice-dp: %s (telemetry commands off)\n", err);
	pdump_start();

	run.nworkers = nw;
	run.workers = w;
	/* --duration counts the wait for an instance's tables */
	duration_s = o.duration_s;
	if (duration_s > 0)
		duration_s = duration_s - waited_s > 1e-9 ? duration_s - waited_s : 1e-9;
	sl_dp_run_init(&run, duration_s, o.idle_ms);
	printf("sluice-dp: %u port%s, %u worker%s, forwarding\n", ports.nports,
	       ports.nports == 1 ? "" : "s", nw, nw == 1 ? "" : "s");
	fflush(stdout);
	if (workers_run(w, nw, lcores) != 0)
		goto out_workers;

	report_fill(&rep, w, nw, src);
	sl_dp_run_reason(&run, why, sizeof(why));
	rep.stop_reason = why;
	sl_dp_summary(&rep, stdout);
	fflush(stdout);
	status = EXIT_OK;
	if (o.stats && sl_dp_stats_write(&rep, o.stats, err, sizeof(err)) != 0) {
		fprintf(stderr, "sluice-dp: %s\n", err);
		status = EXIT_RUNTIME;
	}

out_workers:
	sl_dp_telemetry_fini();
	if (pdump_on)
		rte_pdump_uninit();
	dp_detach();
	if (shadow_ready)
		sl_dp_shadow_fini(&shadow);
	workers_free(w, nw);
out_ports:
	sl_ports_close(&ports);
out_eal:
	rte_eal_cleanup();
out_tables:
	sl_maps_close(&maps);
	sl_tables_free(ini_src);
	return status;
}
