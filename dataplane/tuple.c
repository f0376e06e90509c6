#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tuple.h"

int sl_endpoint_parse(const char *s, uint8_t *family, uint8_t addr[16], uint16_t *port,
		      char *err, size_t errlen)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *p;
	unsigned long v;
	char *end;
	size_t hl;

	memset(addr, 0, 16);
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':') {
			snprintf(err, errlen, "'%s': expected [IPV6]:PORT", s);
			return -1;
		}
		hl = (size_t)(close - s - 1);
		p = s + 1;
		colon = close + 1;
		*family = 6;
	} else {
		colon = strrchr(s, ':');
		if (!colon) {
			snprintf(err, errlen, "'%s': expected ADDRESS:PORT (a.b.c.d:port or "
				 "[ipv6]:port)", s);
			return -1;
		}
		hl = (size_t)(colon - s);
		p = s;
		*family = 4;
	}
	if (hl == 0 || hl >= sizeof(host)) {
		snprintf(err, errlen, "'%s': expected an address before ':PORT'", s);
		return -1;
	}
	memcpy(host, p, hl);
	host[hl] = '\0';
	if (inet_pton(*family == 4 ? AF_INET : AF_INET6, host, addr) != 1) {
		snprintf(err, errlen, "'%s': '%s' is not an IPv%u address%s", s, host, *family,
			 *family == 4 && strchr(host, ':') ? " (write IPv6 as [addr]:port)" : "");
		return -1;
	}
	errno = 0;
	v = strtoul(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || colon[1] == '-' || colon[1] == '+' || v == 0 ||
	    v > 65535) {
		snprintf(err, errlen, "'%s': port '%s' is not an integer from 1 to 65535", s,
			 colon + 1);
		return -1;
	}
	*port = (uint16_t)v;
	return 0;
}

void sl_addr_format(uint8_t family, const uint8_t addr[16], char *buf, size_t len)
{
	if (!inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

void sl_endpoint_format(uint8_t family, const uint8_t addr[16], uint16_t port, char *buf,
			size_t len)
{
	char host[INET6_ADDRSTRLEN];

	sl_addr_format(family, addr, host, sizeof(host));
	snprintf(buf, len, family == 4 ? "%s:%u" : "[%s]:%u", host, port);
}

int sl_tuple_parse(const char *proto, const char *src, const char *dst, struct sl_tuple *t,
		   char *err, size_t errlen)
{
	char why[160];
	uint8_t fd;

	memset(t, 0, sizeof(*t));
	if (strcmp(proto, "tcp") == 0) {
		t->proto = 6;
	} else if (strcmp(proto, "udp") == 0) {
		t->proto = 17;
	} else {
		snprintf(err, errlen, "proto '%s': expected tcp or udp", proto);
		return -1;
	}
	if (sl_endpoint_parse(src, &t->family, t->src, &t->sport, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "src %s", why);
		return -1;
	}
	if (sl_endpoint_parse(dst, &fd, t->dst, &t->dport, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "dst %s", why);
		return -1;
	}
	if (fd != t->family) {
		snprintf(err, errlen, "dst '%s': an IPv%u address, but src '%s' is IPv%u", dst, fd,
			 src, t->family);
		return -1;
	}
	return 0;
}

void sl_tuple_key(const struct sl_tuple *t, struct sl_key *k)
{
	struct sl_pkt p;

	memset(&p, 0, sizeof(p));
	p.family = t->family;
	p.proto = t->proto;
	p.sport = t->sport;
	p.dport = t->dport;
	p.frag = SL_FRAG_NONE;
	memcpy(p.src, t->src, 16);
	memcpy(p.dst, t->dst, 16);
	sl_key_make(k, &p);
}

void sl_tuple_from_key(const struct sl_key *k, struct sl_tuple *t,
		       int (*is_server)(void *ctx, uint8_t family, const uint8_t *addr,
					uint16_t port), void *ctx)
{
	int a_server = is_server(ctx, k->family, k->a, k->pa) &&
		       !is_server(ctx, k->family, k->b, k->pb);

	memset(t, 0, sizeof(*t));
	t->family = k->family;
	t->proto = k->proto;
	memcpy(t->src, a_server ? k->b : k->a, 16);
	memcpy(t->dst, a_server ? k->a : k->b, 16);
	t->sport = a_server ? k->pb : k->pa;
	t->dport = a_server ? k->pa : k->pb;
}

const char *sl_proto_name(uint8_t proto)
{
	return proto == 6 ? "tcp" : proto == 17 ? "udp" : "ip";
}
