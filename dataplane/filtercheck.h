/* Does a pcap-filter expression compile?  libpcap alone, no DPDK and no
 * libbpf (both define struct bpf_insn): the configuration loader and
 * sluiced check shadow filters with it, the dataplane compiles them again
 * for execution (filter.h). */
#ifndef SLUICE_FILTERCHECK_H
#define SLUICE_FILTERCHECK_H

#include <stddef.h>

struct bpf_program; /* libpcap's (<pcap/pcap.h>), not libbpf's */

/* Compile expr as libpcap does for an Ethernet capture (DLT_EN10MB, snaplen
 * 65535, optimized, netmask unknown) into *prog, which the caller frees
 * with pcap_freecode.  Returns 0, or -1 with libpcap's message in msg
 * ("can't parse filter expression: syntax error"). */
int sl_filter_pcap_compile(const char *expr, struct bpf_program *prog, char *msg,
			   size_t len);

/* sl_filter_pcap_compile without keeping the program. */
int sl_filter_check(const char *expr, char *msg, size_t len);

#endif
