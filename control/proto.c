/* Request validation and reply lines of the control protocol. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "guard.h"
#include "proto.h"

enum {
	F_SERVICE = 1 << 0,
	F_GROUP = 1 << 1,
	F_SHARE = 1 << 2,
	F_MODE = 1 << 3,
	F_WEIGHTS = 1 << 4,
	F_STEPS = 1 << 5,
	F_FULL = 1 << 6,
	F_LIMIT = 1 << 7,
	F_NAME = 1 << 8,
	F_FILTER = 1 << 9,
	F_SAMPLE = 1 << 10,
	F_PORT = 1 << 11,
	F_MAC = 1 << 12,
	F_SLICE = 1 << 13,
	F_SIGNAL = 1 << 14,
	F_TOTAL = 1 << 15,
	F_BAD = 1 << 16,
	F_GUARDS = 1 << 17,
	F_GUARD_DEFS = 1 << 18,
	F_SRC = 1 << 19,
	F__COUNT = 20,
};

static const char *const field_names[F__COUNT] = {
	"service", "group", "share", "mode", "weights", "steps", "full", "limit",
	"name", "filter", "sample", "port", "mac", "slice", "signal", "total", "bad",
	"guards", "guard_defs", "src",
};

struct cmd_def {
	const char *name;
	unsigned allowed;
	unsigned required;
};

static const struct cmd_def cmds[SL_CMD__COUNT] = {
	[SL_CMD_STATUS] = { "status", F_SERVICE, 0 },
	[SL_CMD_SWITCH] = { "switch", F_SERVICE | F_GROUP | F_MODE, F_SERVICE | F_GROUP },
	[SL_CMD_CANARY] = { "canary", F_SERVICE | F_SHARE | F_MODE, F_SERVICE | F_SHARE },
	[SL_CMD_WEIGHTS] = { "weights", F_SERVICE | F_WEIGHTS | F_MODE, F_SERVICE | F_WEIGHTS },
	[SL_CMD_ROLLOUT_START] = { "rollout_start", F_SERVICE | F_STEPS | F_GUARDS | F_GUARD_DEFS,
				   F_SERVICE | F_STEPS },
	[SL_CMD_ROLLOUT_STATUS] = { "rollout_status", F_SERVICE, 0 },
	[SL_CMD_ROLLOUT_PAUSE] = { "rollout_pause", F_SERVICE, 0 },
	[SL_CMD_ROLLOUT_RESUME] = { "rollout_resume", F_SERVICE, 0 },
	[SL_CMD_ROLLOUT_PROMOTE] = { "rollout_promote", F_SERVICE | F_FULL, 0 },
	[SL_CMD_ROLLOUT_ABORT] = { "rollout_abort", F_SERVICE | F_MODE, 0 },
	[SL_CMD_UNDO] = { "undo", F_SERVICE, F_SERVICE },
	[SL_CMD_HISTORY] = { "history", F_SERVICE | F_LIMIT, 0 },
	[SL_CMD_STATS] = { "stats", 0, 0 },
	[SL_CMD_RELOAD] = { "reload", 0, 0 },
	[SL_CMD_VERSION] = { "version", 0, 0 },
	[SL_CMD_SHADOW_ADD] = { "shadow_add", F_NAME | F_SERVICE | F_FILTER | F_SAMPLE | F_PORT |
				F_MAC, F_NAME | F_SERVICE | F_SAMPLE | F_PORT },
	[SL_CMD_SHADOW_REMOVE] = { "shadow_remove", F_NAME, F_NAME },
	[SL_CMD_SHADOW_LIST] = { "shadow_list", 0, 0 },
	[SL_CMD_EVIDENCE_PUSH] = { "evidence_push", F_SERVICE | F_GROUP | F_SLICE | F_SIGNAL |
				   F_TOTAL | F_BAD, F_SERVICE | F_GROUP | F_SIGNAL | F_TOTAL |
				   F_BAD },
	[SL_CMD_GUARD_LIST] = { "guard_list", F_SERVICE, 0 },
	[SL_CMD_SLICE_LIST] = { "slice_list", F_SERVICE, 0 },
	[SL_CMD_SLICE_ADD] = { "slice_add", F_NAME | F_SERVICE | F_SRC | F_FILTER,
			       F_NAME | F_SERVICE },
	[SL_CMD_SLICE_REMOVE] = { "slice_remove", F_NAME, F_NAME },
};

static const char *const errcode_names[] = {
	[SL_E_NONE] = "ok",
	[SL_E_BAD_REQUEST] = "bad_request",
	[SL_E_UNKNOWN_COMMAND] = "unknown_command",
	[SL_E_UNKNOWN_SERVICE] = "unknown_service",
	[SL_E_UNKNOWN_GROUP] = "unknown_group",
	[SL_E_BAD_SHARE] = "bad_share",
	[SL_E_BAD_MODE] = "bad_mode",
	[SL_E_BAD_PLAN] = "bad_plan",
	[SL_E_BAD_STATE] = "bad_state",
	[SL_E_BUSY] = "busy",
	[SL_E_RELOAD_INVALID] = "reload_invalid",
	[SL_E_INTERNAL] = "internal",
	[SL_E_BAD_FILTER] = "bad_filter",
	[SL_E_BAD_PORT] = "bad_port",
	[SL_E_UNKNOWN_SHADOW] = "unknown_shadow",
	[SL_E_UNKNOWN_SLICE] = "unknown_slice",
	[SL_E_BAD_EVIDENCE] = "bad_evidence",
	[SL_E_BAD_GUARD] = "bad_guard",
};

const char *sl_cmd_name(enum sl_cmd c)
{
	return (unsigned)c < SL_CMD__COUNT ? cmds[c].name : NULL;
}

int sl_cmd_from_name(const char *name)
{
	for (int i = 0; i < SL_CMD__COUNT; i++)
		if (!strcmp(cmds[i].name, name))
			return i;
	return -1;
}

const char *sl_errcode_name(enum sl_errcode c)
{
	return (unsigned)c < SL_E__COUNT ? errcode_names[c] : "internal";
}

int sl_error_set(struct sl_error *e, enum sl_errcode code, const char *field, const char *fmt,
		 ...)
{
	va_list ap;

	e->code = code;
	snprintf(e->field, sizeof(e->field), "%s", field ? field : "");
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return -1;
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "something else";
}

static void list_fields(char *buf, size_t len, unsigned mask)
{
	size_t n = (size_t)snprintf(buf, len, "id, cmd");

	for (int i = 0; i < F__COUNT && n < len; i++)
		if (mask & (1u << i))
			n += (size_t)snprintf(buf + n, len - n, ", %s", field_names[i]);
}

static void list_cmds(char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; i < SL_CMD__COUNT && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? ", " : "", cmds[i].name);
}

/* A name field: a non-empty string that fits (existence is checked later). */
static int get_name(const json_t *v, const char *field, char *out, struct sl_error *e)
{
	const char *s;

	if (!json_is_string(v))
		return sl_error_set(e, SL_E_BAD_REQUEST, field, "field '%s': expected a string, "
				    "got %s", field, type_name(v));
	s = json_string_value(v);
	if (!*s)
		return sl_error_set(e, SL_E_BAD_REQUEST, field, "field '%s': empty (expected a "
				    "name)", field);
	if (strlen(s) >= SL_PROTO_NAME_MAX)
		return sl_error_set(e, SL_E_BAD_REQUEST, field, "field '%s': %zu characters "
				    "(names have at most %u)", field, strlen(s), SL_NAME_LEN - 1);
	snprintf(out, SL_PROTO_NAME_MAX, "%s", s);
	return 0;
}

