/* DPDK ports of sluice-dp: EAL arguments, ethdev mapping, queues, pools. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "decide.h"
#include "errmsg.h"
#include "ports.h"
#include "worker.h"

_Static_assert(RTE_MAX_NUMA_NODES <= SL_DP_MAX_SOCKETS, "one pool slot per NUMA node");

#define SL_POOL_CACHE 256
#define SL_POOL_SLACK 2048
#define SL_SHADOW_POOL_SLACK 512

static int hexrun(const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

/* 1 if devargs names a PCI device ("0000:3b:00.0" or "3b:00.0", options
 * after a comma allowed), else 0. */
static int devargs_is_pci(const char *d)
{
	size_t n = strcspn(d, ",");
	const char *bdf = d;

	/* [DOMAIN:]BB:DD.F, DOMAIN 1 to 8 hex digits */
	if (n > 7) {
		size_t dl = n - 8;

		if (dl < 1 || dl > 8 || !hexrun(d, (int)dl) || d[dl] != ':')
			return 0;
		bdf = d + dl + 1;
	} else if (n != 7) {
		return 0;
	}
	return hexrun(bdf, 2) && bdf[2] == ':' && hexrun(bdf + 3, 2) && bdf[5] == '.' &&
	       bdf[6] >= '0' && bdf[6] <= '7';
}

/* The ethdev name of a device: devargs up to the first comma, PCI
 * addresses with their domain ("3b:00.0" -> "0000:3b:00.0"). */
static void devargs_name(const char *devargs, char *name, size_t len)
{
	size_t n = strcspn(devargs, ",");

	/* DPDK names PCI devices with a domain of at least 4 hex digits */
	if (devargs_is_pci(devargs)) {
		unsigned long dom = n > 7 ? strtoul(devargs, NULL, 16) : 0;
		char bdf[8];

		for (int i = 0; i < 7; i++)
			bdf[i] = (char)tolower((unsigned char)devargs[n - 7 + i]);
		bdf[7] = '\0';
		snprintf(name, len, "%04lx:%s", dom, bdf);
	} else {
		snprintf(name, len, "%.*s", (int)n, devargs);
	}
}

static char *args_store(struct sl_eal_args *a, const char *s, size_t n)
{
	char *p;

	if (a->used + n + 1 > sizeof(a->buf))
		return NULL;
	p = a->buf + a->used;
	memcpy(p, s, n);
	p[n] = '\0';
	a->used += n + 1;
	return p;
}

static int args_push(struct sl_eal_args *a, char *s, char *err, size_t errlen)
{
	if (!s || a->argc >= SL_EAL_MAX_ARGS) {
		sl_seterr(err, errlen, "too many EAL arguments (at most %d, %zu bytes)",
		       SL_EAL_MAX_ARGS, sizeof(a->buf));
		return -1;
	}
	a->argv[a->argc++] = s;
	a->argv[a->argc] = NULL;
	return 0;
}

static int args_push_copy(struct sl_eal_args *a, const char *s, char *err, size_t errlen)
{
	return args_push(a, args_store(a, s, strlen(s)), err, errlen);
}

/* Whitespace separated tokens; '...' and "..." group (no escapes). */
static int split_tokens(struct sl_eal_args *a, const char *s, const char *where, char *err,
			size_t errlen)
{
	char tok[SL_EAL_ARGS_LEN];

	while (*s) {
		size_t n = 0;

		while (isspace((unsigned char)*s))
			s++;
		if (!*s)
			break;
		while (*s && !isspace((unsigned char)*s)) {
			if (*s == '\'' || *s == '"') {
				char q = *s++;
				const char *end = strchr(s, q);

				if (!end) {
					sl_seterr(err, errlen, "%s: unterminated %c quote", where, q);
					return -1;
				}
				if (n + (size_t)(end - s) >= sizeof(tok))
					goto toolong;
				memcpy(tok + n, s, (size_t)(end - s));
				n += (size_t)(end - s);
				s = end + 1;
			} else {
				if (n + 1 >= sizeof(tok))
					goto toolong;
				tok[n++] = *s++;
			}
		}
		if (args_push(a, args_store(a, tok, n), err, errlen) < 0)
			return -1;
	}
	return 0;
toolong:
	sl_seterr(err, errlen, "%s: argument longer than %zu bytes", where, sizeof(tok) - 1);
	return -1;
}

