/* A configuration built in memory (no INI file) for core tests:
 * ports client(0) blue(1) green(2) shadow(3); groups blue (port mode, port
 * blue) and green (mac mode, 3 members, port green); services web (TCP
 * 192.0.2.10:443), dns (UDP 192.0.2.53:53, 5353), web6 (TCP 2001:db8::10:443). */
#ifndef SLUICE_TEST_TESTCFG_H
#define SLUICE_TEST_TESTCFG_H

#include <stdlib.h>
#include <string.h>

#include "config.h"

static const uint8_t tc_vip_web[16] = { 192, 0, 2, 10 };
static const uint8_t tc_vip_dns[16] = { 192, 0, 2, 53 };
static const uint8_t tc_vip_web6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x10 };
static const uint8_t tc_green_macs[3][6] = {
	{ 2, 0, 0, 0, 0xc, 1 }, { 2, 0, 0, 0, 0xc, 2 }, { 2, 0, 0, 0, 0xc, 3 } };

enum { TC_CLIENT = 0, TC_BLUE = 1, TC_GREEN = 2, TC_SHADOW = 3 };
enum { TC_G_BLUE = 0, TC_G_GREEN = 1 };
enum { TC_S_WEB = 0, TC_S_DNS = 1, TC_S_WEB6 = 2 };

static inline void tc_service(struct sl_cfg_service *s, const char *name, uint8_t proto,
			      int family, const uint8_t *vip, uint16_t lo, uint16_t hi,
			      uint16_t share_bp)
{
	memset(s, 0, sizeof(*s));
	strcpy(s->name, name);
	s->proto = proto;
	s->family = (uint8_t)family;
	memcpy(s->vip, vip, 16);
	s->nranges = 1;
	s->ranges[0].lo = lo;
	s->ranges[0].hi = hi;
	s->champion = TC_G_BLUE;
	s->challenger = TC_G_GREEN;
	s->share_bp = share_bp;
}

/* Caller frees with free(). */
static inline struct sl_config *tc_config(uint16_t share_bp)
{
	struct sl_config *c = calloc(1, sizeof(*c));
	static const char *pn[] = { "client", "blue", "green", "shadow" };
	static const uint8_t role[] = { SL_ROLE_CLIENT, SL_ROLE_BACKEND, SL_ROLE_BACKEND,
					SL_ROLE_SHADOW };

	strcpy(c->path, "test.ini");
	c->hash_seed = 0x5eed;
	c->flow_capacity = 1 << 18;
	c->maglev_size = 65537;
	c->tcp_syn_timeout_ms = 30000;
	c->tcp_timeout_ms = 900000;
	c->tcp_fin_timeout_ms = 120000;
	c->tcp_closed_timeout_ms = 10000;
	c->udp_timeout_ms = 300000;
	c->other = SL_OTHER_FLOOD;
	c->malformed = SL_MALFORMED_DROP;
	c->nports = 4;
	for (int i = 0; i < 4; i++) {
		strcpy(c->ports[i].name, pn[i]);
		c->ports[i].role = role[i];
		strcpy(c->ports[i].devargs, "net_null0");
	}
	c->ngroups = 2;
	strcpy(c->groups[0].name, "blue");
	c->groups[0].port = TC_BLUE;
	c->groups[0].mode = SL_MODE_PORT;
	strcpy(c->groups[1].name, "green");
	c->groups[1].port = TC_GREEN;
	c->groups[1].mode = SL_MODE_MAC;
	c->groups[1].nmembers = 3;
	memcpy(c->groups[1].macs, tc_green_macs, sizeof(tc_green_macs));
	c->nservices = 3;
	tc_service(&c->services[0], "web", 6, 4, tc_vip_web, 443, 443, share_bp);
	tc_service(&c->services[1], "dns", 17, 4, tc_vip_dns, 53, 53, share_bp);
	c->services[1].nranges = 2;
	c->services[1].ranges[1].lo = 5353;
	c->services[1].ranges[1].hi = 5353;
	tc_service(&c->services[2], "web6", 6, 6, tc_vip_web6, 443, 443, share_bp);
	return c;
}

#endif