/* A share string; what names where it is ("share", "weights: green"). */
static int get_share(const json_t *v, const char *field, const char *what, uint16_t *bp,
		     struct sl_error *e)
{
	char msg[SL_ERR_LEN];

	if (!json_is_string(v))
		return sl_error_set(e, SL_E_BAD_REQUEST, field, "%s: expected a string such as "
				    "\"5%%\", \"0.5%%\" or \"50bp\", got %s", what, type_name(v));
	if (sl_share_parse(json_string_value(v), bp, msg, sizeof(msg)))
		return sl_error_set(e, SL_E_BAD_SHARE, field, "%s: %s", what, msg);
	return 0;
}

static int get_mode(const json_t *v, struct sl_req *r, struct sl_error *e)
{
	const char *s;

	if (!json_is_string(v))
		return sl_error_set(e, SL_E_BAD_MODE, "mode", "mode: expected \"sticky\" or "
				    "\"reset\", got %s", type_name(v));
	s = json_string_value(v);
	if (!strcmp(s, "sticky"))
		r->reset = 0;
	else if (!strcmp(s, "reset"))
		r->reset = 1;
	else
		return sl_error_set(e, SL_E_BAD_MODE, "mode", "mode: '%s' is not a mode "
				    "(expected \"sticky\" or \"reset\")", s);
	r->has_mode = 1;
	return 0;
}

