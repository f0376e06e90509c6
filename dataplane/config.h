/* Configuration: INI files read with iniparser, validated completely before
 * anything uses them.  Every error names file, section, key and what was
 * expected, and a file with any error yields no configuration at all. */
#ifndef SLUICE_CONFIG_H
#define SLUICE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "../ebpf/sluice_layout.h"

#define SL_DEVARGS_LEN 512
#define SL_EAL_ARGS_LEN 1024
#define SL_ERR_LEN 512

/* What happens to traffic that matches no service (ARP, ND, other hosts). */
enum sl_other_action {
	SL_OTHER_FLOOD = 0, /* client side -> every backend port; backend -> client */
	SL_OTHER_DROP = 1,
};

/* What happens to malformed packets (after they are counted by reason). */
enum sl_malformed_action {
	SL_MALFORMED_DROP = 0,
	SL_MALFORMED_FORWARD = 1, /* treated as traffic that matches no service */
};

struct sl_cfg_port {
	char name[SL_NAME_LEN];
	uint8_t role; /* enum sl_port_role */
	char devargs[SL_DEVARGS_LEN];
};

struct sl_cfg_group {
	char name[SL_NAME_LEN];
	uint8_t port; /* index into ports[] */
	uint8_t mode; /* enum sl_group_mode */
	uint16_t nmembers;
	uint8_t macs[SL_MAX_MEMBERS][6];
};

struct sl_cfg_service {
	char name[SL_NAME_LEN];
	uint8_t proto;  /* 6 or 17 */
	uint8_t family; /* 4 or 6 */
	uint8_t vip[16];
	uint16_t nranges;
	struct sl_port_range ranges[SL_MAX_RANGES];
	uint8_t champion;   /* index into groups[] */
	uint8_t challenger; /* index into groups[] */
	uint16_t share_bp;
};

/* [shadow NAME]: copies of a sample of a service's flows, those packets
 * that pass the filter, sent to a port with role shadow. */
struct sl_cfg_shadow {
	char name[SL_NAME_LEN];
	uint8_t service;   /* index into services[] */
	uint8_t port;      /* index into ports[], role shadow */
	uint8_t has_mac;   /* 1: the copy's destination MAC becomes mac */
	uint8_t mac[6];
	uint16_t sample_bp; /* share of the service's flows */
	char filter[SL_FILTER_LEN]; /* pcap-filter expression, "" = every packet */
};

/* [slice NAME]: a named part of a service's flows (sl_slice_rec). */
struct sl_cfg_slice {
	char name[SL_NAME_LEN];
	uint8_t service;   /* index into services[] */
	uint8_t nprefixes; /* src = prefix, prefix, ... (client source addresses) */
	struct sl_prefix src[SL_SLICE_PREFIXES];
	char filter[SL_FILTER_LEN]; /* pcap-filter on the flow's first packet */
	uint8_t has_bit;   /* the table keeps bit for it (sl_state_layout: the bit it */
	uint8_t bit;       /* had, so live flows' slice masks stay right); else the lowest free */
};

/* What a guard watches.  Every signal is a per-flow bad/good count. */
enum sl_signal {
	SL_SIG_RST = 1,   /* "rst": flows reset by the backend / new flows */
	SL_SIG_HANDSHAKE, /* "handshake": failed handshakes / handshakes ended */
	SL_SIG_ICMP,      /* "icmp": flows with an ICMP unreachable / new flows */
	SL_SIG_TTFB,      /* "ttfb": TTFB above threshold / flows with a TTFB */
	SL_SIG_SYNACK,    /* "synack": SYN->SYN-ACK above threshold / handshakes ok */
	SL_SIG_PUSHED,    /* "pushed:NAME": counts from `sluicectl evidence push` */
};

enum sl_guard_fail { SL_GUARD_ABORT = 0, SL_GUARD_PAUSE = 1 };          /* on_fail */
enum sl_guard_inconclusive { SL_GUARD_INC_PAUSE = 0, SL_GUARD_INC_HOLD = 1 }; /* on_inconclusive */

#define SL_MAX_GUARDS 64

/* [guard NAME] (also a plan's [guard NAME]): compare the challenger with
 * the champion on one signal; see control/guard.h. */
