/* Table building and service lookup. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tables.h"
#include "testcfg.h"
#include "unit.h"

static void test_build_basics(void)
{
	struct sl_config *c = tc_config(500);
	char err[256] = "";
	struct sl_table_src *src = sl_tables_from_config(c, err, sizeof(err));
	const struct sl_view *v;
	unsigned owned[3] = { 0 };

	CU_ASSERT_PTR_NOT_NULL_FATAL(src);
	v = sl_src_view(src);
	CU_ASSERT_EQUAL(v->hdr->layout_version, SL_LAYOUT_VERSION);
	CU_ASSERT_EQUAL(v->hdr->gen, 1);
	CU_ASSERT_EQUAL(v->hdr->nservices, 3);
	CU_ASSERT_EQUAL(v->hdr->ngroups, 2);
	CU_ASSERT_EQUAL(v->hdr->services[TC_S_WEB].share_bp, 500);
	CU_ASSERT_STRING_EQUAL(v->hdr->services[TC_S_DNS].name, "dns");
	CU_ASSERT_EQUAL(v->groups[TC_G_GREEN].port, TC_GREEN);
	CU_ASSERT_EQUAL(v->groups[TC_G_GREEN].nmembers, 3);
	CU_ASSERT_EQUAL(v->groups[TC_G_GREEN].maglev_size, 65537);
	CU_ASSERT_EQUAL(memcmp(v->groups[TC_G_GREEN].macs[2], tc_green_macs[2], 6), 0);
	for (uint32_t i = 0; i < 65537; i++) {
		uint16_t m = v->groups[TC_G_GREEN].maglev[i];

		CU_ASSERT_FATAL(m < 3);
		owned[m]++;
	}
	CU_ASSERT(owned[0] > 21000 && owned[1] > 21000 && owned[2] > 21000);
	CU_ASSERT_EQUAL(v->groups[TC_G_BLUE].mode, SL_MODE_PORT);
	/* same configuration, same bytes: the fleet decides alike (§9) */
	{
		struct sl_table_src *again = sl_tables_from_config(c, err, sizeof(err));

		CU_ASSERT_PTR_NOT_NULL_FATAL(again);
		CU_ASSERT_EQUAL(memcmp(sl_src_view(again)->hdr, v->hdr,
				       sizeof(struct sl_table_hdr)), 0);
		CU_ASSERT_EQUAL(memcmp(sl_src_view(again)->groups[1].maglev,
				       v->groups[1].maglev, 65537 * 2), 0);
		sl_tables_free(again);
	}
	sl_tables_free(src);
	free(c);
}

static void test_find_service(void)
{
	struct sl_config *c = tc_config(0);
	char err[256];
	struct sl_table_src *src = sl_tables_from_config(c, err, sizeof(err));
	const struct sl_table_hdr *h = sl_src_view(src)->hdr;
	uint8_t other[16] = { 192, 0, 2, 11 };

	CU_ASSERT_EQUAL(sl_find_service(h, 4, 6, tc_vip_web, 443, 0), TC_S_WEB);
	CU_ASSERT_EQUAL(sl_find_service(h, 4, 6, tc_vip_web, 80, 0), -1);
	CU_ASSERT_EQUAL(sl_find_service(h, 4, 17, tc_vip_web, 443, 0), -1);
	CU_ASSERT_EQUAL(sl_find_service(h, 4, 6, other, 443, 0), -1);
	CU_ASSERT_EQUAL(sl_find_service(h, 4, 17, tc_vip_dns, 53, 0), TC_S_DNS);
	CU_ASSERT_EQUAL(sl_find_service(h, 4, 17, tc_vip_dns, 5353, 0), TC_S_DNS);
	CU_ASSERT_EQUAL(sl_find_service(h, 4, 17, tc_vip_dns, 54, 0), -1);
	CU_ASSERT_EQUAL(sl_find_service(h, 6, 6, tc_vip_web6, 443, 0), TC_S_WEB6);
	/* an IPv4 VIP's bytes seen as IPv6 are another address */
	CU_ASSERT_EQUAL(sl_find_service(h, 6, 6, tc_vip_web, 443, 0), -1);
	/* fragments: any port */
	CU_ASSERT_EQUAL(sl_find_service(h, 4, 17, tc_vip_dns, 0, 1), TC_S_DNS);
	sl_tables_free(src);
	free(c);
}

/* 128 services, many on one VIP: every one is found by its own port, and a
 * portless lookup on the shared VIP gives the lowest index. */
