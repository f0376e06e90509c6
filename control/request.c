/* sluicectl's command grammar -> protocol requests (see request.h). */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../dataplane/config.h"
#include "guard.h"
#include "request.h"
#include "rollout.h"

enum opt_bit {
	O_STICKY = 1 << 0,
	O_RESET = 1 << 1,
	O_FULL = 1 << 2,
	O_STEPS = 1 << 3,
	O_DWELL = 1 << 4,
	O_PLAN = 1 << 5,
	O_LIMIT = 1 << 6,
	O_SERVICE = 1 << 7,
	O_FILTER = 1 << 8,
	O_SAMPLE = 1 << 9,
	O_PORT = 1 << 10,
	O_MAC = 1 << 11,
	O_GROUP = 1 << 12,
	O_SLICE = 1 << 13,
	O_SIGNAL = 1 << 14,
	O_TOTAL = 1 << 15,
	O_BAD = 1 << 16,
	O_GUARD = 1 << 17,
	O_SRC = 1 << 18,
};

static const struct {
	const char *name;
	unsigned bit;
	int value;
} cmd_opts[] = {
	{ "--sticky", O_STICKY, 0 },
	{ "--reset", O_RESET, 0 },
	{ "--full", O_FULL, 0 },
	{ "--steps", O_STEPS, 1 },
	{ "--dwell", O_DWELL, 1 },
	{ "--plan", O_PLAN, 1 },
	{ "--limit", O_LIMIT, 1 },
	{ "--service", O_SERVICE, 1 },
	{ "--filter", O_FILTER, 1 },
	{ "--sample", O_SAMPLE, 1 },
	{ "--port", O_PORT, 1 },
	{ "--mac", O_MAC, 1 },
	{ "--group", O_GROUP, 1 },
	{ "--slice", O_SLICE, 1 },
	{ "--signal", O_SIGNAL, 1 },
	{ "--total", O_TOTAL, 1 },
	{ "--bad", O_BAD, 1 },
	{ "--guard", O_GUARD, 1 },
	{ "--src", O_SRC, 1 },
};

#define NOPTS (sizeof(cmd_opts) / sizeof(cmd_opts[0]))