/* EAL options that may be given once; one given after "--" replaces the
 * same option (or one of its family) from eal_args. */
static const struct {
	const char *name;
	int family;
} single_opts[] = {
	{ "-l", 1 }, { "-c", 1 }, { "--lcores", 1 },
	{ "-m", 2 }, { "--socket-mem", 2 },
	{ "--file-prefix", 3 }, { "--main-lcore", 4 }, { "--iova-mode", 5 }, { "-n", 6 },
};

/* Family of the option that tok starts, 0 if none; *sep: its value is the
 * next token. */
static int opt_family(const char *tok, int *sep)
{
	for (size_t i = 0; i < sizeof(single_opts) / sizeof(single_opts[0]); i++) {
		const char *n = single_opts[i].name;
		size_t len = strlen(n);

		if (strncmp(tok, n, len) != 0)
			continue;
		if (tok[len] == '\0') {
			*sep = 1;
			return single_opts[i].family;
		}
		/* "-l0-1" and "--lcores=0-1", not "--lcores-foo" or "-log" */
		if ((n[1] != '-' && len == 2 && tok[1] != '-') || tok[len] == '=') {
			*sep = 0;
			return single_opts[i].family;
		}
	}
	return 0;
}

/* Drop the options of family fam (and their values) from argv[1..argc). */
static void drop_family(struct sl_eal_args *a, int fam)
{
	int i = 1, j = 1;

	while (i < a->argc) {
		int sep, f = opt_family(a->argv[i], &sep);

		if (f == fam) {
			i += sep ? 2 : 1;
			continue;
		}
		a->argv[j++] = a->argv[i++];
	}
	a->argc = j;
	a->argv[j] = NULL;
}

static void drop_arg(struct sl_eal_args *a, const char *name)
{
	int j = 1;

	for (int i = 1; i < a->argc; i++)
		if (strcmp(a->argv[i], name) != 0)
			a->argv[j++] = a->argv[i];
	a->argc = j;
	a->argv[j] = NULL;
}

static int has_arg(const struct sl_eal_args *a, int from, const char *name, int prefix)
{
	size_t n = strlen(name);

	for (int i = from; i < a->argc; i++) {
		if (prefix ? strncmp(a->argv[i], name, n) == 0 : strcmp(a->argv[i], name) == 0)
			return 1;
	}
	return 0;
}

/* HugePages_Free of meminfo, or -1 if unreadable. */
static long huge_free(const char *path)
{
	char line[256];
	long v = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "HugePages_Free: %ld", &v) == 1)
			break;
	fclose(f);
	return v;
}

static int hugetlbfs_mounted(const char *path)
{
	char dev[256], dir[512], type[64];
	int found = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return 0;
	while (fscanf(f, "%255s %511s %63s %*[^\n]", dev, dir, type) == 3)
		if (strcmp(type, "hugetlbfs") == 0) {
			found = 1;
			break;
		}
	fclose(f);
	return found;
}

