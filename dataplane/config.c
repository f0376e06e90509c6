/* Configuration loader.  iniparser reads values (quotes, inline comments) and
 * reports syntax errors; a second pass over the raw text recovers what
 * iniparser hides (line numbers, duplicate keys and sections, keys outside
 * any section, unterminated quotes).  Nothing reaches *cfg unless the whole
 * file is valid. */
#include "errmsg.h"
#include "config.h"
#include "filtercheck.h"
#include "ini.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <iniparser.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define DP_MAX_KEYS 19 /* keys of the section type with the most ([dataplane]) */
#define DURATION_MAX_MS (7ull * 24 * 3600 * 1000)

enum sec_kind {
	SEC_DATAPLANE, SEC_PORT, SEC_GROUP, SEC_SERVICE, SEC_SHADOW, SEC_CONTROL, SEC_SLICE,
	SEC_GUARD, SEC_NKINDS
};

static const char *const dataplane_keys[] = {
	"eal_args", "hash_seed", "group_seed", "member_seed", "flow_capacity", "flow_capacity_v6",
	"maglev_size",
	"tcp_syn_timeout", "tcp_timeout", "tcp_fin_timeout", "tcp_closed_timeout",
	"udp_timeout", "other", "malformed", "mbufs", "mbuf_size", "rx_desc", "tx_desc",
	"handshake_timeout", NULL
};
static const char *const port_keys[] = { "role", "devargs", NULL };
static const char *const group_keys[] = { "port", "mode", "members", NULL };
static const char *const service_keys[] = {
	"proto", "vip", "ports", "champion", "challenger", "share", NULL
};
static const char *const shadow_keys[] = { "service", "filter", "sample", "port", "mac", NULL };
static const char *const slice_keys[] = { "service", "src", "filter", NULL };
static const char *const control_keys[] = {
	"instance", "bpffs", "socket", "journal", "bpf_object", "ack_timeout", "group",
	"idle_timeout", "max_connections", "max_connections_per_uid", "journal_rotate",
	"journal_keep", "metrics", NULL
};
_Static_assert(sizeof(dataplane_keys) / sizeof(dataplane_keys[0]) - 1 <= DP_MAX_KEYS &&
		       sizeof(control_keys) / sizeof(control_keys[0]) - 1 <= DP_MAX_KEYS,
	       "a section's keys fit its keyline[]");

static const struct kind {
	const char *type;
	const char *const *keys;
	unsigned max;
	const char *plural;
} kinds[SEC_NKINDS] = {
	[SEC_DATAPLANE] = { "dataplane", dataplane_keys, 1, "dataplane sections" },
	[SEC_PORT] = { "port", port_keys, SL_MAX_PORTS, "ports" },
	[SEC_GROUP] = { "group", group_keys, SL_MAX_GROUPS, "groups" },
	[SEC_SERVICE] = { "service", service_keys, SL_MAX_SERVICES, "services" },
	[SEC_SHADOW] = { "shadow", shadow_keys, SL_MAX_SHADOWS, "shadow rules" },
	[SEC_CONTROL] = { "control", control_keys, 1, "control sections" },
	[SEC_SLICE] = { "slice", slice_keys, SL_MAX_SLICES, "slices" },
	[SEC_GUARD] = { "guard", sl_guard_keys, SL_MAX_GUARDS, "guards" },
};

/* Section types of features that are designed but not implemented yet. */
static const char *const reserved_types[] = { NULL };

#define SECTION_TYPES \
	"[dataplane], [port NAME], [group NAME], [service NAME], [shadow NAME], " \
	"[slice NAME], [guard NAME] or [control]"
_Static_assert(SL_NAME_LEN == 32, "SL_NAME_RULE says 1..31 characters");

struct sec {
	char full[48]; /* as iniparser stores it: "port blue" */
	char name[SL_NAME_LEN];
	uint8_t kind;
	unsigned line;
	unsigned keyline[DP_MAX_KEYS]; /* 0: key absent */
};

struct loader {
	const char *path;
	char *err;
	size_t errlen;
	dictionary *dict;
	struct sl_config *cfg;
	struct sec secs[2 + SL_MAX_PORTS + SL_MAX_GROUPS + SL_MAX_SERVICES + SL_MAX_SHADOWS +
			SL_MAX_SLICES + SL_MAX_GUARDS];
	unsigned nsecs;
	unsigned count[SEC_NKINDS];
	const struct sec *port_sec[SL_MAX_PORTS];
	const struct sec *group_sec[SL_MAX_GROUPS];
	const struct sec *service_sec[SL_MAX_SERVICES];
	const struct sec *shadow_sec[SL_MAX_SHADOWS];
	const struct sec *slice_sec[SL_MAX_SLICES];
	const struct sec *guard_sec[SL_MAX_GUARDS];
};

/* "PATH: [SECTION] KEY: message", or without key, or without section. */
__attribute__((format(printf, 4, 5)))
static int fail(struct loader *l, const struct sec *s, const char *key, const char *fmt, ...)
{
	va_list ap;

	if (s && key)
		sl_seterr(l->err, l->errlen, "%s: [%s] %s: ", l->path, s->full, key);
	else if (s)
		sl_seterr(l->err, l->errlen, "%s: [%s]: ", l->path, s->full);
	else
		sl_seterr(l->err, l->errlen, "%s: ", l->path);
	va_start(ap, fmt);
	sl_vadderr(l->err, l->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int sl_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= SL_NAME_LEN)
		return 0;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '_' &&
		    *s != '-')
			return 0;
	return 1;
}

static int key_index(const char *const *keys, const char *key)
{
	for (int i = 0; keys[i]; i++)
		if (!strcmp(keys[i], key))
			return i;
	return -1;
}

static void join_keys(const char *const *keys, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; keys[i] && n < len; i++) {
		int w = snprintf(buf + n, len - n, "%s%s", i ? ", " : "", keys[i]);

		if (w < 0)
			break;
		n += (size_t)w;
	}
}

static int read_file(struct loader *l, char **out, size_t *outlen)
{
	char msg[SL_ERR_LEN];

	*out = sl_ini_read(l->path, outlen, msg, sizeof(msg));
	return *out ? 0 : fail(l, NULL, NULL, "%s", msg);
}

static int scan_section(void *ctx, char *line, unsigned lineno)
{
	struct loader *l = ctx;
	char *end = strchr(line, ']'), *inner, *sp;
	struct sec *s;
	int kind = -1;

	if (end[1] != '\0')
		return fail(l, NULL, NULL, "line %u: syntax error: '%s' (expected [SECTION])",
			    lineno, line);
	*end = '\0';
	inner = sl_ini_strip(line + 1);
	sl_ini_lower(inner);
	if (!*inner)
		return fail(l, NULL, NULL, "line %u: empty section name (expected %s)", lineno,
			    SECTION_TYPES);
	for (unsigned i = 0; i < l->nsecs; i++)
		if (!strcmp(l->secs[i].full, inner))
			return fail(l, NULL, NULL,
				    "[%s]: appears twice, at lines %u and %u (expected each "
				    "section once)", inner, l->secs[i].line, lineno);
	sp = strchr(inner, ' ');
	if (sp)
		*sp = '\0';
	for (int k = 0; k < SEC_NKINDS; k++)
		if (!strcmp(inner, kinds[k].type))
			kind = k;
	if (kind < 0) {
		bool reserved = key_index(reserved_types, inner) >= 0;

		if (sp)
			*sp = ' ';
		if (reserved)
			return fail(l, NULL, NULL, "[%s]: section type '%.*s' is not supported "
				    "yet by this version (expected %s)", inner,
				    (int)strcspn(inner, " "), inner, SECTION_TYPES);
		return fail(l, NULL, NULL, "[%s]: unknown section (expected %s)", inner,
			    SECTION_TYPES);
	}
	if ((kind == SEC_DATAPLANE || kind == SEC_CONTROL) && sp) {
		*sp = ' ';
		return fail(l, NULL, NULL, "[%s]: [%s] takes no name (expected [%s])", inner,
			    kinds[kind].type, kinds[kind].type);
	}
	if (kind != SEC_DATAPLANE && kind != SEC_CONTROL && !sp)
		return fail(l, NULL, NULL, "[%s]: missing name (expected [%s NAME], NAME of %s)",
			    inner, inner, SL_NAME_RULE);
	if (sp && !sl_name_valid(sp + 1)) {
		*sp = ' ';
		return fail(l, NULL, NULL, "[%s]: name '%s' is not valid (expected %s)", inner,
			    sp + 1, SL_NAME_RULE);
	}
	if (sp)
		*sp = ' ';
	if (l->count[kind] >= kinds[kind].max)
		return fail(l, NULL, NULL, "[%s]: too many %s (expected at most %u)", inner,
			    kinds[kind].plural, kinds[kind].max);
	l->count[kind]++;
	s = &l->secs[l->nsecs++];
	memset(s, 0, sizeof(*s));
	snprintf(s->full, sizeof(s->full), "%s", inner);
	if (sp)
		snprintf(s->name, sizeof(s->name), "%s", sp + 1);
	s->kind = (uint8_t)kind;
	s->line = lineno;
	return 0;
}

static int scan_key(void *ctx, char *key, unsigned lineno)
{
	struct loader *l = ctx;
	char buf[600];
	struct sec *s;
	int k;

	if (l->nsecs == 0)
		return fail(l, NULL, NULL, "line %u: key '%s' is outside any section (expected "
			    "a [SECTION] header before it)", lineno, key);
	s = &l->secs[l->nsecs - 1];
	k = key_index(kinds[s->kind].keys, key);
	if (k < 0) {
		join_keys(kinds[s->kind].keys, buf, sizeof(buf));
		return fail(l, s, key, "unknown key (expected one of: %s)", buf);
	}
	if (s->keyline[k])
		return fail(l, s, key, "set twice, at lines %u and %u (expected each key once "
			    "per section)", s->keyline[k], lineno);
	s->keyline[k] = lineno;
	return 0;
}