static const struct sl_rq_command commands[] = {
	{ "status", SL_CMD_STATUS, 0, 1, 0, "status [SERVICE]", 0 },
	{ "switch", SL_CMD_SWITCH, 2, 2, O_STICKY | O_RESET,
	  "switch SERVICE GROUP [--sticky|--reset]", 1 },
	{ "canary", SL_CMD_CANARY, 2, 2, O_STICKY | O_RESET,
	  "canary SERVICE SHARE [--sticky|--reset]", 1 },
	{ "weights", SL_CMD_WEIGHTS, 2, 3, O_STICKY | O_RESET,
	  "weights SERVICE GROUP=SHARE [GROUP=SHARE] [--sticky|--reset]", 1 },
	{ "rollout start", SL_CMD_ROLLOUT_START, 1, 1, O_STEPS | O_DWELL | O_PLAN | O_GUARD,
	  "rollout start SERVICE (--steps 1%,5%,20%,50%,100% --dwell 60s | --plan FILE) "
	  "[--guard NAME[,NAME...]]", 1 },
	{ "rollout status", SL_CMD_ROLLOUT_STATUS, 0, 1, 0, "rollout status [SERVICE]", 0 },
	{ "rollout pause", SL_CMD_ROLLOUT_PAUSE, 0, 1, 0, "rollout pause [SERVICE]", 1 },
	{ "rollout resume", SL_CMD_ROLLOUT_RESUME, 0, 1, 0, "rollout resume [SERVICE]", 1 },
	{ "rollout promote", SL_CMD_ROLLOUT_PROMOTE, 0, 1, O_FULL,
	  "rollout promote [SERVICE] [--full]", 1 },
	{ "rollout abort", SL_CMD_ROLLOUT_ABORT, 0, 1, O_STICKY | O_RESET,
	  "rollout abort [SERVICE] [--reset]", 1 },
	{ "undo", SL_CMD_UNDO, 1, 1, 0, "undo SERVICE", 1 },
	{ "history", SL_CMD_HISTORY, 0, 1, O_LIMIT, "history [SERVICE] [--limit N]", 0 },
	{ "stats", SL_CMD_STATS, 0, 0, 0, "stats", 0 },
	{ "reload", SL_CMD_RELOAD, 0, 0, 0, "reload", 1 },
	{ "version", SL_CMD_VERSION, 0, 0, 0, "version", 0 },
	{ "shadow add", SL_CMD_SHADOW_ADD, 1, 1, O_SERVICE | O_FILTER | O_SAMPLE | O_PORT | O_MAC,
	  "shadow add NAME --service SERVICE [--filter EXPR] --sample SHARE --port PORT "
	  "[--mac MAC]", 1 },
	{ "shadow remove", SL_CMD_SHADOW_REMOVE, 1, 1, 0, "shadow remove NAME", 1 },
	{ "shadow list", SL_CMD_SHADOW_LIST, 0, 0, 0, "shadow list", 0 },
	{ "evidence push", SL_CMD_EVIDENCE_PUSH, 1, 1, O_GROUP | O_SLICE | O_SIGNAL | O_TOTAL |
	  O_BAD, "evidence push SERVICE --group GROUP [--slice SLICE] --signal NAME --total N "
	  "--bad M", 1 },
	{ "guard list", SL_CMD_GUARD_LIST, 0, 1, 0, "guard list [SERVICE]", 0 },
	{ "slice list", SL_CMD_SLICE_LIST, 0, 1, 0, "slice list [SERVICE]", 0 },
	{ "slice add", SL_CMD_SLICE_ADD, 1, 1, O_SERVICE | O_SRC | O_FILTER,
	  "slice add NAME --service SERVICE [--src PREFIX[,PREFIX...]] [--filter EXPR]", 1 },
	{ "slice remove", SL_CMD_SLICE_REMOVE, 1, 1, 0, "slice remove NAME", 1 },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

struct args {
	const char *pos[3];
	int npos;
	unsigned given;
	const char *steps, *dwell, *plan, *limit;
	const char *service, *filter, *sample, *port, *mac;
	const char *group, *slice, *signal, *total, *bad, *guard, *src;
};

static int __attribute__((format(printf, 3, 4))) fail(struct sl_rq_error *e, const char *code,
						      const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return -1;
}

static const struct sl_rq_command *find_command(const char *words)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].words, words))
			return &commands[i];
	return NULL;
}

static int is_global_opt(const char *a)
{
	static const char *const g[] = { "--socket", "--instance", "--json", "--timeout" };

	for (size_t i = 0; i < sizeof(g) / sizeof(g[0]); i++) {
		size_t n = strlen(g[i]);

		if (!strncmp(a, g[i], n) && (a[n] == '\0' || a[n] == '='))
			return 1;
	}
	return 0;
}

/* The options a command takes, for messages: "--sticky, --reset". */
static void opts_list(unsigned opts, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < NOPTS; i++)
		if (opts & cmd_opts[i].bit)
			off += (size_t)snprintf(buf + off, off < len ? len - off : 0, "%s%s",
						off ? ", " : "", cmd_opts[i].name);
	if (!off)
		snprintf(buf, len, "no options");
}

/* Splits the words after the command into positionals and options;
 * returns 0, 1 (help asked) or -1. */