int sl_eal_args_build(struct sl_eal_args *a, const struct sl_config *cfg, const char *prog,
		      int nextra, char *const *extra, const struct sl_huge_probe *probe,
		      char *note, size_t notelen, char *err, size_t errlen)
{
	char where[600];

	memset(a, 0, offsetof(struct sl_eal_args, buf));
	a->used = 0;
	if (note && notelen)
		note[0] = '\0';
	if (args_push_copy(a, prog, err, errlen) < 0)
		return -1;
	snprintf(where, sizeof(where), "%s: [dataplane] eal_args", cfg->path);
	if (split_tokens(a, cfg->eal_args, where, err, errlen) < 0)
		return -1;
	for (int i = 0; i < nextra; i++) {
		int sep, fam = opt_family(extra[i], &sep);

		if (fam)
			drop_family(a, fam);
		if (fam && sep)
			i++; /* the value, which could look like an option */
	}
	for (int i = 0; i < nextra; i++)
		if (args_push(a, extra[i], err, errlen) < 0)
			return -1;

	if (!has_arg(a, 1, "--no-huge", 0)) {
		long nfree = huge_free(probe->meminfo);
		int mounted = hugetlbfs_mounted(probe->mounts);

		if (nfree <= 0 || !mounted) {
			int mem = has_arg(a, 1, "-m", 1) || has_arg(a, 1, "--socket-mem", 1);

			int inmem = has_arg(a, 1, "--in-memory", 0);

			if (args_push_copy(a, "--no-huge", err, errlen) < 0)
				return -1;
			if (!mem && (args_push_copy(a, "-m", err, errlen) < 0 ||
				     args_push_copy(a, "512", err, errlen) < 0))
				return -1;
			/* --no-huge is legacy memory, which EAL refuses with
			 * --in-memory: no shared files and a prefix of our own
			 * keep concurrent processes apart the same way. */
			if (inmem) {
				char pfx[64];

				drop_arg(a, "--in-memory");
				if (!has_arg(a, 1, "--no-shconf", 0) &&
				    args_push_copy(a, "--no-shconf", err, errlen) < 0)
					return -1;
				if (!has_arg(a, 1, "--file-prefix", 1)) {
					snprintf(pfx, sizeof(pfx), "--file-prefix=sluice-dp-%ld",
						 (long)getpid());
					if (args_push_copy(a, pfx, err, errlen) < 0)
						return -1;
					a->own_runtime_dir = 1;
				}
			}
			if (note && notelen)
				snprintf(note, notelen, "no hugepages (%s): adding --no-huge%s%s "
					 "to the EAL arguments",
					 nfree < 0 ? "HugePages_Free not readable" :
					 nfree == 0 ? "HugePages_Free is 0" :
					 "no hugetlbfs mounted", mem ? "" : " -m 512",
					 inmem ? " (and --no-shconf for --in-memory)" : "");
		}
	}

	for (unsigned i = 0; i < cfg->nports; i++) {
		const struct sl_cfg_port *p = &cfg->ports[i];
		char dev[SL_DEVARGS_LEN + 16];

		if (devargs_is_pci(p->devargs)) {
			if (has_arg(a, 1, "--no-pci", 0)) {
				sl_seterr(err, errlen,
				       "%s: [port %s] devargs %s is a PCI device but the EAL "
				       "arguments say --no-pci", cfg->path, p->name, p->devargs);
				return -1;
			}
			if (args_push_copy(a, "-a", err, errlen) < 0 ||
			    args_push_copy(a, p->devargs, err, errlen) < 0)
				return -1;
		} else {
			snprintf(dev, sizeof(dev), "--vdev=%s", p->devargs);
			if (args_push_copy(a, dev, err, errlen) < 0)
				return -1;
		}
	}
	return 0;
}

int sl_ports_map(struct sl_dp_ports *p, const struct sl_config *cfg, char *err, size_t errlen)
{
	memset(p, 0, sizeof(*p));
	p->nports = cfg->nports;
	for (unsigned i = 0; i < cfg->nports; i++) {
		const struct sl_cfg_port *cp = &cfg->ports[i];
		char name[RTE_ETH_NAME_MAX_LEN];

		devargs_name(cp->devargs, name, sizeof(name));
		if (rte_eth_dev_get_port_by_name(name, &p->port_id[i]) != 0) {
			sl_seterr(err, errlen,
			       "%s: [port %s] devargs %s: no ethdev named '%s' after EAL "
			       "initialisation (device not probed?)",
			       cfg->path, cp->name, cp->devargs, name);
			return -1;
		}
		for (unsigned j = 0; j < i; j++)
			if (p->port_id[j] == p->port_id[i]) {
				sl_seterr(err, errlen,
				       "%s: [port %s] and [port %s] are the same device '%s'",
				       cfg->path, cfg->ports[j].name, cp->name, name);
				return -1;
			}
	}
	return 0;
}