/* Every section and key, with its line (see sl_ini_scan). */
static int scan(struct loader *l, char *text)
{
	char msg[1100];
	int rc = sl_ini_scan(text, l->dict, scan_section, scan_key, l, msg,
			     sizeof(msg));

	return rc == SL_INI_ERR ? fail(l, NULL, NULL, "%s", msg) : rc;
}

/* Value of key in section s, or NULL when the file does not set it. */
static const char *value(struct loader *l, const struct sec *s, const char *key)
{
	char full[96];
	int k = key_index(kinds[s->kind].keys, key);

	if (k < 0 || !s->keyline[k])
		return NULL;
	snprintf(full, sizeof(full), "%s:%s", s->full, key);
	return iniparser_getstring(l->dict, full, "");
}

/* 1: set and non-empty, 0: not set, -1: set but empty (error written). */
static int get(struct loader *l, const struct sec *s, const char *key, const char *expect,
	       const char **v)
{
	*v = value(l, s, key);
	if (!*v)
		return 0;
	if (!**v)
		return fail(l, s, key, "empty (expected %s)", expect);
	return 1;
}

static int required(struct loader *l, const struct sec *s, const char *key, const char *expect,
		    const char **v)
{
	int rc = get(l, s, key, expect, v);

	if (rc == 0)
		return fail(l, s, key, "missing (expected %s)", expect);
	return rc < 0 ? -1 : 0;
}

/* Decimal or 0x hex, no sign, no blanks, 64 bits. */
static int parse_u64(const char *s, uint64_t *out)
{
	unsigned base = 10;
	uint64_t v = 0;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!*s)
		return -1;
	for (; *s; s++) {
		unsigned d;

		if (isdigit((unsigned char)*s))
			d = (unsigned)(*s - '0');
		else if (base == 16 && isxdigit((unsigned char)*s))
			d = (unsigned)(tolower((unsigned char)*s) - 'a' + 10);
		else
			return -1;
		if (v > (UINT64_MAX - d) / base)
			return -1;
		v = v * base + d;
	}
	*out = v;
	return 0;
}

static int int_key(struct loader *l, const struct sec *s, const char *key, uint64_t min,
		   uint64_t max, const char *expect, uint64_t *out)
{
	const char *v;
	int rc = get(l, s, key, expect, &v);

	if (rc <= 0)
		return rc;
	if (parse_u64(v, out))
		return fail(l, s, key, "'%s' is not an integer (expected %s)", v, expect);
	if (*out < min || *out > max)
		return fail(l, s, key, "'%s' is out of range (expected %s)", v, expect);
	return 1;
}

static bool is_prime(uint32_t n)
{
	if (n < 2)
		return false;
	for (uint32_t d = 2; d * d <= n; d++)
		if (n % d == 0)
			return false;
	return true;
}

#define DURATION_RANGE \
	"1ms..7 days as a whole number with ms, s, m or h, e.g. 500ms, 30s, 2m, 1h; " \
	"a bare number is seconds"
#define DURATION_EXPECT "expected " DURATION_RANGE

int sl_duration_parse(const char *s, uint32_t *ms, char *err, size_t errlen)
{
	const char *p = s;
	uint64_t v = 0, mult;

	if (!*s)
		return sl_seterr(err, errlen, "empty (" DURATION_EXPECT ")");
	if (!isdigit((unsigned char)*p))
		return sl_seterr(err, errlen, "'%s' is not a duration (" DURATION_EXPECT ")", s);
	for (; isdigit((unsigned char)*p); p++)
		if (v <= DURATION_MAX_MS)
			v = v * 10 + (uint64_t)(*p - '0');
	if (!strcmp(p, "ms"))
		mult = 1;
	else if (!strcmp(p, "s") || !*p)
		mult = 1000;
	else if (!strcmp(p, "m"))
		mult = 60 * 1000;
	else if (!strcmp(p, "h"))
		mult = 3600 * 1000;
	else
		return sl_seterr(err, errlen, "'%s' is not a duration (" DURATION_EXPECT ")", s);
	if (v > DURATION_MAX_MS / mult || v * mult < 1)
		return sl_seterr(err, errlen, "'%s' is out of range (" DURATION_EXPECT ")", s);
	*ms = (uint32_t)(v * mult);
	return 0;
}

#define SHARE_RANGE "0%..100%, e.g. 5%, 0.5%, 50bp"

int sl_share_parse(const char *s, uint16_t *bp, char *err, size_t errlen)
{
	const char *p = s;
	uint64_t whole = 0, frac = 0;
	unsigned nfrac = 0;
	bool dot = false;

	if (!*s)
		return sl_seterr(err, errlen, "empty (expected %s)", SHARE_RANGE);
	if (!isdigit((unsigned char)*p))
		return sl_seterr(err, errlen, "'%s' is not a share (expected %s)", s,
				      SHARE_RANGE);
	for (; isdigit((unsigned char)*p); p++)
		if (whole <= SL_SHARE_MAX_BP)
			whole = whole * 10 + (uint64_t)(*p - '0');
	if (*p == '.') {
		dot = true;
		if (!isdigit((unsigned char)p[1]))
			return sl_seterr(err, errlen, "'%s' is not a share (expected %s)", s,
				      SHARE_RANGE);
		for (p++; isdigit((unsigned char)*p); p++, nfrac++)
			if (nfrac < 2)
				frac = frac * 10 + (uint64_t)(*p - '0');
	}
	if (!strcmp(p, "bp")) {
		if (dot)
			return sl_seterr(err, errlen, "'%s': basis points must be a whole number "
				      "(expected 0bp..10000bp, e.g. 50bp)", s);
		if (whole > SL_SHARE_MAX_BP)
			return sl_seterr(err, errlen, "'%s' is above 10000bp (expected "
				      "0bp..10000bp, e.g. 50bp)", s);
		*bp = (uint16_t)whole;
		return 0;
	}
	if (!*p)
		return sl_seterr(err, errlen, "'%s' has no unit (expected %% or bp, e.g. 5%% or "
			      "50bp)", s);
	if (*p == ' ' || *p == '\t')
		return sl_seterr(err, errlen, "'%s' has a blank before the unit (expected the "
			      "unit right after the number, e.g. 5%% or 50bp)", s);
	if (strcmp(p, "%"))
		return sl_seterr(err, errlen, "'%s' has an unknown unit '%s' (expected %% or bp, "
			      "e.g. 5%% or 50bp)", s, p);
	if (nfrac > 2)
		return sl_seterr(err, errlen, "'%s' has more than two decimals, not a whole basis "
			      "point (expected steps of 0.01%% = 1bp, e.g. 0.05%%)", s);
	if (nfrac == 1)
		frac *= 10;
	if (whole * 100 + frac > SL_SHARE_MAX_BP)
		return sl_seterr(err, errlen, "'%s' is above 100%% (expected %s)", s, SHARE_RANGE);
	*bp = (uint16_t)(whole * 100 + frac);
	return 0;
}

#define HANDSHAKE_EXPECT \
	"1ms..60s as a whole number with ms, s or m, e.g. 3s or 500ms; a bare number is " \
	"seconds"