static int parse_args(const struct sl_rq_command *c, int argc, char *const *argv,
		      unsigned flags, struct args *a, struct sl_rq_error *e)
{
	memset(a, 0, sizeof(*a));
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];
		const char *val = NULL;
		size_t k;

		/* "-5%" is a share gone wrong, not an option */
		if (arg[0] != '-' || arg[1] == '\0' || isdigit((unsigned char)arg[1])) {
			if (a->npos == c->max_pos)
				return fail(e, "usage", "unexpected argument '%s' for '%s' (usage: "
					    "%s)", arg, c->words, c->usage);
			a->pos[a->npos++] = arg;
			continue;
		}
		if ((flags & SL_RQ_CLI) && (!strcmp(arg, "-h") || !strcmp(arg, "--help")))
			return 1;
		if ((flags & SL_RQ_CLI) && is_global_opt(arg))
			return fail(e, "usage", "option '%s' must come before the command (usage: "
				    "sluicectl [--socket PATH | --instance NAME] [--json] "
				    "[--timeout MS] %s)", arg, c->usage);
		for (k = 0; k < NOPTS; k++) {
			size_t n = strlen(cmd_opts[k].name);

			if (!strncmp(arg, cmd_opts[k].name, n) &&
			    (arg[n] == '\0' || (arg[n] == '=' && cmd_opts[k].value))) {
				if (arg[n] == '=')
					val = arg + n + 1;
				break;
			}
		}
		if (k == NOPTS || !(c->opts & cmd_opts[k].bit)) {
			char list[128];

			opts_list(c->opts, list, sizeof(list));
			return fail(e, "usage", "%s option '%s' for '%s' (it takes %s; usage: %s)",
				    k == NOPTS ? "unknown" : "no", arg, c->words, list, c->usage);
		}
		if (a->given & cmd_opts[k].bit)
			return fail(e, "usage", "%s given twice", cmd_opts[k].name);
		a->given |= cmd_opts[k].bit;
		if (cmd_opts[k].value && !val) {
			if (i + 1 == argc)
				return fail(e, "usage", "%s needs a value (usage: %s)",
					    cmd_opts[k].name, c->usage);
			val = argv[++i];
		}
		switch (cmd_opts[k].bit) {
		case O_STEPS:
			a->steps = val;
			break;
		case O_DWELL:
			a->dwell = val;
			break;
		case O_PLAN:
			a->plan = val;
			break;
		case O_LIMIT:
			a->limit = val;
			break;
		case O_SERVICE:
			a->service = val;
			break;
		case O_FILTER:
			a->filter = val;
			break;
		case O_SAMPLE:
			a->sample = val;
			break;
		case O_PORT:
			a->port = val;
			break;
		case O_MAC:
			a->mac = val;
			break;
		case O_GROUP:
			a->group = val;
			break;
		case O_SLICE:
			a->slice = val;
			break;
		case O_SIGNAL:
			a->signal = val;
			break;
		case O_TOTAL:
			a->total = val;
			break;
		case O_BAD:
			a->bad = val;
			break;
		case O_GUARD:
			a->guard = val;
			break;
		case O_SRC:
			a->src = val;
			break;
		default:
			break;
		}
	}
	if (a->npos < c->min_pos) {
		static const char *const names[][3] = {
			[SL_CMD_SWITCH] = { "SERVICE", "GROUP" },
			[SL_CMD_CANARY] = { "SERVICE", "SHARE" },
			[SL_CMD_WEIGHTS] = { "SERVICE", "GROUP=SHARE" },
			[SL_CMD_ROLLOUT_START] = { "SERVICE" },
			[SL_CMD_UNDO] = { "SERVICE" },
			[SL_CMD_SHADOW_ADD] = { "NAME" },
			[SL_CMD_SHADOW_REMOVE] = { "NAME" },
			[SL_CMD_EVIDENCE_PUSH] = { "SERVICE" },
			[SL_CMD_SLICE_ADD] = { "NAME" },
			[SL_CMD_SLICE_REMOVE] = { "NAME" },
		};

		return fail(e, "usage", "missing %s for '%s' (usage: %s)",
			    names[c->kind][a->npos], c->words, c->usage);
	}
	if ((a->given & O_STICKY) && (a->given & O_RESET))
		return fail(e, "usage", "--sticky and --reset exclude each other (--sticky: "
			    "established flows keep their group, the default; --reset: they are "
			    "decided again)");
	return 0;
}

/* ---- building the request (local validation) ---- */

static int check_name(const char *what, const char *v, struct sl_rq_error *e)
{
	if (!sl_name_valid(v))
		return fail(e, "usage", "%s '%s' is not a valid name (expected %s)", what, v,
			    SL_NAME_RULE);
	return 0;
}

static void set_str(json_t *o, const char *key, const char *v)
{
	json_object_set_new(o, key, json_string(v));
}

static int add_service(json_t *req, const struct args *a, int idx, struct sl_rq_error *e)
{
	if (a->npos <= idx)
		return 0;
	if (check_name("SERVICE", a->pos[idx], e))
		return -1;
	set_str(req, "service", a->pos[idx]);
	return 0;
}