/* Symmetric Toeplitz: both directions of a flow hash alike. */
static void rss_key_fill(uint8_t *key, unsigned len)
{
	for (unsigned i = 0; i < len; i++)
		key[i] = (i & 1) ? 0x5a : 0x6d;
}

static int port_configure(struct sl_dp_ports *p, const struct sl_config *cfg, unsigned i,
			  uint8_t *key, char *err, size_t errlen)
{
	const struct sl_cfg_port *cp = &cfg->ports[i];
	uint16_t pid = p->port_id[i];
	uint16_t nq = p->nqueues;
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	int rc, sock;

	rc = rte_eth_dev_info_get(pid, &info);
	if (rc != 0) {
		sl_seterr(err, errlen, "[port %s] (%s): cannot get device info: %s", cp->name,
		       cp->devargs, rte_strerror(-rc));
		return -1;
	}
	if (info.max_rx_queues < nq || info.max_tx_queues < nq) {
		sl_seterr(err, errlen,
		       "[port %s] (%s): %u worker lcores need %u RX and TX queues, the device "
		       "has at most %u RX and %u TX queues (use fewer lcores)", cp->name,
		       cp->devargs, nq, nq, info.max_rx_queues, info.max_tx_queues);
		return -1;
	}
	memset(&conf, 0, sizeof(conf));
	if (nq > 1) {
		uint64_t hf = (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) &
			      info.flow_type_rss_offloads;
		unsigned klen = info.hash_key_size ? info.hash_key_size : 40;

		if (hf == 0) {
			sl_seterr(err, errlen,
			       "[port %s] (%s): %u worker lcores need RSS on IP/TCP/UDP, the "
			       "device offers none (use one worker lcore)", cp->name,
			       cp->devargs, nq);
			return -1;
		}
		rss_key_fill(key, klen);
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_key = key;
		conf.rx_adv_conf.rss_conf.rss_key_len = (uint8_t)klen;
		conf.rx_adv_conf.rss_conf.rss_hf = hf;
	}
	rc = rte_eth_dev_configure(pid, nq, nq, &conf);
	if (rc != 0) {
		sl_seterr(err, errlen, "[port %s] (%s): configure with %u queues failed: %s",
		       cp->name, cp->devargs, nq, rte_strerror(-rc));
		return -1;
	}
	p->configured[i] = 1;
	p->rx_desc[i] = cfg->rx_desc;
	p->tx_desc[i] = cfg->tx_desc;
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(pid, &p->rx_desc[i], &p->tx_desc[i]);
	if (rc != 0) {
		sl_seterr(err, errlen, "[port %s] (%s): descriptor counts %u/%u rejected: %s",
		       cp->name, cp->devargs, cfg->rx_desc, cfg->tx_desc, rte_strerror(-rc));
		return -1;
	}
	sock = rte_eth_dev_socket_id(pid);
	if (sock < 0)
		sock = (int)rte_socket_id();
	if (sock < 0 || sock >= SL_DP_MAX_SOCKETS)
		sock = 0;
	p->socket[i] = sock;
	return 0;
}

/* Copies in flight to a shadow port: its TX rings and the workers' shadow
 * buffers, per queue.  Past that they are dropped and counted, so the
 * pools never need more. */