static int load_dataplane(struct loader *l, const struct sec *s)
{
	static const char *const timeout_keys[] = {
		"tcp_syn_timeout", "tcp_timeout", "tcp_fin_timeout", "tcp_closed_timeout",
		"udp_timeout",
	};
	struct sl_config *c = l->cfg;
	uint32_t *const timeouts[] = {
		&c->tcp_syn_timeout_ms, &c->tcp_timeout_ms, &c->tcp_fin_timeout_ms,
		&c->tcp_closed_timeout_ms, &c->udp_timeout_ms,
	};
	char msg[SL_ERR_LEN];
	const char *v;
	uint64_t u;
	int rc;

	if (!s)
		return 0;
	v = value(l, s, "eal_args");
	if (v && strlen(v) >= sizeof(c->eal_args))
		return fail(l, s, "eal_args", "%zu characters long (expected at most %zu)",
			    strlen(v), sizeof(c->eal_args) - 1);
	if (v)
		snprintf(c->eal_args, sizeof(c->eal_args), "%s", v);

	if ((rc = int_key(l, s, "hash_seed", 0, UINT64_MAX,
			  "a 64-bit decimal or 0x hex number, e.g. 0x5eed", &u)) < 0)
		return -1;
	if (rc > 0)
		c->hash_seed = u;
	if ((rc = int_key(l, s, "group_seed", 0, UINT64_MAX,
			  "a 64-bit decimal or 0x hex number; 0 derives it from hash_seed",
			  &u)) < 0)
		return -1;
	if (rc > 0)
		c->group_seed = u;
	if ((rc = int_key(l, s, "member_seed", 0, UINT64_MAX,
			  "a 64-bit decimal or 0x hex number; 0 derives it from hash_seed",
			  &u)) < 0)
		return -1;
	if (rc > 0)
		c->member_seed = u;
	if ((rc = int_key(l, s, "flow_capacity", 1, 16777216,
			  "1..16777216 IPv4 flows per worker lcore", &u)) < 0)
		return -1;
	if (rc > 0)
		c->flow_capacity = (uint32_t)u;
	if ((rc = int_key(l, s, "flow_capacity_v6", 0, 16777216,
			  "0..16777216 IPv6 flows per worker lcore; 0 is a quarter of "
			  "flow_capacity, at least 1024", &u)) < 0)
		return -1;
	if (rc > 0)
		c->flow_capacity_v6 = (uint32_t)u;
	if ((rc = int_key(l, s, "maglev_size", 3, SL_MAGLEV_MAX, "a prime 3..65537, e.g. 65537",
			  &u)) < 0)
		return -1;
	if (rc > 0) {
		if (!is_prime((uint32_t)u))
			return fail(l, s, "maglev_size", "'%s' is not a prime (expected a prime "
				    "3..65537, e.g. 65537)", value(l, s, "maglev_size"));
		c->maglev_size = (uint32_t)u;
	}

	for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
		if ((rc = get(l, s, timeout_keys[i], DURATION_RANGE, &v)) < 0)
			return -1;
		if (rc > 0 && sl_duration_parse(v, timeouts[i], msg, sizeof(msg)))
			return fail(l, s, timeout_keys[i], "%s", msg);
	}

	if ((rc = get(l, s, "other", "flood or drop", &v)) < 0)
		return -1;
	if (rc > 0) {
		if (!strcasecmp(v, "flood"))
			c->other = SL_OTHER_FLOOD;
		else if (!strcasecmp(v, "drop"))
			c->other = SL_OTHER_DROP;
		else
			return fail(l, s, "other", "'%s' is not an action (expected flood or "
				    "drop)", v);
	}
	if ((rc = get(l, s, "malformed", "drop or forward", &v)) < 0)
		return -1;
	if (rc > 0) {
		if (!strcasecmp(v, "drop"))
			c->malformed = SL_MALFORMED_DROP;
		else if (!strcasecmp(v, "forward"))
			c->malformed = SL_MALFORMED_FORWARD;
		else
			return fail(l, s, "malformed", "'%s' is not an action (expected drop or "
				    "forward)", v);
	}

	if ((rc = int_key(l, s, "mbufs", 0, 16777216,
			  "0 (computed by sluice-dp) or 1024..16777216", &u)) < 0)
		return -1;
	if (rc > 0) {
		if (u != 0 && u < 1024)
			return fail(l, s, "mbufs", "'%s' is out of range (expected 0 (computed "
				    "by sluice-dp) or 1024..16777216)", value(l, s, "mbufs"));
		c->mbufs = (uint32_t)u;
	}
	if ((rc = int_key(l, s, "mbuf_size", 256, 65535, "256..65535 bytes of data room",
			  &u)) < 0)
		return -1;
	if (rc > 0)
		c->mbuf_size = (uint32_t)u;
	for (int i = 0; i < 2; i++) {
		const char *key = i ? "tx_desc" : "rx_desc";

		if ((rc = int_key(l, s, key, 64, 16384, "a power of two 64..16384", &u)) < 0)
			return -1;
		if (rc == 0)
			continue;
		if (u & (u - 1))
			return fail(l, s, key, "'%s' is not a power of two (expected a power of "
				    "two 64..16384)", value(l, s, key));
		if (i)
			c->tx_desc = (uint16_t)u;
		else
			c->rx_desc = (uint16_t)u;
	}
	if ((rc = get(l, s, "handshake_timeout", HANDSHAKE_EXPECT, &v)) < 0)
		return -1;
	if (rc > 0) {
		uint32_t ms = 0;

		msg[0] = '\0';
		if (sl_duration_parse(v, &ms, msg, sizeof(msg)) || ms > 60000)
			return fail(l, s, "handshake_timeout", "'%s' is %s (expected %s)", v,
				    strstr(msg, "is not a duration") ? "not a duration" :
				    "out of range", HANDSHAKE_EXPECT);
		c->handshake_timeout_ms = ms;
	}
	return 0;
}

#define DEVARGS_EXPECT "DPDK devargs, e.g. 0000:3b:00.0 or net_pcap0,rx_pcap=in.pcap"

static int load_port(struct loader *l, const struct sec *s, struct sl_cfg_port *p)
{
	const char *v;

	snprintf(p->name, sizeof(p->name), "%s", s->name);
	if (required(l, s, "role", "client, backend or shadow", &v))
		return -1;
	if (!strcasecmp(v, "client"))
		p->role = SL_ROLE_CLIENT;
	else if (!strcasecmp(v, "backend"))
		p->role = SL_ROLE_BACKEND;
	else if (!strcasecmp(v, "shadow"))
		p->role = SL_ROLE_SHADOW;
	else
		return fail(l, s, "role", "'%s' is not a role (expected client, backend or "
			    "shadow)", v);
	if (required(l, s, "devargs", DEVARGS_EXPECT, &v))
		return -1;
	if (strlen(v) >= sizeof(p->devargs))
		return fail(l, s, "devargs", "%zu characters long (expected at most %zu)",
			    strlen(v), sizeof(p->devargs) - 1);
	snprintf(p->devargs, sizeof(p->devargs), "%s", v);
	return 0;
}

static int load_ports(struct loader *l)
{
	struct sl_config *c = l->cfg;
	int client = -1;
	unsigned backends = 0;

	if (c->nports == 0)
		return fail(l, NULL, NULL, "no [port NAME] section (expected 1..%u ports, "
			    "exactly one with role client)", SL_MAX_PORTS);
	for (unsigned i = 0; i < c->nports; i++) {
		struct sl_cfg_port *p = &c->ports[i];
		size_t dev;

		if (load_port(l, l->port_sec[i], p))
			return -1;
		dev = strcspn(p->devargs, ",");
		/* DPDK refuses a second port on one device name. */
		for (unsigned j = 0; j < i; j++)
			if (strcspn(c->ports[j].devargs, ",") == dev &&
			    !strncmp(c->ports[j].devargs, p->devargs, dev))
				return fail(l, l->port_sec[i], "devargs", "device '%.*s' is "
					    "already used by [port %s] (expected one port per "
					    "device)", (int)dev, p->devargs, c->ports[j].name);
		if (p->role == SL_ROLE_CLIENT) {
			if (client >= 0)
				return fail(l, l->port_sec[i], "role", "a second client port, "
					    "after [port %s] (expected exactly one client port)",
					    c->ports[client].name);
			client = (int)i;
		}
		if (p->role == SL_ROLE_BACKEND)
			backends++;
	}
	if (client < 0)
		return fail(l, NULL, NULL, "no port with role client (expected exactly one "
			    "[port NAME] with role = client)");
	if (backends == 0)
		return fail(l, NULL, NULL, "no port with role backend (expected at least one "
			    "[port NAME] with role = backend)");
	return 0;
}

static void list_names(struct loader *l, bool groups, int role, char *buf, size_t len)
{
	const struct sl_config *c = l->cfg;
	unsigned n = groups ? c->ngroups : c->nports;
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < n && used < len; i++) {
		const char *name = groups ? c->groups[i].name : c->ports[i].name;
		int w;

		if (role >= 0 && c->ports[i].role != role)
			continue;
		w = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", name);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

int sl_mac_parse(const char *s, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		if (!isxdigit((unsigned char)s[0]) || !isxdigit((unsigned char)s[1]))
			return -1;
		if (s[2] != (i < 5 ? ':' : '\0'))
			return -1;
		mac[i] = (uint8_t)strtoul((char[3]){ s[0], s[1], '\0' }, NULL, 16);
		s += 3;
	}
	return 0;
}

#define MEMBERS_EXPECT "1..256 MAC addresses in mac mode, e.g. 02:00:00:00:0c:01, 02:00:00:00:0c:02"

static int load_members(struct loader *l, const struct sec *s, struct sl_cfg_group *g,
			const char *v)
{
	char buf[SL_MAX_MEMBERS * 20], *item, *next;
	unsigned n = 0;

	if (strlen(v) >= sizeof(buf))
		return fail(l, s, "members", "%zu characters long (expected at most %u MAC "
			    "addresses)", strlen(v), SL_MAX_MEMBERS);
	snprintf(buf, sizeof(buf), "%s", v);
	for (item = buf; item; item = next) {
		uint8_t *mac;
		char *t;

		next = strchr(item, ',');
		if (next)
			*next++ = '\0';
		t = sl_ini_strip(item);
		n++;
		if (!*t)
			return fail(l, s, "members", "entry %u is empty (expected comma-separated "
				    "MAC addresses aa:bb:cc:dd:ee:ff)", n);
		if (n > SL_MAX_MEMBERS)
			return fail(l, s, "members", "more than %u entries (expected %s)",
				    SL_MAX_MEMBERS, MEMBERS_EXPECT);
		mac = g->macs[n - 1];
		if (sl_mac_parse(t, mac))
			return fail(l, s, "members", "'%s' is not a MAC address (expected "
				    "aa:bb:cc:dd:ee:ff)", t);
		if (!memcmp(mac, "\xff\xff\xff\xff\xff\xff", 6))
			return fail(l, s, "members", "'%s' is the broadcast address (expected a "
				    "unicast MAC)", t);
		if (mac[0] & 1)
			return fail(l, s, "members", "'%s' is a multicast address (expected a "
				    "unicast MAC)", t);
		if (!memcmp(mac, "\0\0\0\0\0\0", 6))
			return fail(l, s, "members", "'%s' is the zero address (expected a unicast "
				    "MAC)", t);
		for (unsigned j = 0; j + 1 < n; j++)
			if (!memcmp(g->macs[j], mac, 6))
				return fail(l, s, "members", "'%s' appears twice, as entries %u "
					    "and %u (expected distinct MACs)", t, j + 1, n);
	}
	g->nmembers = (uint16_t)n;
	return 0;
}

