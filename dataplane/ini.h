/* INI files read the way iniparser reads them, with what is wrong named
 * by line: shared by the configuration and the rollout plans. */
#ifndef SLUICE_INI_H
#define SLUICE_INI_H

#include <stddef.h>

#include <iniparser.h>

/* Longer than any logical line iniparser accepts ('\0' included). */
#define SL_INI_LINE_MAX 4096

enum {
	SL_INI_TOO_LONG = -2, /* *lineno: the physical line past the limit */
	SL_INI_NOMEM = -3,
};

/* iniparser_load(path), or NULL with msg saying what is wrong and on which
 * line ("line N: syntax error: 'TEXT' (expected EXPECT)", "line N: line
 * too long ...", "cannot parse: ..."), without the file's name. */
dictionary *sl_ini_load(const char *path, const char *expect, char *msg, size_t msglen);

/* Calls fn(ctx, line, first) for each logical line of text: trailing white
 * space cut, a trailing '\' joining the next line, first the number of its
 * first physical line; fn may change line.  Returns 0, fn's first non-zero
 * return, SL_INI_TOO_LONG (with *lineno) or SL_INI_NOMEM. */
int sl_ini_lines(const char *text, int (*fn)(void *ctx, char *line, unsigned first),
		 void *ctx, unsigned *lineno);

/* s without leading and trailing white space (cut in place). */
char *sl_ini_strip(char *s);
/* s in lower case, in place (iniparser lowers section and key names). */
void sl_ini_lower(char *s);

#endif