struct sl_cfg_guard {
	char name[SL_NAME_LEN];
	char service[SL_NAME_LEN];
	char slice[SL_NAME_LEN];   /* "": the whole service */
	uint8_t signal;            /* enum sl_signal */
	char pushed[SL_NAME_LEN];  /* SL_SIG_PUSHED: the pushed signal's name */
	uint32_t threshold_us;     /* ttfb / synack: a flow is bad above it */
	uint32_t min_flows;        /* per group before a verdict (default 1000) */
	double margin;             /* challenger may be worse by this (fraction: 0.005 = 0.5 pp) */
	double alpha;              /* false-alarm rate, (0, 0.5), default 0.01 */
	uint8_t on_fail;           /* enum sl_guard_fail, default abort */
	uint8_t on_inconclusive;   /* enum sl_guard_inconclusive, default pause */
	uint8_t reset;             /* on_fail abort re-decides existing flows (--reset) */
	uint8_t named;             /* rollouts = named: only when a plan or --guard names it
				      (default all: every rollout of the service) */
};

struct sl_config {
	char path[512];

	/* [dataplane] */
	char eal_args[SL_EAL_ARGS_LEN];
	uint64_t hash_seed;
	uint64_t group_seed;  /* 0: derived from hash_seed */
	uint64_t member_seed; /* 0: derived from hash_seed */
	uint32_t flow_capacity;   /* IPv4 flows per worker lcore */
	uint32_t flow_capacity_v6; /* IPv6 flows per worker lcore; 0: a quarter of
				    * flow_capacity (at least 1024) */
	uint32_t maglev_size;     /* prime */
	uint32_t tcp_syn_timeout_ms, tcp_timeout_ms, tcp_fin_timeout_ms,
		tcp_closed_timeout_ms, udp_timeout_ms;
	uint8_t other;     /* enum sl_other_action */
	uint8_t malformed; /* enum sl_malformed_action */
	uint32_t mbufs;    /* mbuf pool size (0: computed) */
	uint32_t mbuf_size;/* mbuf data room */
	uint16_t rx_desc, tx_desc;
	uint32_t handshake_timeout_ms; /* SYN without SYN-ACK: failed (default 3 s) */

	/* [control]: how sluiced and an attached sluice-dp meet */
	char instance[SL_NAME_LEN]; /* "" : sluice-dp uses the INI tables alone */
	char bpffs[256];            /* bpffs mount point, default /sys/fs/bpf */
	char socket_path[256];      /* "" : /run/sluice/INSTANCE.sock */
	char journal_path[256];     /* "" : /var/lib/sluice/INSTANCE.journal */
	char bpf_object[256];       /* "" : found next to the binaries */
	uint32_t ack_timeout_ms;    /* default 1 s */
	char control_group[SL_NAME_LEN]; /* "" : root only; else a group (name or gid)
					    whose members may use the socket */
	uint32_t control_gid;       /* control_group resolved (when control_group[0]) */
	uint32_t idle_timeout_ms;   /* a connection without a complete request: closed
				       (default 30 s) */
	uint32_t max_connections;   /* control connections held at once (default 4096) */
	uint32_t max_connections_per_uid; /* per uid other than root (default 64) */
	uint32_t journal_rotate;    /* entries per journal file before a rotation
				       (0: never; default 10000) */
	uint32_t journal_keep;      /* rotated files kept: JOURNAL.1 .. (default 10) */
	char metrics[64];           /* "" : no metrics endpoint; else ADDRESS:PORT as
				       given (checked by sl_listen_addr_parse) */

	uint16_t nports, ngroups, nservices;
	struct sl_cfg_port ports[SL_MAX_PORTS];
	struct sl_cfg_group groups[SL_MAX_GROUPS];
	struct sl_cfg_service services[SL_MAX_SERVICES];
	uint16_t nshadows;
	struct sl_cfg_shadow shadows[SL_MAX_SHADOWS];
	uint16_t nslices;
	struct sl_cfg_slice slices[SL_MAX_SLICES];
	uint16_t nguards;
	struct sl_cfg_guard guards[SL_MAX_GUARDS];
};

/* Load and validate path into *cfg (zeroed first).  Returns 0, or -1 with a
 * message "FILE: [SECTION] KEY: what is wrong (expected ...)" in err. */
int sl_config_load(const char *path, struct sl_config *cfg, char *err, size_t errlen);

/* "5%", "0.5%", "0.05%", "50bp", "100%": challenger share in basis points.
 * Percent takes at most two decimals (0.01% = 1bp); the unit is required and
 * follows the number directly ("5" and "5 %" are errors), no sign, no blanks.
 * Returns 0, or -1 with what was wrong and what was expected in err. */
int sl_share_parse(const char *s, uint16_t *bp, char *err, size_t errlen);

/* "30s", "500ms", "2m", "1h" or a bare number of seconds, 1ms..7 days, into
 * milliseconds.  Returns 0, or -1 with what was wrong and expected in err. */
int sl_duration_parse(const char *s, uint32_t *ms, char *err, size_t errlen);