static int load_group(struct loader *l, const struct sec *s, struct sl_cfg_group *g)
{
	char names[SL_ERR_LEN];
	const char *v;
	int port, rc;

	snprintf(g->name, sizeof(g->name), "%s", s->name);
	if (required(l, s, "port", "the name of a port with role backend", &v))
		return -1;
	port = sl_config_port(l->cfg, v);
	if (port < 0) {
		list_names(l, false, -1, names, sizeof(names));
		return fail(l, s, "port", "no port named '%s' (ports: %s)", v, names);
	}
	if (l->cfg->ports[port].role != SL_ROLE_BACKEND) {
		list_names(l, false, SL_ROLE_BACKEND, names, sizeof(names));
		return fail(l, s, "port", "port '%s' has role %s (expected a port with role "
			    "backend: %s)", v,
			    l->cfg->ports[port].role == SL_ROLE_CLIENT ? "client" : "shadow",
			    names);
	}
	g->port = (uint8_t)port;
	if ((rc = get(l, s, "mode", "port or mac", &v)) < 0)
		return -1;
	g->mode = SL_MODE_PORT;
	if (rc > 0) {
		if (!strcasecmp(v, "mac"))
			g->mode = SL_MODE_MAC;
		else if (strcasecmp(v, "port"))
			return fail(l, s, "mode", "'%s' is not a mode (expected port or mac)", v);
	}
	if ((rc = get(l, s, "members", MEMBERS_EXPECT, &v)) < 0)
		return -1;
	if (g->mode == SL_MODE_PORT) {
		if (rc > 0)
			return fail(l, s, "members", "not allowed in port mode (expected mode = "
				    "mac to use members, or no members)");
		return 0;
	}
	if (rc == 0)
		return fail(l, s, "members", "missing (expected %s)", MEMBERS_EXPECT);
	return load_members(l, s, g, v);
}

static int load_groups(struct loader *l)
{
	struct sl_config *c = l->cfg;

	if (c->ngroups == 0)
		return fail(l, NULL, NULL, "no [group NAME] section (expected 1..%u groups)",
			    SL_MAX_GROUPS);
	for (unsigned i = 0; i < c->ngroups; i++)
		if (load_group(l, l->group_sec[i], &c->groups[i]))
			return -1;
	for (unsigned i = 0; i < c->ngroups; i++) {
		const struct sl_cfg_group *g = &c->groups[i];
		const struct sec *dp = NULL;

		if (g->mode != SL_MODE_MAC || g->nmembers < c->maglev_size)
			continue;
		for (unsigned j = 0; j < l->nsecs; j++)
			if (l->secs[j].kind == SEC_DATAPLANE)
				dp = &l->secs[j];
		if (dp && value(l, dp, "maglev_size"))
			return fail(l, dp, "maglev_size", "%u is not greater than the %u members "
				    "of [group %s] (expected a prime > %u, e.g. 65537)",
				    c->maglev_size, g->nmembers, g->name, g->nmembers);
		return fail(l, l->group_sec[i], "members", "%u members do not fit maglev_size "
			    "%u (expected fewer members than [dataplane] maglev_size)",
			    g->nmembers, c->maglev_size);
	}
	return 0;
}

#define PORTS_EXPECT "ports 1..65535 and ranges LO-HI, e.g. 443 or 80,443 or 8000-8099"

/* Digits only, saturating so that "99999999999" is out of range, not wrapped. */
static const char *parse_port_num(const char *p, unsigned long *v)
{
	if (!isdigit((unsigned char)*p))
		return NULL;
	for (*v = 0; isdigit((unsigned char)*p); p++)
		if (*v <= 65535)
			*v = *v * 10 + (unsigned long)(*p - '0');
	return p;
}

static int load_ranges(struct loader *l, const struct sec *s, struct sl_cfg_service *svc,
		       const char *v)
{
	char buf[1024], *item, *next, *items[SL_MAX_RANGES];
	unsigned n = 0;

	if (strlen(v) >= sizeof(buf))
		return fail(l, s, "ports", "%zu characters long (expected at most %u %s)",
			    strlen(v), SL_MAX_RANGES, PORTS_EXPECT);
	snprintf(buf, sizeof(buf), "%s", v);
	for (item = buf; item; item = next) {
		unsigned long lo, hi;
		const char *p;
		char *t;

		next = strchr(item, ',');
		if (next)
			*next++ = '\0';
		t = sl_ini_strip(item);
		if (n == SL_MAX_RANGES)
			return fail(l, s, "ports", "more than %u items in '%s' (expected at most "
				    "%u ports or ranges)", SL_MAX_RANGES, v, SL_MAX_RANGES);
		n++;
		if (!*t)
			return fail(l, s, "ports", "item %u of '%s' is empty (expected %s)", n, v,
				    PORTS_EXPECT);
		p = parse_port_num(t, &lo);
		hi = lo;
		if (p) {
			while (*p == ' ' || *p == '\t')
				p++;
			if (*p == '-') {
				for (p++; *p == ' ' || *p == '\t'; p++)
					;
				p = parse_port_num(p, &hi);
			}
		}
		if (!p || *p)
			return fail(l, s, "ports", "'%s' is not a port or range (expected %s)", t,
				    PORTS_EXPECT);
		if (lo < 1 || lo > 65535 || hi < 1 || hi > 65535)
			return fail(l, s, "ports", "'%s' is out of range (expected %s)", t,
				    PORTS_EXPECT);
		if (lo > hi)
			return fail(l, s, "ports", "'%s' is a reversed range (expected LO-HI with "
				    "LO <= HI, e.g. 8000-8099)", t);
		for (unsigned j = 0; j + 1 < n; j++)
			if (lo <= svc->ranges[j].hi && svc->ranges[j].lo <= hi)
				return fail(l, s, "ports", "'%s' overlaps '%s' (expected each port "
					    "at most once)", t, items[j]);
		svc->ranges[n - 1].lo = (uint16_t)lo;
		svc->ranges[n - 1].hi = (uint16_t)hi;
		items[n - 1] = t;
	}
	svc->nranges = (uint16_t)n;
	return 0;
}

#define VIP_EXPECT "an IPv4 or IPv6 address, e.g. 192.0.2.10 or 2001:db8::10"

static int load_vip(struct loader *l, const struct sec *s, struct sl_cfg_service *svc,
		    const char *v)
{
	static const uint8_t zero[16];
	bool bad;

	if (inet_pton(AF_INET, v, svc->vip) == 1) {
		svc->family = 4;
		bad = !memcmp(svc->vip, zero, 4) || svc->vip[0] >= 224;
	} else if (inet_pton(AF_INET6, v, svc->vip) == 1) {
		svc->family = 6;
		bad = !memcmp(svc->vip, zero, 16) || svc->vip[0] == 0xff;
	} else {
		return fail(l, s, "vip", "'%s' is not an IPv4 or IPv6 address (expected %s)", v,
			    VIP_EXPECT);
	}
	if (bad)
		return fail(l, s, "vip", "'%s' is not a unicast address (expected %s)", v,
			    VIP_EXPECT);
	return 0;
}

static int load_group_ref(struct loader *l, const struct sec *s, const char *key, uint8_t *idx)
{
	char names[SL_ERR_LEN];
	const char *v;
	int g;

	if (required(l, s, key, "a group name", &v))
		return -1;
	g = sl_config_group(l->cfg, v);
	if (g < 0) {
		list_names(l, true, -1, names, sizeof(names));
		return fail(l, s, key, "no group named '%s' (groups: %s)", v, names);
	}
	*idx = (uint8_t)g;
	return 0;
}

static const char *proto_name(uint8_t proto)
{
	return proto == 6 ? "tcp" : "udp";
}

static int load_service(struct loader *l, unsigned i)
{
	const struct sec *s = l->service_sec[i];
	struct sl_config *c = l->cfg;
	struct sl_cfg_service *svc = &c->services[i];
	const struct sl_cfg_group *champ, *chall;
	char msg[SL_ERR_LEN];
	const char *v;
	int rc;

	snprintf(svc->name, sizeof(svc->name), "%s", s->name);
	if (required(l, s, "proto", "tcp or udp", &v))
		return -1;
	if (!strcasecmp(v, "tcp"))
		svc->proto = 6;
	else if (!strcasecmp(v, "udp"))
		svc->proto = 17;
	else
		return fail(l, s, "proto", "'%s' is not a protocol (expected tcp or udp)", v);
	if (required(l, s, "vip", VIP_EXPECT, &v) || load_vip(l, s, svc, v))
		return -1;
	if (required(l, s, "ports", PORTS_EXPECT, &v) || load_ranges(l, s, svc, v))
		return -1;
	if (load_group_ref(l, s, "champion", &svc->champion) ||
	    load_group_ref(l, s, "challenger", &svc->challenger))
		return -1;
	champ = &c->groups[svc->champion];
	chall = &c->groups[svc->challenger];
	if (svc->champion == svc->challenger)
		return fail(l, s, "challenger", "'%s' is also the champion (expected a different "
			    "group)", chall->name);
	/* Same port, same untouched frames: nobody could tell the groups apart. */
	if (champ->mode == SL_MODE_PORT && chall->mode == SL_MODE_PORT &&
	    champ->port == chall->port)
		return fail(l, s, "challenger", "group '%s' leaves on port '%s' like champion "
			    "'%s', both in port mode (expected groups on different ports, or "
			    "mode = mac)", chall->name, c->ports[chall->port].name, champ->name);
	if ((rc = get(l, s, "share", SHARE_RANGE, &v)) < 0)
		return -1;
	if (rc > 0 && sl_share_parse(v, &svc->share_bp, msg, sizeof(msg)))
		return fail(l, s, "share", "%s", msg);

	for (unsigned j = 0; j < i; j++) {
		const struct sl_cfg_service *o = &c->services[j];

		if (o->proto != svc->proto || o->family != svc->family ||
		    memcmp(o->vip, svc->vip, 16))
			continue;
		for (unsigned a = 0; a < svc->nranges; a++)
			for (unsigned b = 0; b < o->nranges; b++) {
				const struct sl_port_range *x = &svc->ranges[a], *y = &o->ranges[b];
				unsigned first = x->lo > y->lo ? x->lo : y->lo;

				if (x->lo > y->hi || y->lo > x->hi)
					continue;
				inet_ntop(svc->family == 4 ? AF_INET : AF_INET6, svc->vip, msg,
					  sizeof(msg));
				return fail(l, s, "ports", "port %u of %s %s is already served by "
					    "[service %s] (expected ports no other service uses on "
					    "the same proto and vip)", first,
					    proto_name(svc->proto), msg, o->name);
			}
	}
	return 0;
}