static int get_weights(const json_t *v, struct sl_req *r, struct sl_error *e)
{
	const char *group;
	json_t *share;
	char what[SL_PROTO_NAME_MAX + 16];
	uint32_t sum = 0;

	if (!json_is_object(v))
		return sl_error_set(e, SL_E_BAD_REQUEST, "weights", "field 'weights': expected an "
				    "object of group -> share such as {\"green\": \"20%%\"}, "
				    "got %s", type_name(v));
	if (json_object_size(v) == 0 || json_object_size(v) > 2)
		return sl_error_set(e, SL_E_BAD_REQUEST, "weights", "weights: %zu groups given "
				    "(expected one or two: the service's champion and "
				    "challenger, e.g. {\"green\": \"20%%\"})", json_object_size(v));
	json_object_foreach((json_t *)v, group, share) {
		struct sl_weight *w = &r->weights[r->nweights];

		if (!*group || strlen(group) >= SL_PROTO_NAME_MAX)
			return sl_error_set(e, SL_E_BAD_REQUEST, "weights", "weights: '%.40s' is "
					    "not a group name", group);
		snprintf(w->group, sizeof(w->group), "%s", group);
		snprintf(what, sizeof(what), "weights: %s", group);
		if (get_share(share, "weights", what, &w->share_bp, e))
			return -1;
		sum += w->share_bp;
		r->nweights++;
	}
	if (r->nweights == 2 && sum != SL_SHARE_MAX_BP)
		return sl_error_set(e, SL_E_BAD_SHARE, "weights", "weights: %s %.2f %% + %s %.2f "
				    "%% = %.2f %% (expected a total of 100 %%)",
				    r->weights[0].group, r->weights[0].share_bp / 100.0,
				    r->weights[1].group, r->weights[1].share_bp / 100.0,
				    sum / 100.0);
	return 0;
}

static int get_step(const json_t *v, uint32_t i, struct sl_ro_step *st, struct sl_error *e)
{
	const char *key;
	json_t *val, *share = NULL, *dwell = NULL, *pause = NULL;
	char what[48], msg[SL_ERR_LEN];

	if (!json_is_object(v))
		return sl_error_set(e, SL_E_BAD_REQUEST, "steps", "steps: step %u: expected an "
				    "object such as {\"share\": \"5%%\", \"dwell\": \"60s\"}, got %s",
				    i + 1, type_name(v));
	json_object_foreach((json_t *)v, key, val) {
		if (!strcmp(key, "share"))
			share = val;
		else if (!strcmp(key, "dwell"))
			dwell = val;
		else if (!strcmp(key, "pause"))
			pause = val;
		else
			return sl_error_set(e, SL_E_BAD_REQUEST, "steps", "steps: step %u: unknown "
					    "field '%s' (expected share, dwell, pause)", i + 1, key);
	}
	memset(st, 0, sizeof(*st));
	if (!share)
		return sl_error_set(e, SL_E_BAD_PLAN, "steps", "steps: step %u: no share "
				    "(expected e.g. {\"share\": \"5%%\", \"dwell\": \"60s\"})", i + 1);
	snprintf(what, sizeof(what), "steps: step %u: share", i + 1);
	if (get_share(share, "steps", what, &st->share_bp, e))
		return -1;
	if (pause && !json_is_boolean(pause))
		return sl_error_set(e, SL_E_BAD_REQUEST, "steps", "steps: step %u: pause: "
				    "expected true or false, got %s", i + 1, type_name(pause));
	if (pause && json_is_true(pause)) {
		if (dwell)
			return sl_error_set(e, SL_E_BAD_PLAN, "steps", "steps: step %u: both dwell "
					    "and pause (a pause step waits for resume or promote: "
					    "expected one of them)", i + 1);
		st->pause = 1;
		return 0;
	}
	if (!dwell)
		return sl_error_set(e, SL_E_BAD_PLAN, "steps", "steps: step %u: no dwell "
				    "(expected \"dwell\": \"60s\" or \"pause\": true)", i + 1);
	if (!json_is_string(dwell))
		return sl_error_set(e, SL_E_BAD_REQUEST, "steps", "steps: step %u: dwell: "
				    "expected a string such as \"60s\", got %s", i + 1,
				    type_name(dwell));
	if (sl_duration_parse(json_string_value(dwell), &st->dwell_ms, msg, sizeof(msg)))
		return sl_error_set(e, SL_E_BAD_PLAN, "steps", "steps: step %u: dwell: %s",
				    i + 1, msg);
	return 0;
}