static int weights_request(json_t *req, const struct args *a, struct sl_rq_error *e)
{
	json_t *w = json_object();
	char groups[2][SL_NAME_LEN];
	uint16_t bp[2];
	int n = a->npos - 1;

	json_object_set_new(req, "weights", w);
	for (int i = 0; i < n; i++) {
		const char *item = a->pos[i + 1];
		const char *eq = strchr(item, '=');
		char err[SL_ERR_LEN];
		size_t glen = eq ? (size_t)(eq - item) : 0;

		if (!eq || glen == 0)
			return fail(e, "usage", "weights: '%s' is not GROUP=SHARE (e.g. "
				    "green=20%%)", item);
		if (glen >= SL_NAME_LEN)
			glen = SL_NAME_LEN - 1;
		memcpy(groups[i], item, glen);
		groups[i][glen] = '\0';
		if (glen != (size_t)(eq - item) || !sl_name_valid(groups[i]))
			return fail(e, "usage", "weights: '%s': group '%.*s' is not a valid name "
				    "(expected %s)", item, (int)(eq - item), item,
				    SL_NAME_RULE);
		if (sl_share_parse(eq + 1, &bp[i], err, sizeof(err)))
			return fail(e, "bad_share", "weights: %s: %s", item, err);
		if (i == 1 && !strcmp(groups[0], groups[1]))
			return fail(e, "usage", "weights: group '%s' given twice", groups[1]);
		set_str(w, groups[i], eq + 1);
	}
	if (n == 2 && bp[0] + bp[1] != SL_SHARE_MAX_BP)
		return fail(e, "bad_share", "weights: %s + %s = %u.%02u %% (expected the two "
			    "shares to add up to 100%%)", a->pos[1], a->pos[2],
			    (bp[0] + bp[1]) / 100u, (bp[0] + bp[1]) % 100u);
	return 0;
}

/* --guard a,b and the plan file's [guard NAME] sections (sent whole: the
 * daemon has not read the plan). */
static int rollout_guards_request(json_t *req, const struct args *a, struct sl_rq_error *e)
{
	struct sl_cfg_guard *defs = NULL;
	char err[SL_ERR_LEN];
	uint32_t n = 0;

	if (a->guard) {
		json_t *names = json_array();
		const char *p = a->guard;

		json_object_set_new(req, "guards", names);
		for (;;) {
			const char *c = strchr(p, ',');
			size_t len = c ? (size_t)(c - p) : strlen(p);
			char name[SL_NAME_LEN];

			if (len == 0 || len >= sizeof(name))
				return fail(e, "usage", "--guard: '%s': %s (expected NAME[,NAME...])",
					    a->guard, len ? "a name is too long" : "an empty name");
			memcpy(name, p, len);
			name[len] = '\0';
			if (!sl_name_valid(name))
				return fail(e, "usage", "--guard: '%s' is not a valid guard name "
					    "(expected %s)", name, SL_NAME_RULE);
			for (size_t k = 0; k < json_array_size(names); k++)
				if (!strcmp(json_string_value(json_array_get(names, k)), name))
					return fail(e, "usage", "--guard: '%s' given twice", name);
			if (json_array_size(names) == SL_RO_MAX_GUARDS)
				return fail(e, "usage", "--guard: more than %u guards",
					    SL_RO_MAX_GUARDS);
			json_array_append_new(names, json_string(name));
			if (!c)
				break;
			p = c + 1;
		}
	}
	if (!a->plan)
		return 0;
	defs = calloc(SL_RO_MAX_GUARDS, sizeof(*defs));
	if (!defs)
		return fail(e, "internal", "out of memory");
	if (sl_plan_load_guards(a->plan, defs, &n, SL_RO_MAX_GUARDS, err, sizeof(err))) {
		free(defs);
		return fail(e, "bad_plan", "%s", err);
	}
	if (n) {
		json_t *arr = json_array();

		for (uint32_t i = 0; i < n; i++)
			json_array_append_new(arr, sl_guard_def_json(&defs[i]));
		json_object_set_new(req, "guard_defs", arr);
	}
	free(defs);
	return 0;
}

