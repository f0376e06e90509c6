/* Replay schedules: "at TIME COMMAND ARGS..." lines -> requests (see
 * schedule.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"
#include "../dataplane/config.h"
#include "schedule.h"

#define SCHED_MAX_BYTES (16u << 20)
#define TIME_EXAMPLES "e.g. 500ms, 2.0s, 10s, 1m"

int sl_sched_time_parse(const char *s, uint64_t *ms, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		uint64_t ms;
	} units[] = { { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 } };
	uint64_t ip = 0, fp = 0, scale = 1, unit = 0, v;
	const char *p = s;
	int nint = 0, nfrac = 0;

	while (*p >= '0' && *p <= '9' && nint < 10)
		ip = ip * 10 + (uint64_t)(*p++ - '0'), nint++;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9' && nfrac < 9)
			fp = fp * 10 + (uint64_t)(*p++ - '0'), nfrac++, scale *= 10;
		if (nfrac == 0)
			return sl_seterr(err, errlen, "'%s': expected digits after the decimal point "
				   "(%s)", s, TIME_EXAMPLES);
	}
	if (nint == 0 && nfrac == 0)
		return sl_seterr(err, errlen, "'%s' is not a time (expected a number and a unit: %s)",
			   s, TIME_EXAMPLES);
	if (*p >= '0' && *p <= '9')
		return sl_seterr(err, errlen, "'%s': too many digits (at most 30 days: %llu ms)", s,
			   (unsigned long long)SL_SCHED_MAX_MS);
	if (*p == '\0')
		return sl_seterr(err, errlen, "'%s' has no unit (expected ms, s, m or h: %s)", s,
			   TIME_EXAMPLES);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(p, units[i].name))
			unit = units[i].ms;
	if (!unit)
		return sl_seterr(err, errlen, "'%s': unknown unit '%s' (expected ms, s, m or h: %s)", s,
			   p, TIME_EXAMPLES);
	if ((fp * unit) % scale)
		return sl_seterr(err, errlen, "'%s' is finer than a millisecond (expected whole "
			   "milliseconds: %s)", s, TIME_EXAMPLES);
	v = ip * unit + fp * unit / scale;
	if (v > SL_SCHED_MAX_MS)
		return sl_seterr(err, errlen, "'%s' is more than 30 days after the first packet", s);
	*ms = v;
	return 0;
}

/* Split a line into words (quotes, backslash, '#' comments); the words
 * are written into buf (room for strlen(line) + 1 + SL_SCHED_MAX_WORDS). */
static int split(const char *line, char *buf, char **words, int *nw, char *why, size_t whylen)
{
	const char *p = line;
	char *o = buf;

	*nw = 0;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '#')
			return 0;
		if (*nw == SL_SCHED_MAX_WORDS)
			return sl_seterr(why, whylen, "more than %d words", SL_SCHED_MAX_WORDS);
		words[(*nw)++] = o;
		while (*p && *p != ' ' && *p != '\t') {
			if (*p == '\'' || *p == '"') {
				char q = *p++;

				while (*p && *p != q) {
					if (q == '"' && *p == '\\' && (p[1] == '"' || p[1] == '\\'))
						p++;
					*o++ = *p++;
				}
				if (*p != q)
					return sl_seterr(why, whylen, "unterminated %c quote", q);
				p++;
			} else if (*p == '\\') {
				if (!p[1])
					return sl_seterr(why, whylen, "a backslash ends the line "
						   "(expected a character after it)");
				*o++ = p[1];
				p += 2;
			} else {
				*o++ = *p++;
			}
		}
		*o++ = '\0';
	}
}

/* One word as it would be written: quoted when it needs to be. */
static size_t quote_word(const char *w, char *out, size_t len)
{
	int plain = *w != '\0';

	for (const char *p = w; *p && plain; p++)
		plain = !strchr(" \t'\"\\#", *p);
	if (plain)
		return (size_t)snprintf(out, len, "%s", w);
	if (!strchr(w, '\''))
		return (size_t)snprintf(out, len, "'%s'", w);
	{
		size_t n = 0;

		if (n < len)
			out[n] = '"';
		n++;
		for (const char *p = w; *p; p++) {
			if (*p == '"' || *p == '\\') {
				if (n < len)
					out[n] = '\\';
				n++;
			}
			if (n < len)
				out[n] = *p;
			n++;
		}
		if (n < len)
			out[n] = '"';
		n++;
		if (len)
			out[n < len ? n : len - 1] = '\0';
		return n;
	}
}