static int get_steps(const json_t *v, struct sl_req *r, struct sl_error *e)
{
	char msg[SL_ERR_LEN];
	size_t n;

	if (!json_is_array(v))
		return sl_error_set(e, SL_E_BAD_REQUEST, "steps", "field 'steps': expected an "
				    "array of steps, got %s", type_name(v));
	n = json_array_size(v);
	if (n == 0)
		return sl_error_set(e, SL_E_BAD_PLAN, "steps", "steps: empty (expected 1..%u "
				    "steps)", SL_RO_MAX_STEPS);
	if (n > SL_RO_MAX_STEPS)
		return sl_error_set(e, SL_E_BAD_PLAN, "steps", "steps: %zu steps (expected at "
				    "most %u)", n, SL_RO_MAX_STEPS);
	for (uint32_t i = 0; i < n; i++)
		if (get_step(json_array_get(v, i), i, &r->steps[i], e))
			return -1;
	r->nsteps = (uint32_t)n;
	if (sl_ro_check_steps(r->steps, r->nsteps, msg, sizeof(msg)))
		return sl_error_set(e, SL_E_BAD_PLAN, "steps", "steps: %s", msg);
	return 0;
}

/* A pcap-filter expression, compiled by libpcap here: a bad one never
 * reaches a table. */
static int get_filter(const json_t *v, struct sl_req *r, struct sl_error *e)
{
	char msg[SL_ERR_LEN];

	if (!json_is_string(v))
		return sl_error_set(e, SL_E_BAD_REQUEST, "filter", "field 'filter': expected a "
				    "string such as \"tcp dst port 443\", got %s", type_name(v));
	if (sl_shadow_filter_check(json_string_value(v), msg, sizeof(msg)))
		return sl_error_set(e, SL_E_BAD_FILTER, "filter", "filter: %s", msg);
	snprintf(r->filter, sizeof(r->filter), "%s", json_string_value(v));
	return 0;
}

static int get_mac(const json_t *v, struct sl_req *r, struct sl_error *e)
{
	char msg[SL_ERR_LEN];

	if (!json_is_string(v))
		return sl_error_set(e, SL_E_BAD_REQUEST, "mac", "field 'mac': expected a string "
				    "such as \"02:00:00:00:0d:01\", got %s", type_name(v));
	if (sl_shadow_mac_check(json_string_value(v), r->mac, msg, sizeof(msg)))
		return sl_error_set(e, SL_E_BAD_REQUEST, "mac", "mac: %s", msg);
	r->has_mac = 1;
	return 0;
}

static int get_count(const json_t *v, const char *field, uint64_t *out, struct sl_error *e)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > SL_PROTO_EVIDENCE_MAX)
		return sl_error_set(e, json_is_integer(v) ? SL_E_BAD_EVIDENCE : SL_E_BAD_REQUEST,
				    field, "field '%s': expected a whole number of flows "
				    "0..%llu, got %s", field, SL_PROTO_EVIDENCE_MAX,
				    json_is_integer(v) ? "one out of range" : type_name(v));
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

/* A pushed signal's name ("pushed:" in front is taken too). */
static int get_signal(const json_t *v, struct sl_req *r, struct sl_error *e)
{
	const char *s;

	if (get_name(v, "signal", r->signal, e))
		return -1;
	s = r->signal;
	if (!strncmp(s, "pushed:", 7))
		s += 7;
	if (!sl_name_valid(s))
		return sl_error_set(e, SL_E_BAD_EVIDENCE, "signal", "signal: '%s' is not a pushed "
				    "signal's name (expected %s, as a guard's signal = pushed:NAME "
				    "names it)", r->signal, SL_NAME_RULE);
	memmove(r->signal, s, strlen(s) + 1);
	return 0;
}