/* A TCP listening address "127.0.0.1:9469" or "[::1]:9469" (numeric
 * address, port 1..65535) into *ss (AF_INET or AF_INET6) and *len.
 * Returns 0, or -1 with what was wrong and expected in err. */
struct sockaddr_storage;
int sl_listen_addr_parse(const char *s, struct sockaddr_storage *ss, unsigned *len, char *err,
			 size_t errlen);

/* The name rule of instances, ports, groups, services and shadow rules (an
 * instance name is a path component): 1 when s follows it. */
#define SL_NAME_RULE "1..31 characters a-z, 0-9, _ or -"
int sl_name_valid(const char *s);

/* Index of the port / group / service called name, or -1. */
int sl_config_port(const struct sl_config *cfg, const char *name);
int sl_config_group(const struct sl_config *cfg, const char *name);
int sl_config_service(const struct sl_config *cfg, const char *name);

/* "02:00:00:00:0c:01" into mac: six pairs of hex digits joined by ':'.
 * Returns 0, or -1 when s is not a MAC address. */
int sl_mac_parse(const char *s, uint8_t mac[6]);

/* Checks of one shadow rule's values, shared by the configuration and
 * sluiced: a unicast MAC; a filter libpcap compiles (fits SL_FILTER_LEN).
 * Return 0, or -1 with what is wrong and what was expected in err. */
int sl_shadow_mac_check(const char *s, uint8_t mac[6], char *err, size_t errlen);
int sl_shadow_filter_check(const char *s, char *err, size_t errlen);

/* [guard NAME] sections, in a configuration or a plan file.  Keys (one
 * line each, every other key refused):
 *   service = NAME           required
 *   slice = NAME             optional, a [slice NAME] of that service
 *   signal = rst | handshake | icmp | ttfb | synack | pushed:NAME   required
 *   threshold = 200ms        ttfb and synack only, and required there: NNNus,
 *                            or a duration as sl_duration_parse reads it; 1us..1h
 *   min_flows = 1000         1..1000000000 (default 1000)
 *   margin = 0.5pp           percentage points: 0.5pp or 0.5%, or 0; 0 <= m < 100pp
 *                            (default 0), stored as a fraction (0.005)
 *   alpha = 0.01             a fraction or a percentage (1%), 0 < alpha < 0.5
 *                            (default 0.01)
 *   on_fail = abort | pause              (default abort)
 *   on_inconclusive = pause | hold       (default pause)
 *   reset = yes | no         (default no; yes only with on_fail = abort)
 *   rollouts = all | named   (default all)
 * The key names, NULL-terminated: */
extern const char *const sl_guard_keys[];

/* Value of key in the section being parsed, NULL when the section does not
 * set it ("" when it is set but empty). */
typedef const char *sl_guard_get_fn(void *ctx, const char *key);

/* Parse one [guard NAME] section, needing no configuration: syntax and ranges
 * only (service and slice names follow SL_NAME_RULE, nothing more).  g is
 * filled (defaults first) only on success.  where prefixes every message:
 * "demo.ini: [guard billing-errors]" gives "demo.ini: [guard billing-errors]
 * alpha: '0.7' is outside (0, 0.5) (expected ...)".  Returns 0 or -1 with err. */
int sl_guard_parse(struct sl_cfg_guard *g, const char *name, sl_guard_get_fn *get, void *ctx,
		   const char *where, char *err, size_t errlen);

/* A parsed guard against a configuration: its service is configured, its
 * slice (if any) is a [slice NAME] of that service.  Messages as
 * sl_guard_parse's ("WHERE service: no service named 'x' (services: ...)").
 * Returns 0 or -1 with err. */
int sl_guard_check(const struct sl_cfg_guard *g, const struct sl_config *cfg, const char *where,
		   char *err, size_t errlen);

/* One client source prefix of a slice ("198.51.100.0/24", "2001:db8::/32", a
 * bare address for a host) for a service of family 4 or 6 (service names it
 * in the messages): host bits set are refused with the canonical form.
 * Returns 0 or -1 with err ("'10.0.0.1/8' has host bits set (expected
 * 10.0.0.0/8)"). */
int sl_prefix_parse(const char *text, unsigned family, const char *service, struct sl_prefix *p,
		    char *err, size_t errlen);

/* Index of the slice called name, or -1. */
int sl_config_slice(const struct sl_config *cfg, const char *name);

/* IPv6 flows per worker: flow_capacity_v6, or a quarter of flow_capacity
 * (at least 1024) when it is 0. */
static inline uint32_t sl_cfg_capacity_v6(const struct sl_config *c)
{
	uint32_t q = c->flow_capacity / 4;

	if (c->flow_capacity_v6)
		return c->flow_capacity_v6;
	return q < 1024 ? 1024 : q;
}

#endif
