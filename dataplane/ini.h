/* INI files read the way iniparser reads them, with what is wrong named
 * by line: shared by the configuration and the rollout plans.
 *
 * A file is read once (sl_ini_read); iniparser parses exactly those bytes
 * (sl_ini_parse) and the line scan (sl_ini_scan) walks them too.  Bytes the
 * two could read differently are refused before either runs (a NUL hid the
 * lines after it from the scan while iniparser read them), and the scan
 * checks that every section and key it saw is iniparser's and that iniparser
 * has nothing else. */
#ifndef SLUICE_INI_H
#define SLUICE_INI_H

#include <stddef.h>

#include <iniparser.h>

/* Longer than any logical line iniparser accepts ('\0' included). */
#define SL_INI_LINE_MAX 4096

/* sl_ini_scan's own refusal (msg says why); a callback's -1 is its own. */
#define SL_INI_ERR (-2)

/* What a configuration or a plan file may weigh. */
#define SL_INI_MAX_BYTES (1u << 20)

/* path's whole text, read once, NUL-terminated (free() it), its length in
 * *len; or NULL with msg ("cannot read: ..."), without the file's name.
 * Refused: what is not a regular file after symlinks (a directory, a FIFO
 * or a device: opened without blocking, so a FIFO cannot hang the caller),
 * more than SL_INI_MAX_BYTES bytes, and text the scan and iniparser could
 * read differently: a NUL byte, a control byte other than tab, a carriage
 * return that does not end a line (before its line feed) ("line N: ..."). */
char *sl_ini_read(const char *path, size_t *len, char *msg, size_t msglen);

/* iniparser's dictionary of text (len bytes, as sl_ini_read returned it),
 * or NULL with msg saying what is wrong and on which line ("line N: syntax
 * error: 'TEXT' (expected EXPECT)", "line N: line too long ...", "cannot
 * parse: ..."). */
dictionary *sl_ini_parse(const char *text, size_t len, const char *expect, char *msg,
			 size_t msglen);

/* Walks text's logical lines as iniparser reads them (a trailing '\'
 * joins the next line; lineno is the first physical line's number),
 * skipping blank and comment lines: section(ctx, "[...]", lineno) for a
 * section header, key(ctx, KEY, lineno) for KEY = VALUE with KEY stripped
 * and in lower case.  What iniparser lets through silently is refused
 * here: a line without '=', an unterminated quote, text after a closing
 * quote.  With d (sl_ini_parse's dictionary of the same text), every
 * section and key a callback accepted must be in d, and d must hold
 * nothing else.  Returns 0, a callback's first non-zero return, or
 * SL_INI_ERR with msg ("line N: ..."). */
int sl_ini_scan(const char *text, dictionary *d,
		int (*section)(void *ctx, char *line, unsigned lineno),
		int (*key)(void *ctx, char *key, unsigned lineno), void *ctx, char *msg,
		size_t msglen);

/* s without leading and trailing white space (cut in place). */
char *sl_ini_strip(char *s);
/* s in lower case, in place (iniparser lowers section and key names). */
void sl_ini_lower(char *s);

#endif