static int get_guard_names(const json_t *v, struct sl_req *r, struct sl_error *e)
{
	size_t i;
	const json_t *x;

	if (!json_is_array(v))
		return sl_error_set(e, SL_E_BAD_REQUEST, "guards", "field 'guards': expected an "
				    "array of guard names, got %s", type_name(v));
	if (json_array_size(v) > SL_RO_MAX_GUARDS)
		return sl_error_set(e, SL_E_BAD_GUARD, "guards", "guards: %zu names (a rollout has "
				    "at most %u guards)", json_array_size(v), SL_RO_MAX_GUARDS);
	json_array_foreach(v, i, x) {
		const char *s = json_string_value(x);

		if (!s || !sl_name_valid(s))
			return sl_error_set(e, SL_E_BAD_GUARD, "guards", "guards[%zu]: %s (expected "
					    "a guard's name: %s)", i, s ? "not a valid name" :
					    type_name(x), SL_NAME_RULE);
		for (size_t k = 0; k < i; k++)
			if (!strcmp(r->guard_names[k], s))
				return sl_error_set(e, SL_E_BAD_GUARD, "guards", "guards[%zu]: '%s' "
						    "given twice", i, s);
		snprintf(r->guard_names[i], sizeof(r->guard_names[i]), "%s", s);
	}
	r->nguard_names = (uint32_t)json_array_size(v);
	return 0;
}

static int get_guard_defs(const json_t *v, struct sl_req *r, struct sl_error *e)
{
	char msg[SL_ERR_LEN], where[48];
	size_t i;
	const json_t *x;

	if (!json_is_array(v))
		return sl_error_set(e, SL_E_BAD_REQUEST, "guard_defs", "field 'guard_defs': "
				    "expected an array of guard objects, got %s", type_name(v));
	if (json_array_size(v) > SL_RO_MAX_GUARDS)
		return sl_error_set(e, SL_E_BAD_GUARD, "guard_defs", "guard_defs: %zu guards (a "
				    "rollout has at most %u)", json_array_size(v),
				    SL_RO_MAX_GUARDS);
	json_array_foreach(v, i, x) {
		snprintf(where, sizeof(where), "guard_defs[%zu]", i);
		if (sl_guard_def_from_json(&r->guard_defs[i], x, where, msg, sizeof(msg)))
			return sl_error_set(e, SL_E_BAD_GUARD, "guard_defs", "%s", msg);
		for (size_t k = 0; k < i; k++)
			if (!strcmp(r->guard_defs[k].name, r->guard_defs[i].name))
				return sl_error_set(e, SL_E_BAD_GUARD, "guard_defs", "%s: guard '%s' "
						    "defined twice", where, r->guard_defs[i].name);
	}
	r->nguard_defs = (uint32_t)json_array_size(v);
	return 0;
}

