/* A connection's 5-tuple as people write it ("tcp 10.0.0.1:1234
 * 192.0.2.10:443", IPv6 as [addr]:port): parsed and printed by one piece
 * of code for sluicectl and sluice-dp's telemetry, keyed by the packet
 * path's own key builder. */
#ifndef SLUICE_TUPLE_H
#define SLUICE_TUPLE_H

#include <stddef.h>
#include <stdint.h>

#include "hash.h"

/* Client -> server, as the client sent it. */
struct sl_tuple {
	uint8_t family;   /* 4 or 6 */
	uint8_t proto;    /* 6 (tcp) or 17 (udp) */
	uint16_t sport, dport;
	uint8_t src[16];  /* IPv4 in the first 4 bytes, rest zero */
	uint8_t dst[16];
};

/* "IPV4:PORT" or "[IPV6]:PORT" (port 1..65535) into addr/port; *family 4
 * or 6.  Returns 0, or -1 with what is wrong in err. */
int sl_endpoint_parse(const char *s, uint8_t *family, uint8_t addr[16], uint16_t *port,
		      char *err, size_t errlen);

/* The address alone ("10.0.0.1", "2001:db8::1"). */
void sl_addr_format(uint8_t family, const uint8_t addr[16], char *buf, size_t len);

/* Writes "10.0.0.1:1234" or "[2001:db8::1]:80" (at most SL_ENDPOINT_LEN). */
#define SL_ENDPOINT_LEN 56
void sl_endpoint_format(uint8_t family, const uint8_t addr[16], uint16_t port, char *buf,
			size_t len);

/* proto ("tcp" | "udp"), src and dst endpoints of the same family.
 * Returns 0, or -1 with an error naming the field (proto, src, dst). */
int sl_tuple_parse(const char *proto, const char *src, const char *dst, struct sl_tuple *t,
		   char *err, size_t errlen);

/* The canonical flow key of the tuple (what sl_decide_burst builds for
 * its packets). */
void sl_tuple_key(const struct sl_tuple *t, struct sl_key *k);

/* The tuple back from a stored key, the server side being the endpoint
 * for which is_server(ctx, family, addr, port) says 1 (endpoint b if
 * neither does). */
void sl_tuple_from_key(const struct sl_key *k, struct sl_tuple *t,
		       int (*is_server)(void *ctx, uint8_t family, const uint8_t *addr,
					uint16_t port), void *ctx);

const char *sl_proto_name(uint8_t proto);

#endif
