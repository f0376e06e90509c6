/* fuzz_ini: the INI reader shared by the configuration and the plans
 * (dataplane/ini.h) against iniparser, on arbitrary files.  The file is
 * read as the loaders read it (sl_ini_read), parsed by iniparser
 * (sl_ini_parse) and walked by the line scan (sl_ini_scan) with callbacks
 * that take every section and key once (a second one is refused, as the
 * loaders refuse duplicates).  Invariants:
 *  - every refusal says where: "line N: ..." (N a line of the file), or
 *    "cannot read: ..." / "cannot parse: ...", or the scan's count message;
 *  - when the scan accepts, it and iniparser agree, checked here apart from
 *    the scan's own checks: the sections and keys it reported are exactly
 *    iniparser's entries (as many, none missing), and each key's value in
 *    iniparser's dictionary of the whole file is the value iniparser gives
 *    the key's lines alone (the physical lines the scan took for that
 *    logical line, under a section of their own): no line the scan did not
 *    see changed a value (a NUL byte once hid `share = 100%` after a
 *    visible `share = 0%`). */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iniparser.h>

#include "fuzz.h"
#include "ini.h"

#define MAX_ENTRIES 512

struct entry {
	char *full;      /* "section" or "section:key", as iniparser names it */
	char *key;       /* a key's name alone; NULL for a section */
	unsigned line;   /* first physical line */
};

struct ctx {
	struct entry e[MAX_ENTRIES];
	unsigned n;
	char sec[SL_INI_LINE_MAX];
	int overflow;
};

static int add(struct ctx *c, const char *full, const char *key, unsigned line)
{
	for (unsigned i = 0; i < c->n; i++)
		if (!strcmp(c->e[i].full, full))
			return 1; /* a duplicate: the loaders refuse it */
	if (c->n == MAX_ENTRIES) {
		c->overflow = 1;
		return 1;
	}
	c->e[c->n].full = strdup(full);
	c->e[c->n].key = key ? strdup(key) : NULL;
	FZ_CHECK(c->e[c->n].full != NULL && (!key || c->e[c->n].key), "out of memory");
	c->e[c->n].line = line;
	c->n++;
	return 0;
}

/* The section's name the way iniparser takes it: sscanf "[%[^]]", then
 * stripped and in lower case. */
static int on_section(void *vc, char *line, unsigned lineno)
{
	struct ctx *c = vc;
	size_t n;
	char *s;

	FZ_CHECK(line[0] == '[' && line[strlen(line) - 1] == ']', "section line '%s'", line);
	n = strcspn(line + 1, "]");
	memcpy(c->sec, line + 1, n);
	c->sec[n] = 0;
	s = sl_ini_strip(c->sec);
	memmove(c->sec, s, strlen(s) + 1);
	sl_ini_lower(c->sec);
	return add(c, c->sec, NULL, lineno);
}

static int on_key(void *vc, char *key, unsigned lineno)
{
	struct ctx *c = vc;
	char full[2 * SL_INI_LINE_MAX + 2];

	snprintf(full, sizeof(full), "%s:%s", c->sec, key);
	return add(c, full, key, lineno);
}

/* The physical lines of the logical line starting at line `first` (1-based)
 * of text, as the scan joins them (and iniparser): each physical line is
 * added to the logical line, which loses its trailing blanks, and while it
 * then ends in '\' that '\' goes and the next physical line follows (an
 * empty line too).  Returns a malloc'd copy of those physical lines, newlines
 * included. */
static char *logical_lines(const char *text, unsigned first)
{
	const char *p = text, *start;
	unsigned no = 1;
	char *acc = malloc(strlen(text) + 1);
	size_t ll = 0;

	FZ_CHECK(acc != NULL, "out of memory");
	while (no < first && *p) {
		const char *nl = strchr(p, '\n');

		FZ_CHECK(nl != NULL, "line %u past the end of the text", first);
		p = nl + 1;
		no++;
	}
	start = p;
	for (;;) {
		const char *nl = strchr(p, '\n');
		const char *e = nl ? nl : p + strlen(p);
		const char *q = e;

		while (q > p && isspace((unsigned char)q[-1]))
			q--;
		memcpy(acc + ll, p, (size_t)(q - p));
		ll += (size_t)(q - p);
		while (ll && isspace((unsigned char)acc[ll - 1]))
			ll--;
		p = nl ? nl + 1 : e;
		if (!(ll && acc[ll - 1] == '\\') || !*p)
			break;
		ll--; /* the '\' goes, the next line follows */
	}
	free(acc);
	return strndup(start, (size_t)(p - start));
}

