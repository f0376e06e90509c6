/* pcap-filter syntax check with libpcap only (see filtercheck.h). */
#include <stdio.h>

#include <pcap/pcap.h>

#include "filtercheck.h"

int sl_filter_pcap_compile(const char *expr, struct bpf_program *prog, char *msg,
			   size_t len)
{
	pcap_t *p = pcap_open_dead(DLT_EN10MB, 65535);

	if (!p) {
		snprintf(msg, len, "libpcap cannot open a dead Ethernet handle");
		return -1;
	}
	if (pcap_compile(p, prog, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
		snprintf(msg, len, "%s", pcap_geterr(p));
		pcap_close(p);
		return -1;
	}
	pcap_close(p);
	return 0;
}

int sl_filter_check(const char *expr, char *msg, size_t len)
{
	struct bpf_program prog;

	if (sl_filter_pcap_compile(expr, &prog, msg, len))
		return -1;
	pcap_freecode(&prog);
	return 0;
}