static int rollout_start_request(json_t *req, const struct args *a, struct sl_rq_error *e)
{
	struct sl_ro_step steps[SL_RO_MAX_STEPS];
	char err[SL_ERR_LEN];
	uint32_t n = 0;
	json_t *arr;

	if (a->plan && (a->steps || a->dwell))
		return fail(e, "usage", "--plan excludes %s (the plan file holds the steps and "
			    "their dwell times)", a->steps ? "--steps" : "--dwell");
	if (!a->steps && a->dwell)
		return fail(e, "usage", "--dwell needs --steps LIST");
	if (!a->plan && !a->steps)
		return fail(e, "usage", "rollout start needs --steps LIST --dwell TIME or --plan "
			    "FILE (e.g. --steps 1%%,5%%,20%%,50%%,100%% --dwell 60s)");
	if (a->steps && !a->dwell)
		return fail(e, "usage", "--steps needs --dwell TIME (time at each step, e.g. "
			    "--dwell 60s)");
	/* the plan code's messages name the file, section and key, or the item */
	if (a->plan ? sl_plan_load(a->plan, steps, &n, err, sizeof(err)) :
	    sl_plan_from_list(a->steps, a->dwell, steps, &n, err, sizeof(err)))
		return fail(e, "bad_plan", "%s", err);
	/* exact units, so the daemon's parse gives back exactly these steps */
	arr = json_array();
	for (uint32_t i = 0; i < n; i++) {
		char share[16], dwell[24];

		snprintf(share, sizeof(share), "%ubp", (unsigned)steps[i].share_bp);
		if (steps[i].pause) {
			json_array_append_new(arr, json_pack("{s:s, s:b}", "share", share,
							     "pause", 1));
		} else {
			snprintf(dwell, sizeof(dwell), "%" PRIu32 "ms", steps[i].dwell_ms);
			json_array_append_new(arr, json_pack("{s:s, s:s}", "share", share,
							     "dwell", dwell));
		}
	}
	json_object_set_new(req, "steps", arr);
	return rollout_guards_request(req, a, e);
}

/* shadow add NAME --service S [--filter EXPR] --sample SHARE --port P
 * [--mac MAC]: the filter is compiled here by libpcap, as the daemon will. */
static int shadow_add_request(json_t *req, const struct args *a, struct sl_rq_error *e)
{
	static const char usage[] = "shadow add NAME --service SERVICE [--filter EXPR] --sample "
				    "SHARE --port PORT [--mac MAC]";
	char err[SL_ERR_LEN];
	uint8_t mac[6];
	uint16_t bp;

	if (check_name("NAME", a->pos[0], e))
		return -1;
	if (!a->service || !a->sample || !a->port)
		return fail(e, "usage", "shadow add needs %s (usage: %s)", !a->service ?
			    "--service SERVICE" : !a->sample ? "--sample SHARE (the share of the "
			    "service's flows to copy, e.g. 10%)" : "--port PORT (a port with role "
			    "shadow)", usage);
	if (check_name("--service", a->service, e) || check_name("--port", a->port, e))
		return -1;
	if (sl_share_parse(a->sample, &bp, err, sizeof(err)))
		return fail(e, "bad_share", "--sample: %s", err);
	if (a->filter && sl_shadow_filter_check(a->filter, err, sizeof(err)))
		return fail(e, "bad_filter", "--filter: %s", err);
	if (a->mac && sl_shadow_mac_check(a->mac, mac, err, sizeof(err)))
		return fail(e, "usage", "--mac: %s", err);
	set_str(req, "name", a->pos[0]);
	set_str(req, "service", a->service);
	if (a->filter)
		set_str(req, "filter", a->filter);
	set_str(req, "sample", a->sample);
	set_str(req, "port", a->port);
	if (a->mac)
		set_str(req, "mac", a->mac);
	return 0;
}

static int count_arg(const char *opt, const char *v, json_t *req, const char *key,
		     struct sl_rq_error *e)
{
	unsigned long long x;
	char *end;

	errno = 0;
	x = isdigit((unsigned char)v[0]) ? strtoull(v, &end, 10) : 0;
	if (!isdigit((unsigned char)v[0]) || errno || *end || x > SL_PROTO_EVIDENCE_MAX)
		return fail(e, "usage", "%s: '%s' is not a number of flows (expected 0..%llu)", opt,
			    v, SL_PROTO_EVIDENCE_MAX);
	json_object_set_new(req, key, json_integer((json_int_t)x));
	return 0;
}