static int get_field(const char *key, const json_t *v, struct sl_req *r, struct sl_error *e)
{
	if (!strcmp(key, "slice"))
		return get_name(v, "slice", r->slice, e);
	if (!strcmp(key, "src")) {
		if (!json_is_string(v) || !*json_string_value(v) ||
		    strlen(json_string_value(v)) >= sizeof(r->src))
			return sl_error_set(e, SL_E_BAD_REQUEST, "src", "field 'src': expected a "
					    "string of client prefixes such as \"198.51.100.0/24, "
					    "2001:db8::/32\" (at most %zu characters), got %s",
					    sizeof(r->src) - 1, json_is_string(v) ?
					    "another string" : type_name(v));
		snprintf(r->src, sizeof(r->src), "%s", json_string_value(v));
		return 0;
	}
	if (!strcmp(key, "signal"))
		return get_signal(v, r, e);
	if (!strcmp(key, "total"))
		return get_count(v, "total", &r->total, e);
	if (!strcmp(key, "bad")) {
		if (get_count(v, "bad", &r->bad, e))
			return -1;
		/* total is read first (field order) */
		if (r->bad > r->total)
			return sl_error_set(e, SL_E_BAD_EVIDENCE, "bad", "bad: %llu bad of %llu "
					    "(expected bad <= total)", (unsigned long long)r->bad,
					    (unsigned long long)r->total);
		return 0;
	}
	if (!strcmp(key, "guards"))
		return get_guard_names(v, r, e);
	if (!strcmp(key, "guard_defs"))
		return get_guard_defs(v, r, e);
	if (!strcmp(key, "service")) {
		r->has_service = 1;
		return get_name(v, "service", r->service, e);
	}
	if (!strcmp(key, "group"))
		return get_name(v, "group", r->group, e);
	if (!strcmp(key, "share"))
		return get_share(v, "share", "share", &r->share_bp, e);
	if (!strcmp(key, "mode"))
		return get_mode(v, r, e);
	if (!strcmp(key, "weights"))
		return get_weights(v, r, e);
	if (!strcmp(key, "steps"))
		return get_steps(v, r, e);
	if (!strcmp(key, "full")) {
		if (!json_is_boolean(v))
			return sl_error_set(e, SL_E_BAD_REQUEST, "full", "field 'full': expected "
					    "true or false, got %s", type_name(v));
		r->full = json_is_true(v);
		return 0;
	}
	if (!strcmp(key, "name"))
		return get_name(v, "name", r->name, e);
	if (!strcmp(key, "port"))
		return get_name(v, "port", r->port, e);
	if (!strcmp(key, "sample"))
		return get_share(v, "sample", "sample", &r->sample_bp, e);
	if (!strcmp(key, "filter"))
		return get_filter(v, r, e);
	if (!strcmp(key, "mac"))
		return get_mac(v, r, e);
	/* limit */
	if (json_is_integer(v) && !sl_history_limit_ok(json_integer_value(v)))
		return sl_error_set(e, SL_E_BAD_REQUEST, "limit", "field 'limit': "
				    SL_PROTO_HISTORY_RULE ", got %lld",
				    (long long)json_integer_value(v));
	if (!json_is_integer(v))
		return sl_error_set(e, SL_E_BAD_REQUEST, "limit", "field 'limit': "
				    SL_PROTO_HISTORY_RULE ", got %s", type_name(v));
	r->limit = (uint32_t)json_integer_value(v);
	return 0;
}

static int field_bit(const char *key)
{
	for (int i = 0; i < F__COUNT; i++)
		if (!strcmp(key, field_names[i]))
			return 1 << i;
	return 0;
}

static int parse_object(const json_t *o, struct sl_req *r, struct sl_error *e)
{
	const json_t *id = json_object_get(o, "id"), *cmd = json_object_get(o, "cmd");
	const struct cmd_def *d;
	char list[512];
	const char *key;
	json_t *v;
	unsigned seen = 0;
	int c;

	if (id) {
		if (!json_is_string(id) && !json_is_number(id))
			return sl_error_set(e, SL_E_BAD_REQUEST, "id", "field 'id': expected a "
					    "number or a string, got %s", type_name(id));
		r->id = json_incref((json_t *)id);
	}
	list_cmds(list, sizeof(list));
	if (!cmd)
		return sl_error_set(e, SL_E_BAD_REQUEST, "cmd", "missing field 'cmd' (expected "
				    "one of: %s)", list);
	if (!json_is_string(cmd))
		return sl_error_set(e, SL_E_BAD_REQUEST, "cmd", "field 'cmd': expected a string, "
				    "got %s", type_name(cmd));
	c = sl_cmd_from_name(json_string_value(cmd));
	if (c < 0)
		return sl_error_set(e, SL_E_UNKNOWN_COMMAND, "cmd", "unknown command '%.64s' "
				    "(expected one of: %s)", json_string_value(cmd), list);
	r->cmd = (enum sl_cmd)c;
	d = &cmds[c];

	json_object_foreach((json_t *)o, key, v) {
		int bit = field_bit(key);

		if (!strcmp(key, "id") || !strcmp(key, "cmd"))
			continue;
		if (!(bit & (int)d->allowed)) {
			list_fields(list, sizeof(list), d->allowed);
			return sl_error_set(e, SL_E_BAD_REQUEST, key,
					    "unknown field '%.64s' for %s (expected: %s)", key,
					    d->name, list);
		}
		seen |= (unsigned)bit;
	}
	for (int i = 0; i < F__COUNT; i++)
		if ((d->required & (1u << i)) && !(seen & (1u << i)))
			return sl_error_set(e, SL_E_BAD_REQUEST, field_names[i], "missing field "
					    "'%s' (%s needs it)", field_names[i], d->name);
	/* Fixed order, so that the first error reported does not depend on the
	 * order of the fields in the line. */
	for (int i = 0; i < F__COUNT; i++) {
		if (!(seen & (1u << i)))
			continue;
		if (get_field(field_names[i], json_object_get(o, field_names[i]), r, e))
			return -1;
	}
	return 0;
}