static void check_where(const char *msg, unsigned lines, const char *what)
{
	unsigned long ln;
	char *end;

	if (fz_starts(msg, "cannot read: ") || fz_starts(msg, "cannot parse: ") ||
	    fz_starts(msg, "iniparser reads "))
		return;
	FZ_CHECK(fz_starts(msg, "line "), "%s: a refusal that names no line: '%s'", what, msg);
	ln = strtoul(msg + 5, &end, 10);
	FZ_CHECK(end != msg + 5 && fz_starts(end, ": ") && end[2] && ln >= 1 && ln <= lines,
		 "%s: a refusal naming line %lu of %u: '%s'", what, ln, lines, msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ctx c;
	const char *path = fz_path("ini", "ini");
	char msg[2 * SL_INI_LINE_MAX + 256];
	unsigned lines = 1;
	size_t len = 0;
	dictionary *d;
	char *text;
	int rc, nd = 0;

	if (size > 64 * 1024)
		return 0;
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	fz_write(path, data, size);
	msg[0] = 0;
	text = sl_ini_read(path, &len, msg, sizeof(msg));
	if (!text) {
		check_where(msg, lines, "sl_ini_read");
		return 0;
	}
	FZ_CHECK(len == size && !memcmp(text, data, size) && text[len] == 0,
		 "sl_ini_read did not return the file's bytes");
	d = sl_ini_parse(text, len, "KEY = VALUE", msg, sizeof(msg));
	if (!d) {
		check_where(msg, lines, "sl_ini_parse");
		free(text);
		return 0;
	}
	c.n = 0;
	c.sec[0] = 0;
	c.overflow = 0;
	rc = sl_ini_scan(text, d, on_section, on_key, &c, msg, sizeof(msg));
	if (rc == SL_INI_ERR)
		check_where(msg, lines, "sl_ini_scan");
	else if (rc == 0) {
		/* the same entries */
		for (int i = 0; i < d->size; i++) {
			unsigned j;

			if (!d->key[i])
				continue;
			nd++;
			for (j = 0; j < c.n; j++)
				if (!strcmp(c.e[j].full, d->key[i]))
					break;
			FZ_CHECK(j < c.n, "iniparser has '%s', the scan accepted the file "
				 "without it", d->key[i]);
		}
		FZ_CHECK((unsigned)nd == c.n, "iniparser has %d entries, the scan %u", nd, c.n);
		/* the same values: each key's lines alone give its value */
		for (unsigned j = 0; j < c.n; j++) {
			const struct entry *e = &c.e[j];
			const char *v_all, *v_one;
			char *lines_of, *alone, one[2 * SL_INI_LINE_MAX + 8], m2[512];
			dictionary *d1;

			if (!e->key)
				continue;
			lines_of = logical_lines(text, e->line);
			FZ_CHECK(lines_of != NULL, "out of memory");
			FZ_CHECK(asprintf(&alone, "[fuzzsection]\n%s", lines_of) > 0, "out of memory");
			d1 = sl_ini_parse(alone, strlen(alone), "KEY = VALUE", m2, sizeof(m2));
			FZ_CHECK(d1 != NULL, "line %u ('%s') refused alone: %s", e->line, lines_of,
				 m2);
			snprintf(one, sizeof(one), "fuzzsection:%s", e->key);
			v_all = iniparser_getstring(d, e->full, NULL);
			v_one = iniparser_getstring(d1, one, NULL);
			FZ_CHECK(v_all && v_one && !strcmp(v_all, v_one),
				 "line %u: '%s' is '%s' in the file, '%s' from its own lines '%s'",
				 e->line, e->full, v_all ? v_all : "(none)", v_one ? v_one : "(none)",
				 lines_of);
			iniparser_freedict(d1);
			free(alone);
			free(lines_of);
		}
	}
	for (unsigned j = 0; j < c.n; j++) {
		free(c.e[j].full);
		free(c.e[j].key);
	}
	iniparser_freedict(d);
	free(text);
	return 0;
}