static int shadow_pools_create(struct sl_dp_ports *p, const struct sl_config *cfg,
			       uint32_t room, char *err, size_t errlen)
{
	uint64_t need[SL_DP_MAX_SOCKETS] = { 0 };

	for (unsigned i = 0; i < p->nports; i++) {
		p->shadow[i] = cfg->ports[i].role == SL_ROLE_SHADOW;
		if (p->shadow[i])
			need[p->socket[i]] += (uint64_t)p->nqueues * (p->tx_desc[i] + SL_TXBUF_CAP +
								      SL_BURST);
	}
	for (int s = 0; s < SL_DP_MAX_SOCKETS; s++) {
		char name[RTE_MEMPOOL_NAMESIZE];
		uint64_t n = need[s];

		if (!n)
			continue;
		n += (uint64_t)SL_POOL_CACHE * rte_lcore_count() + SL_SHADOW_POOL_SLACK;
		if (n > UINT32_MAX)
			n = UINT32_MAX;
		snprintf(name, sizeof(name), "sl_copy_s%d", s);
		p->copy_pool[s] = rte_pktmbuf_pool_create(name, (unsigned)n, SL_POOL_CACHE, 0,
							  (uint16_t)room, s);
		snprintf(name, sizeof(name), "sl_clone_s%d", s);
		if (p->copy_pool[s])
			p->clone_pool[s] = rte_pktmbuf_pool_create(name, (unsigned)n, SL_POOL_CACHE,
								   0, 0, s);
		if (!p->copy_pool[s] || !p->clone_pool[s]) {
			sl_seterr(err, errlen,
			       "shadow copy pools on socket %d (%" PRIu64 " mbufs of %u bytes) "
			       "cannot be created: %s (less [dataplane] tx_desc or mbuf_size, or "
			       "more memory: EAL -m or hugepages)", s, n, room,
			       rte_strerror(rte_errno));
			return -1;
		}
		p->copy_pool_size[s] = (uint32_t)n;
	}
	return 0;
}

uint32_t sl_ports_data_room(const struct sl_config *cfg, char *err, size_t errlen)
{
	uint32_t room = cfg->mbuf_size + RTE_PKTMBUF_HEADROOM;

	if (room > UINT16_MAX) {
		sl_seterr(err, errlen, "%s: [dataplane] mbuf_size %u: data room %u exceeds %u",
		       cfg->path, cfg->mbuf_size, room, UINT16_MAX);
		return 0;
	}
	return room;
}

static int pools_create(struct sl_dp_ports *p, const struct sl_config *cfg, char *err,
			size_t errlen)
{
	uint64_t need[SL_DP_MAX_SOCKETS] = { 0 };
	uint32_t room = sl_ports_data_room(cfg, err, errlen);

	if (!room)
		return -1;
	/* Everything one port can hold: both rings, the TX buffer and a burst
	 * in flight, per queue; every pool is sized for all ports because
	 * mbufs cross to other ports' TX queues. */
	for (unsigned i = 0; i < p->nports; i++)
		need[p->socket[i]] = 1;
	for (int s = 0; s < SL_DP_MAX_SOCKETS; s++) {
		uint64_t n = 0;
		char name[RTE_MEMPOOL_NAMESIZE];

		if (!need[s])
			continue;
		if (cfg->mbufs) {
			n = cfg->mbufs;
		} else {
			for (unsigned i = 0; i < p->nports; i++)
				n += (uint64_t)p->nqueues * (p->rx_desc[i] + p->tx_desc[i] +
							     SL_TXBUF_CAP + SL_BURST);
			n += (uint64_t)SL_POOL_CACHE * rte_lcore_count() + SL_POOL_SLACK;
		}
		if (n > UINT32_MAX)
			n = UINT32_MAX;
		snprintf(name, sizeof(name), "sl_mbuf_s%d", s);
		p->pool[s] = rte_pktmbuf_pool_create(name, (unsigned)n,
						     n >= 4 * SL_POOL_CACHE ? SL_POOL_CACHE : 0,
						     0, (uint16_t)room, s);
		if (!p->pool[s]) {
			sl_seterr(err, errlen,
			       "mbuf pool on socket %d (%" PRIu64 " mbufs of %u bytes) cannot be "
			       "created: %s (less [dataplane] mbufs/mbuf_size, or more memory: "
			       "EAL -m or hugepages)", s, n, room, rte_strerror(rte_errno));
			return -1;
		}
		p->pool_size[s] = (uint32_t)n;
	}
	return shadow_pools_create(p, cfg, room, err, errlen);
}

