/* Rollout plans: an INI file of [step N] and [guard NAME] sections, or the --steps/--dwell
 * form of the CLI.  iniparser reads the values and finds syntax errors; a
 * pass over the raw text finds what iniparser hides (line numbers, duplicate
 * keys and sections).  Nothing reaches the caller unless the whole plan is
 * valid. */
#include "errmsg.h"
#include "rollout.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <iniparser.h>

#include "config.h"
#include "ini.h"

#define SECTION_EXPECT "[step N], N of 1..32"
#define LIST_EXAMPLE "e.g. 1%%,5%%,20%%,50%%,100%%"

enum { K_SHARE, K_DWELL, K_PAUSE, K_N };

static const char *const plan_keys[K_N] = { "share", "dwell", "pause" };

struct psec {
	char full[64];       /* as iniparser stores it: "step 3" */
	unsigned line;       /* 0: no such section */
	unsigned keyline[K_N];
};

#define GUARD_NKEYS 11

/* A [guard NAME] section: its keys are sl_guard_keys. */
struct gsec {
	char full[64];      /* as iniparser stores it: "guard billing" */
	char name[SL_NAME_LEN];
	unsigned line;
	unsigned keyline[GUARD_NKEYS];
};

struct plan {
	const char *path;
	char *err;
	size_t errlen;
	dictionary *dict;
	struct psec secs[SL_RO_MAX_STEPS];
	struct psec *cur; /* step section being scanned */
	struct gsec guards[SL_MAX_GUARDS];
	unsigned nguards;
	struct gsec *gcur; /* guard section being scanned */
};