int sl_req_parse(const char *line, size_t len, struct sl_req *r, struct sl_error *e)
{
	json_error_t jerr;
	json_t *o;
	int rc;

	memset(r, 0, sizeof(*r));
	r->limit = 20;
	memset(e, 0, sizeof(*e));
	if (len > SL_PROTO_MAX_LINE)
		return sl_error_set(e, SL_E_BAD_REQUEST, "", "request line of %zu bytes is too "
				    "long (expected at most %u)", len, SL_PROTO_MAX_LINE);
	o = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!o)
		return sl_error_set(e, SL_E_BAD_REQUEST, "", "not JSON: %s (column %d)",
				    jerr.text, jerr.column);
	if (!json_is_object(o)) {
		sl_error_set(e, SL_E_BAD_REQUEST, "", "request is %s, expected a JSON object "
			     "such as {\"cmd\": \"status\"}", type_name(o));
		json_decref(o);
		return -1;
	}
	rc = parse_object(o, r, e);
	json_decref(o);
	return rc;
}

void sl_req_clear(struct sl_req *r)
{
	json_decref(r->id);
	r->id = NULL;
}

json_t *sl_json_str(const char *s)
{
	json_t *v = json_string(s);
	char *copy;

	if (v)
		return v;
	/* Not UTF-8 (a name cut by a length limit): keep the ASCII. */
	copy = strdup(s);
	if (!copy)
		return NULL;
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	v = json_string(copy);
	free(copy);
	return v;
}

static char *dump_line(json_t *o)
{
	char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	char *line = NULL;
	size_t n;

	json_decref(o);
	if (!s)
		return NULL;
	n = strlen(s);
	line = malloc(n + 2);
	if (line) {
		memcpy(line, s, n);
		line[n] = '\n';
		line[n + 1] = '\0';
	}
	free(s);
	return line;
}

char *sl_reply_ok(const json_t *id, json_t *result)
{
	json_t *o = json_object();

	if (!o || !result) {
		json_decref(o);
		json_decref(result);
		return NULL;
	}
	if (id)
		json_object_set(o, "id", (json_t *)id);
	json_object_set_new(o, "ok", json_true());
	json_object_set_new(o, "result", result);
	return dump_line(o);
}

char *sl_reply_ok_text(const json_t *id, const char *key, const char *json)
{
	char *ids = NULL, *out;
	size_t len;

	if (id && !(ids = json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY)))
		return NULL;
	/* sl_reply_ok's key order */
	len = strlen(json) + strlen(key) + (ids ? strlen(ids) : 0) + 48;
	out = malloc(len);
	if (out)
		snprintf(out, len, "{%s%s%s\"ok\":true,\"result\":{\"%s\":%s}}\n",
			 ids ? "\"id\":" : "", ids ? ids : "", ids ? "," : "", key, json);
	free(ids);
	return out;
}

char *sl_reply_error(const json_t *id, const struct sl_error *e)
{
	json_t *o = json_object(), *err = json_object();

	if (!o || !err) {
		json_decref(o);
		json_decref(err);
		return NULL;
	}
	if (id)
		json_object_set(o, "id", (json_t *)id);
	json_object_set_new(o, "ok", json_false());
	json_object_set_new(err, "code", json_string(sl_errcode_name(e->code)));
	if (e->field[0])
		json_object_set_new(err, "field", sl_json_str(e->field));
	json_object_set_new(err, "message", sl_json_str(e->message));
	json_object_set_new(o, "error", err);
	return dump_line(o);
}
