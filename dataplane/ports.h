/* DPDK ports of sluice-dp: the EAL argument vector (configuration tokens,
 * command line, hugepage fallback, one device per [port]), mapping each
 * configured port to its ethdev by device name, queues, RSS, mbuf pools. */
#ifndef SLUICE_PORTS_H
#define SLUICE_PORTS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define SL_EAL_MAX_ARGS 256
#define SL_DP_MAX_SOCKETS 32 /* RTE_MAX_NUMA_NODES of the Debian build */

struct rte_mempool;

/* EAL argument vector; argv[] points into buf or at the caller's strings. */
struct sl_eal_args {
	int argc;
	char *argv[SL_EAL_MAX_ARGS + 1];
	char buf[SL_EAL_ARGS_LEN + SL_MAX_PORTS * (SL_DEVARGS_LEN + 16) + 64];
	size_t used;
	int own_runtime_dir; /* a --file-prefix of this process: remove its runtime dir */
};

/* Where the hugepage check looks. */
struct sl_huge_probe {
	const char *meminfo; /* "/proc/meminfo" */
	const char *mounts;  /* "/proc/mounts" */
};

/* Build the EAL arguments: prog, the tokens of cfg->eal_args, extra[]
 * (command line after "--"), the hugepage fallback, the ports' devices.
 * A line saying why the fallback was added goes to note (empty if none).
 * Returns 0, or -1 with err naming what is wrong (bad quoting, too many
 * arguments, a PCI port with --no-pci). */
int sl_eal_args_build(struct sl_eal_args *a, const struct sl_config *cfg, const char *prog,
		      int nextra, char *const *extra, const struct sl_huge_probe *probe,
		      char *note, size_t notelen, char *err, size_t errlen);

/* The ports once EAL is up. */
struct sl_dp_ports {
	uint16_t nports;
	uint16_t nqueues;                 /* RX and TX queues per port = workers */
	uint16_t port_id[SL_MAX_PORTS];   /* ethdev port id per config port */
	uint16_t rx_desc[SL_MAX_PORTS];   /* after the device's clamping */
	uint16_t tx_desc[SL_MAX_PORTS];
	int socket[SL_MAX_PORTS];         /* NUMA socket whose pool feeds the port */
	uint8_t configured[SL_MAX_PORTS];
	uint8_t started[SL_MAX_PORTS];
	uint8_t shadow[SL_MAX_PORTS];     /* role shadow: copies go there */
	struct rte_mempool *pool[SL_DP_MAX_SOCKETS]; /* by NUMA socket */
	uint32_t pool_size[SL_DP_MAX_SOCKETS];
	/* Shadow copies, on the sockets of shadow ports: apart from the
	 * originals' pool, so that copies can never starve it. */
	struct rte_mempool *copy_pool[SL_DP_MAX_SOCKETS];  /* rte_pktmbuf_copy */
	struct rte_mempool *clone_pool[SL_DP_MAX_SOCKETS]; /* indirect mbufs */
	uint32_t copy_pool_size[SL_DP_MAX_SOCKETS];
};

/* Find the ethdev of every configured port by device name.  Returns 0, or -1
 * with err naming the [port NAME] and its devargs. */
int sl_ports_map(struct sl_dp_ports *p, const struct sl_config *cfg, char *err, size_t errlen);

/* Configure every port with nqueues RX and TX queues (symmetric RSS if more
 * than one), create the mbuf pools, set up queues, promiscuous mode, start.
 * Returns 0, or -1 with err naming the port and what failed. */
int sl_ports_setup(struct sl_dp_ports *p, const struct sl_config *cfg, uint16_t nqueues,
		   char *err, size_t errlen);

/* The data room of every packet mbuf: [dataplane] mbuf_size plus the
 * headroom.  sluice-replay sizes its pool with it too, so that a frame
 * takes the same segments in both.  Returns it, or 0 with err naming the
 * file when it does not fit a pool's uint16_t. */
uint32_t sl_ports_data_room(const struct sl_config *cfg, char *err, size_t errlen);

/* The copy and clone pools of port index i (NULL unless it has role
 * shadow). */
struct rte_mempool *sl_ports_copy_pool(const struct sl_dp_ports *p, unsigned i);
struct rte_mempool *sl_ports_clone_pool(const struct sl_dp_ports *p, unsigned i);

/* Stop and close every port that was set up; free the pools. */
void sl_ports_close(struct sl_dp_ports *p);

#endif