static int push(struct sl_schedule *s, const struct sl_sched_action *a)
{
	if (s->n == s->cap) {
		unsigned cap = s->cap ? s->cap * 2 : 16;
		struct sl_sched_action *na = realloc(s->a, cap * sizeof(*na));

		if (!na)
			return -1;
		s->a = na;
		s->cap = cap;
	}
	s->a[s->n++] = *a;
	return 0;
}

void sl_schedule_free(struct sl_schedule *s)
{
	for (unsigned i = 0; i < s->n; i++) {
		json_decref(s->a[i].req);
		free(s->a[i].text);
	}
	free(s->a);
	s->a = NULL;
	s->n = s->cap = 0;
}

/* One non-empty line into *a; returns 0, or -1 with why. */
static int parse_line(char **w, int nw, uint64_t prev_ms, unsigned prev_line,
		      struct sl_sched_action *a, char *why, size_t whylen)
{
	struct sl_rq_error e;
	char terr[256], text[SL_SCHED_MAX_LINE];
	size_t off = 0;
	int used = 0;

	if (strcmp(w[0], "at"))
		return sl_seterr(why, whylen, "expected 'at TIME COMMAND ...' (e.g. 'at 2s canary web "
			   "5%%'), not '%s'", w[0]);
	if (nw < 2)
		return sl_seterr(why, whylen, "'at' needs a TIME and a COMMAND (e.g. 'at 2s canary web "
			   "5%%')");
	if (sl_sched_time_parse(w[1], &a->at_ms, terr, sizeof(terr)))
		return sl_seterr(why, whylen, "TIME %s", terr);
	if (nw < 3)
		return sl_seterr(why, whylen, "'at %s' needs a COMMAND (e.g. 'at %s canary web 5%%')",
			   w[1], w[1]);
	if (prev_line && a->at_ms < prev_ms)
		return sl_seterr(why, whylen, "at %s comes before the time of line %u (%llu ms): times "
			   "must not decrease", w[1], prev_line, (unsigned long long)prev_ms);
	if (sl_rq_find(nw - 2, w + 2, 0, &a->cmd, &used, &e))
		return sl_seterr(why, whylen, "%s", e.message);
	if (a->cmd->kind == SL_CMD_RELOAD)
		return sl_seterr(why, whylen, "'reload' cannot run in a replay (the configuration is "
			   "the one given with -c)");
	if (!a->cmd->changes)
		return sl_seterr(why, whylen, "'%s' changes nothing (a schedule holds changes: switch, "
			   "canary, weights, rollout start|pause|resume|promote|abort, undo)",
			   a->cmd->words);
	if (sl_rq_build(a->cmd, nw - 2 - used, w + 2 + used, 0, &a->req, &e))
		return sl_seterr(why, whylen, "%s", e.message);
	for (int i = 2; i < nw && off < sizeof(text); i++) {
		if (i > 2)
			text[off++] = ' ';
		if (off < sizeof(text))
			off += quote_word(w[i], text + off, sizeof(text) - off);
	}
	text[off < sizeof(text) ? off : sizeof(text) - 1] = '\0';
	a->text = strdup(text);
	if (!a->text) {
		json_decref(a->req);
		return sl_seterr(why, whylen, "out of memory");
	}
	return 0;
}

int sl_schedule_parse(const char *name, const char *text, size_t len, struct sl_schedule *s,
		      char *err, size_t errlen)
{
	char line[SL_SCHED_MAX_LINE + 1], buf[SL_SCHED_MAX_LINE + 1 + SL_SCHED_MAX_WORDS];
	char *words[SL_SCHED_MAX_WORDS], why[1200];
	size_t pos = 0;
	unsigned ln = 0;

	memset(s, 0, sizeof(*s));
	snprintf(s->path, sizeof(s->path), "%s", name);
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t raw = nl ? (size_t)(nl - (text + pos)) : len - pos, n = raw;
		struct sl_sched_action a;
		int nw;

		ln++;
		if (n && text[pos + n - 1] == '\r')
			n--;
		if (n > SL_SCHED_MAX_LINE) {
			sl_seterr(why, sizeof(why), "line longer than %d bytes", SL_SCHED_MAX_LINE);
			goto fail;
		}
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += raw + (nl ? 1 : 0);
		if (strlen(line) != n) {
			sl_seterr(why, sizeof(why), "a NUL byte in the line (not a text file?)");
			goto fail;
		}
		if (split(line, buf, words, &nw, why, sizeof(why)))
			goto fail;
		if (nw == 0)
			continue;
		memset(&a, 0, sizeof(a));
		a.line = ln;
		if (parse_line(words, nw, s->n ? s->a[s->n - 1].at_ms : 0,
			       s->n ? s->a[s->n - 1].line : 0, &a, why, sizeof(why)))
			goto fail;
		if (push(s, &a)) {
			json_decref(a.req);
			free(a.text);
			sl_seterr(why, sizeof(why), "out of memory");
			goto fail;
		}
	}
	return 0;