#define FILTER_EXPECT "a pcap-filter expression, e.g. tcp dst port 443"

int sl_shadow_mac_check(const char *s, uint8_t mac[6], char *err, size_t errlen)
{
	if (sl_mac_parse(s, mac))
		return sl_seterr(err, errlen, "'%s' is not a MAC address (expected "
			      "aa:bb:cc:dd:ee:ff)", s);
	if (mac[0] & 1)
		return sl_seterr(err, errlen, "'%s' is a %s address (expected a unicast MAC)", s,
			      memcmp(mac, "\xff\xff\xff\xff\xff\xff", 6) ? "multicast" :
			      "broadcast");
	if (!memcmp(mac, "\0\0\0\0\0\0", 6))
		return sl_seterr(err, errlen, "'%s' is the zero address (expected a unicast MAC)", s);
	return 0;
}

int sl_shadow_filter_check(const char *s, char *err, size_t errlen)
{
	char msg[SL_ERR_LEN];

	if (strlen(s) >= SL_FILTER_LEN)
		return sl_seterr(err, errlen, "%zu characters long (expected at most %u: %s)",
			      strlen(s), SL_FILTER_LEN - 1, FILTER_EXPECT);
	if (sl_filter_check(s, msg, sizeof(msg)))
		return sl_seterr(err, errlen, "'%s' does not compile: %s (expected %s)", s, msg,
			      FILTER_EXPECT);
	return 0;
}

static int load_shadow(struct loader *l, const struct sec *s, struct sl_cfg_shadow *sh)
{
	struct sl_config *c = l->cfg;
	char names[SL_ERR_LEN], msg[SL_ERR_LEN];
	const char *v;
	int i, rc;

	snprintf(sh->name, sizeof(sh->name), "%s", s->name);
	if (required(l, s, "service", "the name of a [service NAME]", &v))
		return -1;
	i = sl_config_service(c, v);
	if (i < 0) {
		size_t n = 0;

		names[0] = '\0';
		for (unsigned k = 0; k < c->nservices && n < sizeof(names); k++)
			n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s", k ? ", " : "",
					      c->services[k].name);
		return fail(l, s, "service", "no service named '%s' (services: %s)", v, names);
	}
	sh->service = (uint8_t)i;
	if (required(l, s, "port", "the name of a port with role shadow", &v))
		return -1;
	i = sl_config_port(c, v);
	list_names(l, false, SL_ROLE_SHADOW, names, sizeof(names));
	if (i < 0) {
		char all[SL_ERR_LEN];

		list_names(l, false, -1, all, sizeof(all));
		return fail(l, s, "port", "no port named '%s' (ports: %s)", v, all);
	}
	if (c->ports[i].role != SL_ROLE_SHADOW)
		return fail(l, s, "port", "port '%s' has role %s (expected a port with role "
			    "shadow: %s)", v, c->ports[i].role == SL_ROLE_CLIENT ? "client" :
			    "backend", names[0] ? names : "none configured");
	sh->port = (uint8_t)i;
	if (required(l, s, "sample", "the share of the service's flows to copy, " SHARE_RANGE,
		     &v))
		return -1;
	if (sl_share_parse(v, &sh->sample_bp, msg, sizeof(msg)))
		return fail(l, s, "sample", "%s", msg);
	if ((rc = get(l, s, "filter", FILTER_EXPECT " (or no filter key: every packet)",
		      &v)) < 0)
		return -1;
	if (rc > 0) {
		if (sl_shadow_filter_check(v, msg, sizeof(msg)))
			return fail(l, s, "filter", "%s", msg);
		snprintf(sh->filter, sizeof(sh->filter), "%s", v);
	}
	if ((rc = get(l, s, "mac", "a unicast MAC address, e.g. 02:00:00:00:0d:01", &v)) < 0)
		return -1;
	if (rc > 0) {
		if (sl_shadow_mac_check(v, sh->mac, msg, sizeof(msg)))
			return fail(l, s, "mac", "%s", msg);
		sh->has_mac = 1;
	}
	return 0;
}

static void service_names(const struct sl_config *c, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned k = 0; k < c->nservices && n < len; k++) {
		int w = snprintf(buf + n, len - n, "%s%s", k ? ", " : "", c->services[k].name);

		if (w < 0)
			break;
		n += (size_t)w;
	}
}

int sl_config_slice(const struct sl_config *cfg, const char *name)
{
	for (unsigned i = 0; i < cfg->nslices; i++)
		if (cfg->slices[i].name[0] && !strcmp(cfg->slices[i].name, name))
			return (int)i;
	return -1;
}

#define SRC_EXPECT \
	"client source prefixes ADDR/LEN separated by commas, e.g. 198.51.100.0/24, " \
	"2001:db8::/32"

/* "198.51.100.0/24", "2001:db8::/32", or a bare address (a host). */
int sl_prefix_parse(const char *text, unsigned family, const char *service, struct sl_prefix *p,
		    char *err, size_t errlen)
{
	char t[INET6_ADDRSTRLEN + 8], *slash, canon[INET6_ADDRSTRLEN];
	unsigned long len;
	unsigned max, fam;
	uint8_t addr[16] = { 0 };

	if (strlen(text) >= sizeof(t))
		return sl_seterr(err, errlen, "'%s' is not a prefix (expected %s)", text,
				 SRC_EXPECT);
	snprintf(t, sizeof(t), "%s", text);
	slash = strchr(t, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, t, addr) == 1)
		fam = 4;
	else if (inet_pton(AF_INET6, t, addr) == 1)
		fam = 6;
	else
		fam = 0;
	if (slash)
		*slash = '/';
	if (!fam)
		return sl_seterr(err, errlen, "'%s' is not a prefix (expected %s)", t, SRC_EXPECT);
	max = fam == 4 ? 32 : 128;
	if (slash) {
		const char *d = slash + 1;

		if (!isdigit((unsigned char)*d) || strlen(d) > 3 ||
		    strspn(d, "0123456789") != strlen(d))
			return sl_seterr(err, errlen, "'%s' has no prefix length after '/' "
					 "(expected %s)", t, SRC_EXPECT);
		len = strtoul(d, NULL, 10);
		if (len > max)
			return sl_seterr(err, errlen, "'%s': prefix length %lu is above %u (expected "
					 "an IPv%u prefix length 0..%u)", t, len, max, fam, max);
	} else {
		len = max;
	}
	if (fam != family)
		return sl_seterr(err, errlen, "'%s' is IPv%u but [service %s] has an IPv%u vip "
				 "(expected IPv%u prefixes)", t, fam, service, family, family);
	for (unsigned b = (unsigned)len; b < max; b++)
		if (addr[b / 8] & (0x80u >> (b % 8))) {
			for (; b < max; b++)
				addr[b / 8] &= (uint8_t)~(0x80u >> (b % 8));
			inet_ntop(fam == 4 ? AF_INET : AF_INET6, addr, canon, sizeof(canon));
			return sl_seterr(err, errlen, "'%s' has host bits set (expected %s/%lu)", t,
					 canon, len);
		}
	memset(p, 0, sizeof(*p));
	memcpy(p->addr, addr, 16);
	p->family = (uint8_t)fam;
	p->len = (uint8_t)len;
	return 0;
}

static int load_prefix(struct loader *l, const struct sec *s, const struct sl_cfg_service *svc,
		       char *t, struct sl_prefix *p)
{
	char msg[SL_ERR_LEN];

	if (sl_prefix_parse(t, svc->family, svc->name, p, msg, sizeof(msg)))
		return fail(l, s, "src", "%s", msg);
	return 0;
}

static int load_src(struct loader *l, const struct sec *s, struct sl_cfg_slice *sl,
		    const struct sl_cfg_service *svc, const char *v)
{
	char buf[1024], *item, *next, *items[SL_SLICE_PREFIXES];
	unsigned n = 0;

	if (strlen(v) >= sizeof(buf))
		return fail(l, s, "src", "%zu characters long (expected at most %u %s)",
			    strlen(v), SL_SLICE_PREFIXES, SRC_EXPECT);
	snprintf(buf, sizeof(buf), "%s", v);
	for (item = buf; item; item = next) {
		struct sl_prefix *p;
		char *t;

		next = strchr(item, ',');
		if (next)
			*next++ = '\0';
		t = sl_ini_strip(item);
		if (n == SL_SLICE_PREFIXES)
			return fail(l, s, "src", "more than %u prefixes in '%s' (expected at most "
				    "%u)", SL_SLICE_PREFIXES, v, SL_SLICE_PREFIXES);
		n++;
		if (!*t)
			return fail(l, s, "src", "item %u of '%s' is empty (expected %s)", n, v,
				    SRC_EXPECT);
		p = &sl->src[n - 1];
		if (load_prefix(l, s, svc, t, p))
			return -1;
		for (unsigned j = 0; j + 1 < n; j++)
			if (sl->src[j].len == p->len && !memcmp(sl->src[j].addr, p->addr, 16))
				return fail(l, s, "src", "'%s' is the same prefix as '%s' "
					    "(expected each prefix once)", t, items[j]);
		items[n - 1] = t;
	}
	sl->nprefixes = (uint8_t)n;
	return 0;
}