/* slice add NAME --service S [--src LIST] [--filter EXPR]: the filter is
 * compiled here by libpcap, as the daemon will; the prefixes are the
 * daemon's to check (their family is the service's). */
static int slice_add_request(json_t *req, const struct args *a, struct sl_rq_error *e)
{
	char err[SL_ERR_LEN];

	if (check_name("NAME", a->pos[0], e))
		return -1;
	if (!a->service)
		return fail(e, "usage", "slice add needs --service SERVICE (usage: slice add NAME "
			    "--service SERVICE [--src PREFIX[,PREFIX...]] [--filter EXPR])");
	if (!a->src && !a->filter)
		return fail(e, "usage", "slice add needs --src PREFIX[,PREFIX...] or --filter EXPR "
			    "(or both)");
	if (check_name("--service", a->service, e))
		return -1;
	if (a->filter && sl_shadow_filter_check(a->filter, err, sizeof(err)))
		return fail(e, "bad_filter", "--filter: %s", err);
	set_str(req, "name", a->pos[0]);
	set_str(req, "service", a->service);
	if (a->src)
		set_str(req, "src", a->src);
	if (a->filter)
		set_str(req, "filter", a->filter);
	return 0;
}

/* evidence push SERVICE --group G [--slice S] --signal NAME --total N --bad M */
static int evidence_request(json_t *req, const struct args *a, struct sl_rq_error *e)
{
	static const char usage[] = "evidence push SERVICE --group GROUP [--slice SLICE] "
				    "--signal NAME --total N --bad M";
	const char *sig;

	if (add_service(req, a, 0, e))
		return -1;
	if (!a->group || !a->signal || !a->total || !a->bad)
		return fail(e, "usage", "evidence push needs %s (usage: %s)",
			    !a->group ? "--group GROUP (the champion or the challenger)" :
			    !a->signal ? "--signal NAME (a guard's signal = pushed:NAME)" :
			    !a->total ? "--total N (flows or requests seen)" :
			    "--bad M (how many of them were bad)", usage);
	sig = strncmp(a->signal, "pushed:", 7) ? a->signal : a->signal + 7;
	if (check_name("--group", a->group, e) || check_name("--signal", sig, e) ||
	    (a->slice && check_name("--slice", a->slice, e)))
		return -1;
	if (count_arg("--total", a->total, req, "total", e) ||
	    count_arg("--bad", a->bad, req, "bad", e))
		return -1;
	if (json_integer_value(json_object_get(req, "bad")) >
	    json_integer_value(json_object_get(req, "total")))
		return fail(e, "usage", "--bad %s is more than --total %s", a->bad, a->total);
	set_str(req, "group", a->group);
	if (a->slice)
		set_str(req, "slice", a->slice);
	set_str(req, "signal", sig);
	return 0;
}