fail:
	snprintf(err, errlen, "%s:%u: %s", name, ln, why);
	sl_schedule_free(s);
	return -1;
}

int sl_schedule_load(const char *path, struct sl_schedule *s, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *text;
	size_t n;
	int rc;

	memset(s, 0, sizeof(*s));
	if (!f)
		return sl_seterr(err, errlen, "%s: cannot open the schedule: %s", path, strerror(errno));
	text = malloc(SCHED_MAX_BYTES + 1);
	if (!text) {
		fclose(f);
		return sl_seterr(err, errlen, "%s: out of memory", path);
	}
	n = fread(text, 1, SCHED_MAX_BYTES + 1, f);
	if (ferror(f)) {
		rc = sl_seterr(err, errlen, "%s: cannot read the schedule: %s", path, strerror(errno));
	} else if (n > SCHED_MAX_BYTES) {
		rc = sl_seterr(err, errlen, "%s: larger than %u MB (not a schedule?)", path,
			 SCHED_MAX_BYTES >> 20);
	} else {
		rc = sl_schedule_parse(path, text, n, s, err, errlen);
	}
	free(text);
	fclose(f);
	return rc;
}

static int group_check(const struct sl_schedule *s, const struct sl_sched_action *a,
		       const struct sl_config *cfg, int svc, const char *group, char *err,
		       size_t errlen)
{
	const struct sl_cfg_service *cs = &cfg->services[svc];
	const char *champ = cfg->groups[cs->champion].name;
	const char *chall = cfg->groups[cs->challenger].name;

	if (!strcmp(group, champ) || !strcmp(group, chall))
		return 0;
	return sl_seterr(err, errlen, "%s:%u: %s: group '%s' is not one of service %s's groups (%s, "
		   "%s in %s)", s->path, a->line, a->text, group, cs->name, champ, chall,
		   cfg->path);
}

int sl_schedule_check(const struct sl_schedule *s, const struct sl_config *cfg, char *err,
		      size_t errlen)
{
	for (unsigned i = 0; i < s->n; i++) {
		const struct sl_sched_action *a = &s->a[i];
		const char *svc = json_string_value(json_object_get(a->req, "service"));
		const char *group = json_string_value(json_object_get(a->req, "group"));
		const char *port = json_string_value(json_object_get(a->req, "port"));
		json_t *weights = json_object_get(a->req, "weights"), *v;
		const char *key;
		int si, pi;

		/* shadow add: copies go to a port of role shadow */
		if (port) {
			pi = sl_config_port(cfg, port);
			if (pi < 0 || cfg->ports[pi].role != SL_ROLE_SHADOW)
				return sl_seterr(err, errlen, "%s:%u: %s: %s '%s' (expected a port of "
					   "role shadow in %s)", s->path, a->line, a->text,
					   pi < 0 ? "unknown port" : "not a shadow port", port,
					   cfg->path);
		}
		if (!svc)
			continue;
		si = sl_config_service(cfg, svc);
		if (si < 0) {
			char names[1024];
			size_t off = 0;

			names[0] = '\0';
			for (unsigned k = 0; k < cfg->nservices && off < sizeof(names); k++)
				off += (size_t)snprintf(names + off, sizeof(names) - off, "%s%s",
							k ? ", " : "", cfg->services[k].name);
			return sl_seterr(err, errlen, "%s:%u: %s: unknown service '%s' (%s has: %s)",
				   s->path, a->line, a->text, svc, cfg->path, names);
		}
		if (group && group_check(s, a, cfg, si, group, err, errlen))
			return -1;
		json_object_foreach(weights, key, v)
			if (group_check(s, a, cfg, si, key, err, errlen))
				return -1;
	}
	return 0;
}