static int load_slice(struct loader *l, const struct sec *s, unsigned idx)
{
	struct sl_config *c = l->cfg;
	struct sl_cfg_slice *sl = &c->slices[idx];
	char names[SL_ERR_LEN], msg[SL_ERR_LEN];
	const char *v, *src, *filter;
	unsigned same = 0;
	int i, rs, rf;

	snprintf(sl->name, sizeof(sl->name), "%s", s->name);
	if (required(l, s, "service", "the name of a [service NAME]", &v))
		return -1;
	i = sl_config_service(c, v);
	if (i < 0) {
		service_names(c, names, sizeof(names));
		return fail(l, s, "service", "no service named '%s' (services: %s)", v, names);
	}
	sl->service = (uint8_t)i;
	for (unsigned j = 0; j < idx; j++)
		if (c->slices[j].service == sl->service)
			same++;
	if (same >= SL_SLICES_PER_SERVICE)
		return fail(l, s, "service", "[service %s] has %u slices already (expected at most "
			    "%u slices per service)", v, same, SL_SLICES_PER_SERVICE);
	if ((rs = get(l, s, "src", SRC_EXPECT, &src)) < 0)
		return -1;
	if ((rf = get(l, s, "filter", FILTER_EXPECT, &filter)) < 0)
		return -1;
	if (!rs && !rf)
		return fail(l, s, NULL, "neither src nor filter (expected at least one of them, "
			    "e.g. src = 198.51.100.0/24 or filter = tcp dst port 443)");
	if (rs && load_src(l, s, sl, &c->services[i], src))
		return -1;
	if (rf) {
		if (sl_shadow_filter_check(filter, msg, sizeof(msg)))
			return fail(l, s, "filter", "%s", msg);
		snprintf(sl->filter, sizeof(sl->filter), "%s", filter);
	}
	return 0;
}

/* [guard NAME]: syntax and ranges (sl_guard_parse), then the configuration
 * (sl_guard_check). */
const char *const sl_guard_keys[] = {
	"service", "slice", "signal", "threshold", "min_flows", "margin", "alpha", "on_fail",
	"on_inconclusive", "reset", "rollouts", NULL
};

__attribute__((format(printf, 5, 6)))
static int gfail(char *err, size_t errlen, const char *where, const char *key,
		 const char *fmt, ...)
{
	va_list ap;

	if (key)
		sl_seterr(err, errlen, "%s %s: ", where, key);
	else
		sl_seterr(err, errlen, "%s: ", where);
	va_start(ap, fmt);
	sl_vadderr(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

#define SIGNAL_EXPECT "rst, handshake, icmp, ttfb, synack or pushed:NAME"
#define THRESHOLD_EXPECT \
	"1us..1h as a whole number with us, ms, s, m or h, e.g. 500us, 200ms, 2s; a bare " \
	"number is seconds"
#define MARGIN_EXPECT \
	"percentage points 0..below 100, e.g. 0.5pp or 0.5%, or 0"
#define ALPHA_EXPECT "a false-alarm rate above 0 and below 0.5, e.g. 0.01 or 1%"

/* "0.5", "12", "0.005" (digits, optionally '.' and digits): *v and the rest. */
static int parse_decimal(const char *s, double *v, const char **rest)
{
	const char *p = s;
	char buf[32];

	if (!isdigit((unsigned char)*p))
		return -1;
	while (isdigit((unsigned char)*p))
		p++;
	if (*p == '.') {
		if (!isdigit((unsigned char)p[1]))
			return -1;
		for (p++; isdigit((unsigned char)*p); p++)
			;
	}
	if ((size_t)(p - s) >= sizeof(buf))
		return -1;
	memcpy(buf, s, (size_t)(p - s));
	buf[p - s] = '\0';
	*v = strtod(buf, NULL);
	*rest = p;
	return 0;
}

/* Like sl_duration_parse's grammar, with "us" too, into microseconds. */
static int parse_threshold(const char *s, uint32_t *us, bool *range)
{
	static const struct { const char *unit; uint64_t mult; } units[] = {
		{ "us", 1 }, { "ms", 1000 }, { "s", 1000000 }, { "", 1000000 },
		{ "m", 60000000 }, { "h", 3600000000ull },
	};
	const uint64_t max = 3600000000ull;
	const char *p = s;
	uint64_t v = 0;

	*range = false;
	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++)
		if (v <= max)
			v = v * 10 + (uint64_t)(*p - '0');
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(p, units[i].unit))
			continue;
		if (v > max / units[i].mult || v * units[i].mult < 1) {
			*range = true;
			return -1;
		}
		*us = (uint32_t)(v * units[i].mult);
		return 0;
	}
	return -1;
}

/* One of words (NULL-terminated), case-insensitive: its index, or -1. */
static int word(const char *v, const char *const *words)
{
	for (int i = 0; words[i]; i++)
		if (!strcasecmp(v, words[i]))
			return i;
	return -1;
}

int sl_guard_parse(struct sl_cfg_guard *out, const char *name, sl_guard_get_fn *get, void *ctx,
		   const char *where, char *err, size_t errlen)
{
	static const char *const signals[] = { "rst", "handshake", "icmp", "ttfb", "synack",
					       NULL };
	static const uint8_t signal_ids[] = { SL_SIG_RST, SL_SIG_HANDSHAKE, SL_SIG_ICMP,
					      SL_SIG_TTFB, SL_SIG_SYNACK };
	static const char *const fails[] = { "abort", "pause", NULL };
	static const char *const incs[] = { "pause", "hold", NULL };
	static const char *const yesno[] = { "no", "yes", NULL };
	static const char *const rollouts[] = { "all", "named", NULL };
	static const struct {
		const char *key, *expect;
	} expects[] = {
		{ "service", "the name of a [service NAME]" },
		{ "slice", "the name of a [slice NAME] of the service, or no slice key" },
		{ "signal", SIGNAL_EXPECT },
		{ "threshold", THRESHOLD_EXPECT },
		{ "min_flows", "1..1000000000 flows per group" },
		{ "margin", MARGIN_EXPECT },
		{ "alpha", ALPHA_EXPECT },
		{ "on_fail", "abort or pause" },
		{ "on_inconclusive", "pause or hold" },
		{ "reset", "yes or no" },
		{ "rollouts", "all or named" },
	};
	const char *v[sizeof(expects) / sizeof(expects[0])];
	struct sl_cfg_guard g;
	const char *rest;
	uint64_t u;
	bool range;
	double d;
	int k;

	if (!out || !get || !where)
		return sl_seterr(err, errlen, "sl_guard_parse: no guard, getter or place");
	memset(&g, 0, sizeof(g));
	if (!name || !sl_name_valid(name))
		return gfail(err, errlen, where, NULL, "name '%s' is not valid (expected %s)",
			     name ? name : "", SL_NAME_RULE);
	snprintf(g.name, sizeof(g.name), "%s", name);
	g.min_flows = 1000;
	g.alpha = 0.01;
	g.on_fail = SL_GUARD_ABORT;
	g.on_inconclusive = SL_GUARD_INC_PAUSE;
	for (size_t i = 0; i < sizeof(expects) / sizeof(expects[0]); i++) {
		v[i] = get(ctx, expects[i].key);
		if (v[i] && !*v[i])
			return gfail(err, errlen, where, expects[i].key, "empty (expected %s)",
				     expects[i].expect);
	}
	enum { V_SERVICE, V_SLICE, V_SIGNAL, V_THRESHOLD, V_MIN_FLOWS, V_MARGIN, V_ALPHA,
	       V_ON_FAIL, V_ON_INC, V_RESET, V_ROLLOUTS };

	if (!v[V_SERVICE])
		return gfail(err, errlen, where, "service", "missing (expected %s)",
			     expects[V_SERVICE].expect);
	if (!sl_name_valid(v[V_SERVICE]))
		return gfail(err, errlen, where, "service", "'%s' is not a valid service name "
			     "(expected %s)", v[V_SERVICE], SL_NAME_RULE);
	snprintf(g.service, sizeof(g.service), "%s", v[V_SERVICE]);
	if (v[V_SLICE]) {
		if (!sl_name_valid(v[V_SLICE]))
			return gfail(err, errlen, where, "slice", "'%s' is not a valid slice "
				     "name (expected %s)", v[V_SLICE], SL_NAME_RULE);
		snprintf(g.slice, sizeof(g.slice), "%s", v[V_SLICE]);
	}

	if (!v[V_SIGNAL])
		return gfail(err, errlen, where, "signal", "missing (expected %s)",
			     SIGNAL_EXPECT);
	if (!strncasecmp(v[V_SIGNAL], "pushed:", 7)) {
		if (!sl_name_valid(v[V_SIGNAL] + 7))
			return gfail(err, errlen, where, "signal", "'%s': pushed signal name '%s' "
				     "is not valid (expected pushed:NAME, NAME of %s)",
				     v[V_SIGNAL], v[V_SIGNAL] + 7, SL_NAME_RULE);
		g.signal = SL_SIG_PUSHED;
		snprintf(g.pushed, sizeof(g.pushed), "%s", v[V_SIGNAL] + 7);
	} else if ((k = word(v[V_SIGNAL], signals)) >= 0) {
		g.signal = signal_ids[k];
	} else {
		return gfail(err, errlen, where, "signal", "'%s' is not a signal (expected %s)",
			     v[V_SIGNAL], SIGNAL_EXPECT);
	}

	if (g.signal == SL_SIG_TTFB || g.signal == SL_SIG_SYNACK) {
		const char *sig = g.signal == SL_SIG_TTFB ? "ttfb" : "synack";

		if (!v[V_THRESHOLD])
			return gfail(err, errlen, where, "threshold", "missing (expected, with "
				     "signal %s, the time above which a flow is bad: %s)", sig,
				     THRESHOLD_EXPECT);
		if (parse_threshold(v[V_THRESHOLD], &g.threshold_us, &range))
			return gfail(err, errlen, where, "threshold", "'%s' is %s (expected %s)",
				     v[V_THRESHOLD], range ? "out of range" : "not a duration",
				     THRESHOLD_EXPECT);
	} else if (v[V_THRESHOLD]) {
		return gfail(err, errlen, where, "threshold", "not used by signal %s (expected "
			     "threshold only with signal ttfb or synack)", v[V_SIGNAL]);
	}

	if (v[V_MIN_FLOWS]) {
		if (strspn(v[V_MIN_FLOWS], "0123456789") != strlen(v[V_MIN_FLOWS]) ||
		    parse_u64(v[V_MIN_FLOWS], &u))
			return gfail(err, errlen, where, "min_flows", "'%s' is not an integer "
				     "(expected %s)", v[V_MIN_FLOWS], expects[V_MIN_FLOWS].expect);
		if (u < 1 || u > 1000000000)
			return gfail(err, errlen, where, "min_flows", "'%s' is out of range "
				     "(expected %s)", v[V_MIN_FLOWS], expects[V_MIN_FLOWS].expect);
		g.min_flows = (uint32_t)u;
	}

	if (v[V_MARGIN]) {
		const char *m = v[V_MARGIN];

		if (parse_decimal(m, &d, &rest) ||
		    (*rest && strcmp(rest, "pp") && strcmp(rest, "%")))
			return gfail(err, errlen, where, "margin", "'%s' is not a margin "
				     "(expected %s)", m, MARGIN_EXPECT);
		if (!*rest && d != 0)
			return gfail(err, errlen, where, "margin", "'%s' has no unit (expected pp "
				     "or %% after the number, e.g. 0.5pp; only 0 needs none)", m);
		if (d >= 100)
			return gfail(err, errlen, where, "margin", "'%s' is not below 100pp "
				     "(expected %s)", m, MARGIN_EXPECT);
		g.margin = d / 100;
	}

	if (v[V_ALPHA]) {
		const char *a = v[V_ALPHA];

		if (parse_decimal(a, &d, &rest) || (*rest && strcmp(rest, "%")))
			return gfail(err, errlen, where, "alpha", "'%s' is not a fraction or a "
				     "percentage (expected %s)", a, ALPHA_EXPECT);
		if (*rest)
			d /= 100;
		if (!(d > 0 && d < 0.5))
			return gfail(err, errlen, where, "alpha", "'%s' is outside (0, 0.5) "
				     "(expected %s)", a, ALPHA_EXPECT);
		g.alpha = d;
	}

	if (v[V_ON_FAIL]) {
		if ((k = word(v[V_ON_FAIL], fails)) < 0)
			return gfail(err, errlen, where, "on_fail", "'%s' is not an action "
				     "(expected abort or pause)", v[V_ON_FAIL]);
		g.on_fail = (uint8_t)(k ? SL_GUARD_PAUSE : SL_GUARD_ABORT);
	}
	if (v[V_ON_INC]) {
		if ((k = word(v[V_ON_INC], incs)) < 0)
			return gfail(err, errlen, where, "on_inconclusive", "'%s' is not an action "
				     "(expected pause or hold)", v[V_ON_INC]);
		g.on_inconclusive = (uint8_t)(k ? SL_GUARD_INC_HOLD : SL_GUARD_INC_PAUSE);
	}
	if (v[V_RESET]) {
		if ((k = word(v[V_RESET], yesno)) < 0)
			return gfail(err, errlen, where, "reset", "'%s' is not yes or no (expected "
				     "yes to re-decide existing flows on abort, or no)", v[V_RESET]);
		if (k && g.on_fail != SL_GUARD_ABORT)
			return gfail(err, errlen, where, "reset", "yes with on_fail = pause "
				     "(expected reset = yes only with on_fail = abort)");
		g.reset = (uint8_t)k;
	}
	if (v[V_ROLLOUTS]) {
		if ((k = word(v[V_ROLLOUTS], rollouts)) < 0)
			return gfail(err, errlen, where, "rollouts", "'%s' is not all or named "
				     "(expected all: every rollout of the service, or named: only "
				     "when a plan or --guard names it)", v[V_ROLLOUTS]);
		g.named = (uint8_t)k;
	}
	*out = g;
	return 0;
}