static void test_many_services(void)
{
	struct sl_config *c = tc_config(0);
	char err[256];
	struct sl_table_src *src;
	const struct sl_table_hdr *h;

	c->nservices = SL_MAX_SERVICES;
	for (uint32_t i = 0; i < SL_MAX_SERVICES; i++) {
		uint8_t vip[16] = { 198, 18, (uint8_t)(i % 3), (uint8_t)(i % 5) };
		char name[32];

		snprintf(name, sizeof(name), "s%u", i);
		tc_service(&c->services[i], name, (i & 1) ? 17 : 6, 4, vip,
			   (uint16_t)(1000 + i), (uint16_t)(1000 + i), 0);
	}
	src = sl_tables_from_config(c, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(src);
	h = sl_src_view(src)->hdr;
	for (uint32_t i = 0; i < SL_MAX_SERVICES; i++) {
		uint8_t vip[16] = { 198, 18, (uint8_t)(i % 3), (uint8_t)(i % 5) };
		int lowest = -1;

		CU_ASSERT_EQUAL(sl_find_service(h, 4, (i & 1) ? 17 : 6, vip,
						(uint16_t)(1000 + i), 0), (int)i);
		CU_ASSERT_EQUAL(sl_find_service(h, 4, (i & 1) ? 6 : 17, vip,
						(uint16_t)(1000 + i), 0), -1);
		for (uint32_t j = 0; j < SL_MAX_SERVICES && lowest < 0; j++)
			if (j % 3 == i % 3 && j % 5 == i % 5 && (j & 1) == (i & 1))
				lowest = (int)j;
		CU_ASSERT_EQUAL(sl_find_service(h, 4, (i & 1) ? 17 : 6, vip, 0, 1), lowest);
	}
	sl_tables_free(src);
	free(c);
}

static void test_bad_maglev(void)
{
	struct sl_config *c = tc_config(0);
	char err[256] = "";

	c->maglev_size = 65536; /* not prime */
	CU_ASSERT_PTR_NULL(sl_tables_from_config(c, err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "[group green] members"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "65536"));
	free(c);
}

static void add_rule(struct sl_config *c, const char *name, uint8_t svc, uint16_t bp,
		     const char *filter)
{
	struct sl_cfg_shadow *r = &c->shadows[c->nshadows++];

	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->service = svc;
	r->port = TC_SHADOW;
	r->sample_bp = bp;
	snprintf(r->filter, sizeof(r->filter), "%s", filter);
}

/* Shadow rules: records, masks, seeds from the name, shadow_gen. */
static void test_shadow_rules(void)
{
	struct sl_config *c = tc_config(500);
	struct sl_table_hdr *h = calloc(1, sizeof(*h)), *h2 = calloc(1, sizeof(*h2));
	struct sl_group_rec *g = calloc(SL_MAX_GROUPS, sizeof(*g));
	char err[256] = "";
	uint64_t seed_a;

	CU_ASSERT_FATAL(h && h2 && g);
	add_rule(c, "a", TC_S_WEB, 1000, "tcp dst port 443");
	add_rule(c, "b", TC_S_DNS, 50, "");
	add_rule(c, "c", TC_S_WEB, 10000, "src net 198.51.100.0/24");
	c->shadows[2].has_mac = 1;
	c->shadows[2].mac[0] = 2;
	c->shadows[2].mac[5] = 9;
	CU_ASSERT_EQUAL_FATAL(sl_tables_build(h, g, c, 7, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(h->shadow_gen, 7);
	CU_ASSERT_EQUAL(h->nshadows, 3);
	CU_ASSERT_EQUAL(h->services[TC_S_WEB].shadow_mask, 0x5);
	CU_ASSERT_EQUAL(h->services[TC_S_DNS].shadow_mask, 0x2);
	CU_ASSERT_EQUAL(h->services[TC_S_WEB6].shadow_mask, 0);
	CU_ASSERT_STRING_EQUAL(h->shadows[0].name, "a");
	CU_ASSERT_STRING_EQUAL(h->shadows[0].filter, "tcp dst port 443");
	CU_ASSERT_EQUAL(h->shadows[0].sample_bp, 1000);
	CU_ASSERT_EQUAL(h->shadows[0].port, TC_SHADOW);
	CU_ASSERT_EQUAL(h->shadows[1].service, TC_S_DNS);
	CU_ASSERT_EQUAL(h->shadows[2].has_mac, 1);
	CU_ASSERT_EQUAL(h->shadows[2].mac[5], 9);
	CU_ASSERT_EQUAL(h->shadows[0].seed, sl_shadow_seed(h->seed_flow, "a"));
	CU_ASSERT_NOT_EQUAL(h->shadows[0].seed, h->shadows[1].seed);
	CU_ASSERT_NOT_EQUAL(h->shadows[0].seed, h->seed_group);
	seed_a = h->shadows[0].seed;

	/* a rule's seed depends on its name and hash_seed only */
	memmove(&c->shadows[0], &c->shadows[1], 2 * sizeof(c->shadows[0]));
	c->nshadows = 2;
	add_rule(c, "a", TC_S_WEB, 1000, "");
	CU_ASSERT_EQUAL_FATAL(sl_tables_build(h2, g, c, 8, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(h2->shadows[2].name, "a");
	CU_ASSERT_EQUAL(h2->shadows[2].seed, seed_a);
	CU_ASSERT_EQUAL(h2->services[TC_S_WEB].shadow_mask, 0x6);
	c->hash_seed ^= 1;
	CU_ASSERT_EQUAL_FATAL(sl_tables_build(h2, g, c, 8, err, sizeof(err)), 0);
	CU_ASSERT_NOT_EQUAL(h2->shadows[2].seed, seed_a);

	/* a rule naming no service is an inconsistency a check cannot miss */
	c->shadows[0].service = 9;
	CU_ASSERT_EQUAL(sl_tables_build(h2, g, c, 8, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "test.ini: [shadow b] names service index 9 of 3, port "
			       "index 3 of 4");
	free(h);
	free(h2);
	free(g);
	free(c);
}

void sl_test_register_tables(void)
{
	CU_pSuite s = CU_add_suite("tables", NULL, NULL);

	CU_add_test(s, "build from a configuration", test_build_basics);
	CU_add_test(s, "find a packet's service", test_find_service);
	CU_add_test(s, "128 services, shared VIPs", test_many_services);
	CU_add_test(s, "Maglev size error names the group", test_bad_maglev);
	CU_add_test(s, "shadow rules, masks, seeds", test_shadow_rules);
}