int sl_rq_build(const struct sl_rq_command *c, int argc, char *const *argv, unsigned flags,
		json_t **out, struct sl_rq_error *e)
{
	char err[SL_ERR_LEN];
	struct args a;
	json_t *req;
	uint16_t bp;
	int rc;

	rc = parse_args(c, argc, argv, flags, &a, e);
	if (rc)
		return rc;
	req = json_object();
	if (!req)
		return fail(e, "internal", "out of memory");
	set_str(req, "cmd", sl_cmd_name(c->kind));
	switch (c->kind) {
	case SL_CMD_SWITCH:
		rc = add_service(req, &a, 0, e);
		if (!rc && (rc = check_name("GROUP", a.pos[1], e)) == 0)
			set_str(req, "group", a.pos[1]);
		break;
	case SL_CMD_CANARY:
		rc = add_service(req, &a, 0, e);
		if (!rc && sl_share_parse(a.pos[1], &bp, err, sizeof(err)))
			rc = fail(e, "bad_share", "share: %s", err);
		if (!rc)
			set_str(req, "share", a.pos[1]);
		break;
	case SL_CMD_WEIGHTS:
		rc = add_service(req, &a, 0, e);
		if (!rc)
			rc = weights_request(req, &a, e);
		break;
	case SL_CMD_ROLLOUT_START:
		rc = add_service(req, &a, 0, e);
		if (!rc)
			rc = rollout_start_request(req, &a, e);
		break;
	case SL_CMD_ROLLOUT_PROMOTE:
		rc = add_service(req, &a, 0, e);
		if (!rc && (a.given & O_FULL))
			json_object_set_new(req, "full", json_true());
		break;
	case SL_CMD_SHADOW_ADD:
		rc = shadow_add_request(req, &a, e);
		break;
	case SL_CMD_EVIDENCE_PUSH:
		rc = evidence_request(req, &a, e);
		break;
	case SL_CMD_SLICE_ADD:
		rc = slice_add_request(req, &a, e);
		break;
	case SL_CMD_SLICE_REMOVE:
		rc = check_name("NAME", a.pos[0], e);
		if (!rc)
			set_str(req, "name", a.pos[0]);
		break;
	case SL_CMD_SHADOW_REMOVE:
		rc = check_name("NAME", a.pos[0], e);
		if (!rc)
			set_str(req, "name", a.pos[0]);
		break;
	case SL_CMD_HISTORY:
		rc = add_service(req, &a, 0, e);
		if (!rc && a.limit) {
			char *end;
			long v;

			errno = 0;
			v = isdigit((unsigned char)a.limit[0]) ? strtol(a.limit, &end, 10) : -1;
			if (!sl_history_limit_ok(v) || errno || *end)
				rc = fail(e, "usage", "--limit: '%s': " SL_PROTO_HISTORY_RULE,
					  a.limit);
			else
				json_object_set_new(req, "limit", json_integer(v));
		}
		break;
	default:
		rc = add_service(req, &a, 0, e);
		break;
	}
	if (!rc && (a.given & O_STICKY))
		set_str(req, "mode", "sticky");
	if (!rc && (a.given & O_RESET))
		set_str(req, "mode", "reset");
	if (rc) {
		json_decref(req);
		return -1;
	}
	*out = req;
	return 0;
}

int sl_rq_find(int argc, char *const *argv, unsigned flags, const struct sl_rq_command **out,
	       int *used, struct sl_rq_error *e)
{
	/* commands of two words: the first, and its verbs for messages */
	static const struct {
		const char *word, *verbs;
	} pairs[] = {
		{ "rollout", "start, status, pause, resume, promote or abort" },
		{ "shadow", "add, remove or list" },
		{ "evidence", "push" },
		{ "guard", "list" },
		{ "slice", "add, remove or list" },
	};
	static const char *const aliases[] = { "pause", "resume", "promote", "abort" };
	const char *hint = flags & SL_RQ_CLI ? "; see sluicectl --help" : "";
	const struct sl_rq_command *c;
	char words[64];

	if (argc == 0)
		return fail(e, "usage", "missing COMMAND");
	for (size_t k = 0; k < sizeof(pairs) / sizeof(pairs[0]); k++) {
		if (strcmp(argv[0], pairs[k].word))
			continue;
		if (argc == 1 || argv[1][0] == '-')
			return fail(e, "usage", "'%s' needs a verb: %s", pairs[k].word,
				    pairs[k].verbs);
		snprintf(words, sizeof(words), "%s %s", pairs[k].word, argv[1]);
		c = find_command(words);
		if (!c)
			return fail(e, "usage", "unknown %s verb '%s' (expected %s)", pairs[k].word,
				    argv[1], pairs[k].verbs);
		*out = c;
		*used = 2;
		return 0;
	}
	for (size_t k = 0; k < sizeof(aliases) / sizeof(aliases[0]); k++)
		if (!strcmp(argv[0], aliases[k])) {
			snprintf(words, sizeof(words), "rollout %s", aliases[k]);
			*out = find_command(words);
			*used = 1;
			return 0;
		}
	c = find_command(argv[0]);
	if (!c || strchr(c->words, ' '))
		return fail(e, "usage", "unknown command '%s' (expected status, switch, canary, "
			    "weights, rollout, pause, resume, promote, abort, undo, shadow, "
			    "evidence, guard, slice, history, stats, reload or version%s)", argv[0],
			    hint);
	*out = c;
	*used = 1;
	return 0;
}