int sl_guard_check(const struct sl_cfg_guard *g, const struct sl_config *cfg, const char *where,
		   char *err, size_t errlen)
{
	char names[SL_ERR_LEN];
	size_t n = 0;
	int svc, sl;

	svc = sl_config_service(cfg, g->service);
	if (svc < 0) {
		service_names(cfg, names, sizeof(names));
		return gfail(err, errlen, where, "service", "no service named '%s' (services: %s)",
			     g->service, names);
	}
	if (!g->slice[0])
		return 0;
	names[0] = '\0';
	for (unsigned i = 0; i < cfg->nslices && n < sizeof(names); i++)
		if (cfg->slices[i].service == svc) {
			int w = snprintf(names + n, sizeof(names) - n, "%s%s", n ? ", " : "",
					 cfg->slices[i].name);

			if (w < 0)
				break;
			n += (size_t)w;
		}
	sl = sl_config_slice(cfg, g->slice);
	if (sl < 0)
		return gfail(err, errlen, where, "slice", "no slice named '%s' (slices of "
			     "[service %s]: %s)", g->slice, g->service, n ? names : "none");
	if (cfg->slices[sl].service != svc)
		return gfail(err, errlen, where, "slice", "slice '%s' belongs to [service %s] "
			     "(expected a slice of [service %s]: %s)", g->slice,
			     cfg->services[cfg->slices[sl].service].name, g->service,
			     n ? names : "none configured");
	return 0;
}

struct sec_ctx {
	struct loader *l;
	const struct sec *s;
};

static const char *sec_value(void *ctx, const char *key)
{
	struct sec_ctx *c = ctx;

	return value(c->l, c->s, key);
}

static int load_guard(struct loader *l, const struct sec *s, struct sl_cfg_guard *g)
{
	struct sec_ctx ctx = { l, s };
	char where[sizeof(l->cfg->path) + 64];

	snprintf(where, sizeof(where), "%s: [%s]", l->path, s->full);
	if (sl_guard_parse(g, s->name, sec_value, &ctx, where, l->err, l->errlen) ||
	    sl_guard_check(g, l->cfg, where, l->err, l->errlen))
		return -1;
	return 0;
}

/* A path key: non-empty, fits its buffer. */
static int path_key(struct loader *l, const struct sec *s, const char *key, char *buf,
		    size_t len)
{
	const char *v = value(l, s, key);

	if (!v)
		return 0;
	if (!*v || strlen(v) >= len)
		return fail(l, s, key, "'%s' is not a usable path (expected 1..%zu characters)",
			    v, len - 1);
	snprintf(buf, len, "%s", v);
	return 0;
}

/* [control] group = NAME or GID: the operator group (besides root) that may
 * use the control socket; a name must exist in the group database. */
static int control_group(struct loader *l, const struct sec *s)
{
	struct sl_config *c = l->cfg;
	struct group gr, *res = NULL;
	char buf[16384];
	const char *v;
	uint64_t gid;
	int rc;

	if ((rc = get(l, s, "group", "a group name or a numeric gid", &v)) <= 0)
		return rc;
	if (strlen(v) >= sizeof(c->control_group))
		return fail(l, s, "group", "'%s' is too long (expected a group name of at most "
			    "%zu characters or a numeric gid)", v, sizeof(c->control_group) - 1);
	if (isdigit((unsigned char)v[0])) {
		if (parse_u64(v, &gid) || gid >= UINT32_MAX)
			return fail(l, s, "group", "'%s' is not a gid (expected a group name or a "
				    "numeric gid 0..4294967294)", v);
	} else {
		for (const char *p = v; *p; p++)
			if (!isalnum((unsigned char)*p) && !strchr("_-.", *p))
				return fail(l, s, "group", "'%s' is not a group name (expected "
					    "letters, digits, '_', '-', '.', or a numeric gid)", v);
		rc = getgrnam_r(v, &gr, buf, sizeof(buf), &res);
		if (rc || !res)
			return fail(l, s, "group", "no group '%s' on this system%s%s (expected a "
				    "group of the group database, e.g. `groupadd %s`, or a numeric "
				    "gid)", v, rc ? ": " : "", rc ? strerror(rc) : "", v);
		gid = res->gr_gid;
	}
	snprintf(c->control_group, sizeof(c->control_group), "%s", v);
	c->control_gid = (uint32_t)gid;
	return 0;
}

int sl_listen_addr_parse(const char *s, struct sockaddr_storage *ss, unsigned *len, char *err,
			 size_t errlen)
{
	static const char expect[] = "expected ADDRESS:PORT with a numeric IPv4 address or a "
				     "bracketed IPv6 one and a port 1..65535, e.g. 127.0.0.1:9469 "
				     "or [::1]:9469";
	const char *colon = strrchr(s, ':');
	char host[INET6_ADDRSTRLEN + 1];
	size_t hlen;
	uint64_t port;

	memset(ss, 0, sizeof(*ss));
	if (!colon || colon == s || parse_u64(colon + 1, &port) || port < 1 || port > 65535)
		return sl_seterr(err, errlen, "'%s' is not an address and port (%s)", s, expect);
	hlen = (size_t)(colon - s);
	if (s[0] == '[') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

		if (hlen < 3 || s[hlen - 1] != ']' || hlen - 2 >= sizeof(host))
			return sl_seterr(err, errlen, "'%s': not a bracketed IPv6 address (%s)", s,
					 expect);
		memcpy(host, s + 1, hlen - 2);
		host[hlen - 2] = 0;
		if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
			return sl_seterr(err, errlen, "'%s': '%s' is not an IPv6 address (%s)", s,
					 host, expect);
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a6);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)ss;

		if (hlen >= sizeof(host))
			return sl_seterr(err, errlen, "'%s': not an IPv4 address (%s)", s, expect);
		memcpy(host, s, hlen);
		host[hlen] = 0;
		if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
			return sl_seterr(err, errlen, "'%s': '%s' is not a numeric IPv4 address (%s)",
					 s, host, expect);
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		*len = sizeof(*a4);
	}
	return 0;
}