struct rte_mempool *sl_ports_copy_pool(const struct sl_dp_ports *p, unsigned i)
{
	return p->shadow[i] ? p->copy_pool[p->socket[i]] : NULL;
}

struct rte_mempool *sl_ports_clone_pool(const struct sl_dp_ports *p, unsigned i)
{
	return p->shadow[i] ? p->clone_pool[p->socket[i]] : NULL;
}

static int port_start(struct sl_dp_ports *p, const struct sl_config *cfg, unsigned i,
		      char *err, size_t errlen)
{
	const struct sl_cfg_port *cp = &cfg->ports[i];
	uint16_t pid = p->port_id[i];
	int rc;

	for (uint16_t q = 0; q < p->nqueues; q++) {
		rc = rte_eth_rx_queue_setup(pid, q, p->rx_desc[i], (unsigned)p->socket[i], NULL,
					    p->pool[p->socket[i]]);
		if (rc != 0) {
			sl_seterr(err, errlen,
			       "[port %s] (%s): RX queue %u setup (%u descriptors, pool of %u "
			       "mbufs) failed: %s%s", cp->name, cp->devargs, q, p->rx_desc[i],
			       p->pool_size[p->socket[i]], rte_strerror(-rc),
			       rc == -ENOMEM ? " (raise [dataplane] mbufs: an infinite_rx "
			       "pcap holds all its packets in the pool)" : "");
			return -1;
		}
		rc = rte_eth_tx_queue_setup(pid, q, p->tx_desc[i], (unsigned)p->socket[i], NULL);
		if (rc != 0) {
			sl_seterr(err, errlen, "[port %s] (%s): TX queue %u setup (%u descriptors) "
			       "failed: %s", cp->name, cp->devargs, q, p->tx_desc[i],
			       rte_strerror(-rc));
			return -1;
		}
	}
	rc = rte_eth_promiscuous_enable(pid);
	if (rc != 0 && rc != -ENOTSUP) {
		sl_seterr(err, errlen, "[port %s] (%s): promiscuous mode: %s", cp->name,
		       cp->devargs, rte_strerror(-rc));
		return -1;
	}
	rc = rte_eth_dev_start(pid);
	if (rc != 0) {
		sl_seterr(err, errlen, "[port %s] (%s): start failed: %s%s", cp->name, cp->devargs,
		       rte_strerror(-rc), rc == -ENOMEM ? " (raise [dataplane] mbufs: an "
		       "infinite_rx pcap holds all its packets in the pool)" : "");
		return -1;
	}
	p->started[i] = 1;
	return 0;
}

int sl_ports_setup(struct sl_dp_ports *p, const struct sl_config *cfg, uint16_t nqueues,
		   char *err, size_t errlen)
{
	uint8_t key[256];

	p->nqueues = nqueues;
	for (unsigned i = 0; i < p->nports; i++)
		if (port_configure(p, cfg, i, key, err, errlen) < 0)
			return -1;
	if (pools_create(p, cfg, err, errlen) < 0)
		return -1;
	for (unsigned i = 0; i < p->nports; i++)
		if (port_start(p, cfg, i, err, errlen) < 0)
			return -1;
	return 0;
}

void sl_ports_close(struct sl_dp_ports *p)
{
	for (unsigned i = 0; i < p->nports; i++) {
		if (p->started[i]) {
			int rc = rte_eth_dev_stop(p->port_id[i]);

			if (rc != 0)
				fprintf(stderr, "sluice-dp: port %u: stop failed: %s\n",
					p->port_id[i], rte_strerror(-rc));
			p->started[i] = 0;
		}
		if (p->configured[i]) {
			rte_eth_dev_close(p->port_id[i]);
			p->configured[i] = 0;
		}
	}
	for (int s = 0; s < SL_DP_MAX_SOCKETS; s++) {
		rte_mempool_free(p->pool[s]);
		rte_mempool_free(p->copy_pool[s]);
		rte_mempool_free(p->clone_pool[s]);
		p->pool[s] = p->copy_pool[s] = p->clone_pool[s] = NULL;
	}
}