/* "PATH: [step N] KEY: message", without key, or without section (step 0). */
__attribute__((format(printf, 4, 5)))
static int fail(struct plan *p, unsigned step, const char *key, const char *fmt, ...)
{
	va_list ap;

	if (step && key)
		sl_seterr(p->err, p->errlen, "%s: [step %u] %s: ", p->path, step, key);
	else if (step)
		sl_seterr(p->err, p->errlen, "%s: [step %u]: ", p->path, step);
	else
		sl_seterr(p->err, p->errlen, "%s: ", p->path);
	va_start(ap, fmt);
	sl_vadderr(p->err, p->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* "PATH: [guard NAME] KEY: message", or without key. */
__attribute__((format(printf, 4, 5)))
static int gfail(struct plan *p, const struct gsec *g, const char *key, const char *fmt, ...)
{
	va_list ap;

	if (key)
		sl_seterr(p->err, p->errlen, "%s: [guard %s] %s: ", p->path, g->name, key);
	else
		sl_seterr(p->err, p->errlen, "%s: [guard %s]: ", p->path, g->name);
	va_start(ap, fmt);
	sl_vadderr(p->err, p->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int scan_guard(struct plan *p, char *inner, unsigned lineno)
{
	const char *name = sl_ini_strip(inner + 5);
	struct gsec *g;

	if (!*name)
		return fail(p, 0, NULL, "[%s]: missing name (expected [guard NAME], NAME of %s)",
			    inner, SL_NAME_RULE);
	if (!sl_name_valid(name))
		return fail(p, 0, NULL, "[%s]: name '%s' is not valid (expected %s)", inner, name,
			    SL_NAME_RULE);
	for (unsigned i = 0; i < p->nguards; i++)
		if (!strcmp(p->guards[i].name, name))
			return gfail(p, &p->guards[i], NULL, "appears twice, at lines %u and %u "
				     "(expected each guard once)", p->guards[i].line, lineno);
	if (p->nguards == SL_MAX_GUARDS)
		return fail(p, 0, NULL, "[%s]: too many guards (expected at most %u)", inner,
			    SL_MAX_GUARDS);
	g = &p->guards[p->nguards++];
	memset(g, 0, sizeof(*g));
	snprintf(g->full, sizeof(g->full), "%s", inner);
	snprintf(g->name, sizeof(g->name), "%s", name);
	g->line = lineno;
	p->gcur = g;
	p->cur = NULL;
	return 0;
}

static int scan_section(void *ctx, char *line, unsigned lineno)
{
	struct plan *p = ctx;
	char *inner, *num, *end;
	unsigned long n;
	struct psec *s;

	line[strlen(line) - 1] = '\0';
	inner = sl_ini_strip(line + 1);
	sl_ini_lower(inner);
	if (!strncmp(inner, "guard", 5) && (!inner[5] || isspace((unsigned char)inner[5])))
		return scan_guard(p, inner, lineno);
	if (strncmp(inner, "step", 4) || (inner[4] && !isspace((unsigned char)inner[4])))
		return fail(p, 0, NULL, "[%s]: unknown section (expected " SECTION_EXPECT
			    ", or [guard NAME])", inner);
	num = sl_ini_strip(inner + 4);
	if (!*num)
		return fail(p, 0, NULL, "[%s]: missing step number (expected " SECTION_EXPECT
			    ")", inner);
	errno = 0;
	n = strtoul(num, &end, 10);
	if (!isdigit((unsigned char)*num) || *end || (num[0] == '0' && num[1]))
		return fail(p, 0, NULL, "[%s]: '%s' is not a step number (expected "
			    SECTION_EXPECT ", no leading zeros)", inner, num);
	if (errno || n < 1 || n > SL_RO_MAX_STEPS)
		return fail(p, 0, NULL, "[%s]: step number %s is out of range (expected "
			    SECTION_EXPECT ")", inner, num);
	s = &p->secs[n - 1];
	if (s->line)
		return fail(p, (unsigned)n, NULL, "appears twice, at lines %u and %u (expected "
			    "each step once)", s->line, lineno);
	/* iniparser keeps inner blanks: look values up under its spelling. */
	snprintf(s->full, sizeof(s->full), "%s", inner);
	s->line = lineno;
	p->cur = s;
	p->gcur = NULL;
	return 0;
}

static int scan_key(void *ctx, char *key, unsigned lineno)
{
	struct plan *p = ctx;
	unsigned step;
	int k;

	if (p->gcur) {
		char keys[300];
		size_t used = 0;

		for (k = 0; k < GUARD_NKEYS && sl_guard_keys[k] && strcmp(sl_guard_keys[k], key);
		     k++)
			;
		if (k == GUARD_NKEYS || !sl_guard_keys[k]) {
			keys[0] = '\0';
			for (int i = 0; sl_guard_keys[i] && used < sizeof(keys); i++)
				used += (size_t)snprintf(keys + used, sizeof(keys) - used, "%s%s",
							 i ? ", " : "", sl_guard_keys[i]);
			return gfail(p, p->gcur, key, "unknown key (expected one of: %s)", keys);
		}
		if (p->gcur->keyline[k])
			return gfail(p, p->gcur, key, "set twice, at lines %u and %u (expected "
				     "each key once per guard)", p->gcur->keyline[k], lineno);
		p->gcur->keyline[k] = lineno;
		return 0;
	}
	if (!p->cur)
		return fail(p, 0, NULL, "line %u: key '%s' is outside any section (expected a "
			    "[step N] header before it)", lineno, key);
	step = (unsigned)(p->cur - p->secs) + 1;
	for (k = 0; k < K_N; k++)
		if (!strcmp(plan_keys[k], key))
			break;
	if (k == K_N)
		return fail(p, step, key, "unknown key (expected one of: share, dwell, pause)");
	if (p->cur->keyline[k])
		return fail(p, step, key, "set twice, at lines %u and %u (expected each key once "
			    "per step)", p->cur->keyline[k], lineno);
	p->cur->keyline[k] = lineno;
	return 0;
}

/* Every section and key, with its line (see sl_ini_scan). */
static int scan(struct plan *p, const char *text)
{
	char msg[1100];
	int rc = sl_ini_scan(text, p->dict, scan_section, scan_key, p, msg,
			     sizeof(msg));

	return rc == SL_INI_ERR ? fail(p, 0, NULL, "%s", msg) : rc;
}

static int read_text(struct plan *p, char **out, size_t *len)
{
	char msg[SL_ERR_LEN];

	*out = sl_ini_read(p->path, len, msg, sizeof(msg));
	return *out ? 0 : fail(p, 0, NULL, "%s", msg);
}

static const char *value(struct plan *p, const struct psec *s, int k)
{
	char full[96];

	if (!s->keyline[k])
		return NULL;
	snprintf(full, sizeof(full), "%s:%s", s->full, plan_keys[k]);
	return iniparser_getstring(p->dict, full, "");
}

static int load_step(struct plan *p, unsigned i, struct sl_ro_step *st)
{
	const struct psec *s = &p->secs[i];
	const char *share = value(p, s, K_SHARE), *dwell = value(p, s, K_DWELL);
	const char *pause = value(p, s, K_PAUSE);
	char msg[SL_ERR_LEN];
	bool paused = false;

	if (!share)
		return fail(p, i + 1, "share", "missing (expected the challenger's share at this "
			    "step, e.g. 5%%, 0.5%%, 50bp)");
	if (sl_share_parse(share, &st->share_bp, msg, sizeof(msg)))
		return fail(p, i + 1, "share", "%s", msg);
	if (pause) {
		if (!strcasecmp(pause, "yes"))
			paused = true;
		else if (strcasecmp(pause, "no"))
			return fail(p, i + 1, "pause", "'%s' is not yes or no (expected yes to "
				    "wait for `rollout resume` or `rollout promote`, or no)",
				    pause);
	}
	if (paused && dwell)
		return fail(p, i + 1, "dwell", "set together with pause = yes (expected exactly "
			    "one of dwell or pause = yes)");
	if (!paused && !dwell)
		return fail(p, i + 1, NULL, "neither dwell nor pause = yes (expected exactly one "
			    "of them, e.g. dwell = 60s)");
	st->pause = paused;
	st->dwell_ms = 0;
	if (dwell && sl_duration_parse(dwell, &st->dwell_ms, msg, sizeof(msg)))
		return fail(p, i + 1, "dwell", "%s", msg);
	return 0;
}

/* Shares and sections, after a successful scan. */
static int build(struct plan *p, struct sl_ro_step *steps, uint32_t *n)
{
	char msg[SL_ERR_LEN];
	unsigned last = 0;

	for (unsigned i = 0; i < SL_RO_MAX_STEPS; i++)
		if (p->secs[i].line)
			last = i + 1;
	if (last == 0)
		return fail(p, 0, NULL, "no [step N] section (expected [step 1]..[step N], N of "
			    "1..%u)", SL_RO_MAX_STEPS);
	for (unsigned i = 0; i < last; i++)
		if (!p->secs[i].line)
			return fail(p, last, NULL, "[step %u] is missing (expected consecutive "
				    "sections [step 1]..[step %u])", i + 1, last);
	for (unsigned i = 0; i < last; i++) {
		if (load_step(p, i, &steps[i]))
			return -1;
		if (i > 0 && steps[i].share_bp < steps[i - 1].share_bp)
			return fail(p, i + 1, "share", "'%s' is lower than '%s' in [step %u] "
				    "(expected shares that do not decrease)",
				    value(p, &p->secs[i], K_SHARE),
				    value(p, &p->secs[i - 1], K_SHARE), i);
	}
	if (sl_ro_check_steps(steps, last, msg, sizeof(msg)))
		return fail(p, 0, NULL, "%s", msg);
	*n = last;
	return 0;
}

/* Read, parse and scan path into a new *pp (NULL on error, with err). */
static int plan_open(const char *path, struct plan **pp, char *err, size_t errlen)
{
	struct plan *p;
	char *text = NULL, msg[1100];
	size_t len;
	int rc = -1;

	*pp = NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return sl_seterr(err, errlen, "%s: cannot load: out of memory", path);
	p->path = path;
	p->err = err;
	p->errlen = errlen;
	if (read_text(p, &text, &len))
		goto out;
	p->dict = sl_ini_parse(text, len, "[step N], [guard NAME], KEY = VALUE or a ; "
			       "comment", msg, sizeof(msg));
	if (!p->dict) {
		fail(p, 0, NULL, "%s", msg);
		goto out;
	}
	if (scan(p, text))
		goto out;
	rc = 0;
out:
	free(text);
	if (rc) {
		if (p->dict)
			iniparser_freedict(p->dict);
		free(p);
		return -1;
	}
	*pp = p;
	return 0;
}

static void plan_close(struct plan *p)
{
	if (p->dict)
		iniparser_freedict(p->dict);
	free(p);
}

int sl_plan_load(const char *path, struct sl_ro_step *steps, uint32_t *n, char *err,
		 size_t errlen)
{
	static _Thread_local char sink[SL_ERR_LEN];
	struct sl_ro_step tmp[SL_RO_MAX_STEPS];
	struct plan *p;
	uint32_t count = 0;
	int rc = -1;

	if (!err || !errlen) { /* still validate; the message just has nowhere to go */
		err = sink;
		errlen = sizeof(sink);
	}
	if (!path)
		return sl_seterr(err, errlen, "sl_plan_load: no file name");
	if (!steps || !n)
		return sl_seterr(err, errlen, "%s: sl_plan_load: no step array to fill", path);
	memset(tmp, 0, sizeof(tmp));
	if (plan_open(path, &p, err, errlen))
		return -1;
	if (build(p, tmp, &count) == 0) {
		memcpy(steps, tmp, count * sizeof(*steps));
		*n = count;
		rc = 0;
	}
	plan_close(p);
	return rc;
}

struct guard_ctx {
	struct plan *p;
	const struct gsec *g;
};

static const char *guard_value(void *ctx, const char *key)
{
	const struct guard_ctx *c = ctx;
	char full[128];
	int k;

	for (k = 0; k < GUARD_NKEYS && sl_guard_keys[k]; k++)
		if (!strcmp(sl_guard_keys[k], key))
			break;
	if (k == GUARD_NKEYS || !sl_guard_keys[k] || !c->g->keyline[k])
		return NULL;
	snprintf(full, sizeof(full), "%s:%s", c->g->full, key);
	return iniparser_getstring(c->p->dict, full, "");
}

int sl_plan_load_guards(const char *path, struct sl_cfg_guard *g, uint32_t *n, uint32_t max,
			char *err, size_t errlen)
{
	static _Thread_local char sink[SL_ERR_LEN];
	struct sl_cfg_guard *tmp;
	struct plan *p;
	int rc = -1;

	if (!err || !errlen) {
		err = sink;
		errlen = sizeof(sink);
	}
	if (!path)
		return sl_seterr(err, errlen, "sl_plan_load_guards: no file name");
	if ((!g && max) || !n)
		return sl_seterr(err, errlen, "%s: sl_plan_load_guards: no guard array to fill",
			      path);
	if (plan_open(path, &p, err, errlen))
		return -1;
	tmp = calloc(SL_MAX_GUARDS, sizeof(*tmp));
	if (!tmp) {
		sl_seterr(err, errlen, "%s: cannot load: out of memory", path);
		goto out;
	}
	if (p->nguards > max) {
		gfail(p, &p->guards[max], NULL, "a guard too many (expected at most %u [guard "
		      "NAME] sections)", max);
		goto out;
	}
	for (unsigned i = 0; i < p->nguards; i++) {
		struct guard_ctx ctx = { p, &p->guards[i] };
		char where[600];

		snprintf(where, sizeof(where), "%s: [guard %s]", path, p->guards[i].name);
		if (sl_guard_parse(&tmp[i], p->guards[i].name, guard_value, &ctx, where, err,
				   errlen))
			goto out;
	}
	if (p->nguards)
		memcpy(g, tmp, p->nguards * sizeof(*g));
	*n = p->nguards;
	rc = 0;
out:
	free(tmp);
	plan_close(p);
	return rc;
}

int sl_plan_from_list(const char *list, const char *dwell, struct sl_ro_step *steps,
		      uint32_t *n, char *err, size_t errlen)
{
	struct sl_ro_step tmp[SL_RO_MAX_STEPS];
	char item[64], prev[64] = "", msg[SL_ERR_LEN];
	const char *p;
	uint32_t dwell_ms, count = 0;

	if (!steps || !n)
		return sl_seterr(err, errlen, "sl_plan_from_list: no step array to fill");
	if (!list)
		return sl_seterr(err, errlen, "--steps: missing (expected shares separated by "
			      "commas, " LIST_EXAMPLE ")");
	for (p = list; isspace((unsigned char)*p); p++)
		;
	if (!*p)
		return sl_seterr(err, errlen, "--steps: empty (expected shares separated by commas, "
			      LIST_EXAMPLE ")");
	if (!dwell)
		return sl_seterr(err, errlen, "--dwell: missing (expected the time at each step, "
			      "e.g. 60s)");
	if (sl_duration_parse(dwell, &dwell_ms, msg, sizeof(msg)))
		return sl_seterr(err, errlen, "--dwell: %s", msg);
	memset(tmp, 0, sizeof(tmp));
	for (p = list;; p++) {
		size_t len = strcspn(p, ",");
		char *it;

		if (count == SL_RO_MAX_STEPS)
			return sl_seterr(err, errlen, "--steps: more than %u items (expected at most "
				      "%u)", SL_RO_MAX_STEPS, SL_RO_MAX_STEPS);
		if (len >= sizeof(item))
			return sl_seterr(err, errlen, "--steps item %u '%.20s...': too long (expected "
				      "a share such as 5%%, 0.5%% or 50bp)", count + 1, p);
		memcpy(item, p, len);
		item[len] = '\0';
		it = sl_ini_strip(item); /* "1%, 5%" as typed in a shell */
		/* --steps 1,5,20,50,100 (DESIGN §6): a bare number is a percentage */
		if (*it && strspn(it, "0123456789.") == strlen(it) && strlen(it) + 1 < sizeof(item))
			strcat(it, "%");
		if (sl_share_parse(it, &tmp[count].share_bp, msg, sizeof(msg)))
			return sl_seterr(err, errlen, "--steps item %u '%s': %s", count + 1, it, msg);
		if (count > 0 && tmp[count].share_bp < tmp[count - 1].share_bp)
			return sl_seterr(err, errlen, "--steps item %u '%s': lower than item %u '%s' "
				      "(expected shares that do not decrease, " LIST_EXAMPLE ")",
				      count + 1, it, count, prev);
		tmp[count++].dwell_ms = dwell_ms;
		snprintf(prev, sizeof(prev), "%s", it);
		p += len;
		if (!*p)
			break;
	}
	if (sl_ro_check_steps(tmp, count, msg, sizeof(msg)))
		return sl_seterr(err, errlen, "--steps: %s", msg);
	memcpy(steps, tmp, count * sizeof(*steps));
	*n = count;
	return 0;
}