static int load_control(struct loader *l, const struct sec *s)
{
	struct sl_config *c = l->cfg;
	char msg[SL_ERR_LEN] = "";
	const char *v;
	uint32_t ms = 0;
	uint64_t u;
	int rc;

	if (!s)
		return 0;
	v = value(l, s, "instance");
	if (v) {
		if (!sl_name_valid(v))
			return fail(l, s, "instance", "'%s' is not a valid instance name "
				    "(expected %s)", v, SL_NAME_RULE);
		snprintf(c->instance, sizeof(c->instance), "%s", v);
	}
	if (path_key(l, s, "bpffs", c->bpffs, sizeof(c->bpffs)) ||
	    path_key(l, s, "socket", c->socket_path, sizeof(c->socket_path)) ||
	    path_key(l, s, "journal", c->journal_path, sizeof(c->journal_path)) ||
	    path_key(l, s, "bpf_object", c->bpf_object, sizeof(c->bpf_object)))
		return -1;
	v = value(l, s, "ack_timeout");
	if (v && sl_duration_parse(v, &c->ack_timeout_ms, msg, sizeof(msg)))
		return fail(l, s, "ack_timeout", "%s", msg);
	if (control_group(l, s))
		return -1;
	v = value(l, s, "idle_timeout");
	if (v && (sl_duration_parse(v, &ms, msg, sizeof(msg)) || ms < 100 ||
		  ms > 24u * 3600 * 1000))
		return msg[0] ? fail(l, s, "idle_timeout", "%s", msg)
			      : fail(l, s, "idle_timeout", "'%s' is out of range (expected "
				     "100ms..24h, e.g. 30s)", v);
	if (v)
		c->idle_timeout_ms = ms;
	if ((rc = int_key(l, s, "max_connections", 16, 1u << 20,
			  "16..1048576 connections", &u)) < 0)
		return -1;
	if (rc > 0)
		c->max_connections = (uint32_t)u;
	if ((rc = int_key(l, s, "max_connections_per_uid", 1, 1u << 20,
			  "1..1048576 connections of one uid (root is not limited)", &u)) < 0)
		return -1;
	if (rc > 0)
		c->max_connections_per_uid = (uint32_t)u;
	/* 0 keeps one file for ever (a restart replays it all) */
	if ((rc = int_key(l, s, "journal_rotate", 0, 10000000,
			  "0 (never) or 100..10000000 entries per file", &u)) < 0)
		return -1;
	if (rc > 0 && u > 0 && u < 100)
		return fail(l, s, "journal_rotate", "'%llu' is out of range (expected 0 "
			    "(never) or 100..10000000 entries per file)", (unsigned long long)u);
	if (rc > 0)
		c->journal_rotate = (uint32_t)u;
	if ((rc = int_key(l, s, "journal_keep", 1, 1000, "1..1000 rotated files", &u)) < 0)
		return -1;
	if (rc > 0)
		c->journal_keep = (uint32_t)u;
	/* metrics = ADDRESS:PORT serves Prometheus's /metrics there; empty: off */
	v = value(l, s, "metrics");
	if (v && *v) {
		struct sockaddr_storage ss;
		unsigned len;

		if (strlen(v) >= sizeof(c->metrics))
			return fail(l, s, "metrics", "'%s' is too long (expected ADDRESS:PORT of at "
				    "most %zu characters)", v, sizeof(c->metrics) - 1);
		if (sl_listen_addr_parse(v, &ss, &len, msg, sizeof(msg)))
			return fail(l, s, "metrics", "%s", msg);
		snprintf(c->metrics, sizeof(c->metrics), "%s", v);
	}
	return 0;
}

static void set_defaults(struct sl_config *c)
{
	c->hash_seed = 0x5eed;
	c->flow_capacity = 1048576;
	c->maglev_size = SL_MAGLEV_MAX;
	c->tcp_syn_timeout_ms = 30 * 1000;
	c->tcp_timeout_ms = 900 * 1000;
	c->tcp_fin_timeout_ms = 120 * 1000;
	c->tcp_closed_timeout_ms = 10 * 1000;
	c->udp_timeout_ms = 300 * 1000;
	c->other = SL_OTHER_FLOOD;
	c->malformed = SL_MALFORMED_DROP;
	c->mbuf_size = 2176;
	c->rx_desc = 1024;
	c->tx_desc = 1024;
	snprintf(c->bpffs, sizeof(c->bpffs), "/sys/fs/bpf");
	c->ack_timeout_ms = 1000;
	c->idle_timeout_ms = 30 * 1000;
	c->max_connections = 4096;
	c->max_connections_per_uid = 64;
	c->journal_rotate = 10000;
	c->journal_keep = 10;
	c->handshake_timeout_ms = 3000;
}

static int validate(struct loader *l)
{
	struct sl_config *c = l->cfg;
	const struct sec *dp = NULL, *ctl = NULL;

	for (unsigned i = 0; i < l->nsecs; i++) {
		const struct sec *s = &l->secs[i];

		switch (s->kind) {
		case SEC_DATAPLANE:
			dp = s;
			break;
		case SEC_PORT:
			l->port_sec[c->nports++] = s;
			break;
		case SEC_GROUP:
			l->group_sec[c->ngroups++] = s;
			break;
		case SEC_SERVICE:
			l->service_sec[c->nservices++] = s;
			break;
		case SEC_SHADOW:
			l->shadow_sec[c->nshadows++] = s;
			break;
		case SEC_CONTROL:
			ctl = s;
			break;
		case SEC_SLICE:
			l->slice_sec[c->nslices++] = s;
			break;
		case SEC_GUARD:
			l->guard_sec[c->nguards++] = s;
			break;
		}
	}
	set_defaults(c);
	if (load_dataplane(l, dp) || load_control(l, ctl) || load_ports(l) || load_groups(l))
		return -1;
	if (c->nservices == 0)
		return fail(l, NULL, NULL, "no [service NAME] section (expected 1..%u services)",
			    SL_MAX_SERVICES);
	for (unsigned i = 0; i < c->nservices; i++)
		if (load_service(l, i))
			return -1;
	for (unsigned i = 0; i < c->nshadows; i++)
		if (load_shadow(l, l->shadow_sec[i], &c->shadows[i]))
			return -1;
	for (unsigned i = 0; i < c->nslices; i++)
		if (load_slice(l, l->slice_sec[i], i))
			return -1;
	for (unsigned i = 0; i < c->nguards; i++)
		if (load_guard(l, l->guard_sec[i], &c->guards[i]))
			return -1;
	return 0;
}

int sl_config_load(const char *path, struct sl_config *cfg, char *err, size_t errlen)
{
	struct loader *l;
	char *text = NULL, msg[1100];
	size_t len;
	int rc = -1;

	if (!cfg)
		return sl_seterr(err, errlen, "sl_config_load: no configuration to fill");
	memset(cfg, 0, sizeof(*cfg));
	if (!path)
		return sl_seterr(err, errlen, "sl_config_load: no file name");
	l = calloc(1, sizeof(*l));
	if (!l)
		return sl_seterr(err, errlen, "%s: cannot load: out of memory", path);
	l->path = path;
	l->cfg = cfg;
	l->err = err;
	l->errlen = err ? errlen : 0;
	if (!err || !errlen) { /* still validate; the message just has nowhere to go */
		static _Thread_local char sink[SL_ERR_LEN];

		l->err = sink;
		l->errlen = sizeof(sink);
	}
	if (strlen(path) >= sizeof(cfg->path)) {
		fail(l, NULL, NULL, "file name too long (expected at most %zu characters)",
		     sizeof(cfg->path) - 1);
		goto out;
	}
	if (read_file(l, &text, &len))
		goto out;

	l->dict = sl_ini_parse(text, len, "[SECTION], KEY = VALUE or a ; comment", msg,
			       sizeof(msg));
	if (!l->dict) {
		fail(l, NULL, NULL, "%s", msg);
		goto out;
	}
	if (scan(l, text) || validate(l))
		goto out;
	snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	rc = 0;
out:
	if (l->dict)
		iniparser_freedict(l->dict);
	free(text);
	free(l);
	if (rc)
		memset(cfg, 0, sizeof(*cfg));
	return rc;
}

int sl_config_port(const struct sl_config *cfg, const char *name)
{
	for (unsigned i = 0; i < cfg->nports; i++)
		if (!strcmp(cfg->ports[i].name, name))
			return (int)i;
	return -1;
}

int sl_config_group(const struct sl_config *cfg, const char *name)
{
	for (unsigned i = 0; i < cfg->ngroups; i++)
		if (!strcmp(cfg->groups[i].name, name))
			return (int)i;
	return -1;
}

int sl_config_service(const struct sl_config *cfg, const char *name)
{
	for (unsigned i = 0; i < cfg->nservices; i++)
		if (cfg->services[i].name[0] && !strcmp(cfg->services[i].name, name))
			return (int)i;
	return -1;
}
