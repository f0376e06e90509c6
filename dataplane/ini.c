/* INI files read the way iniparser reads them (see ini.h). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errmsg.h"
#include "ini.h"

#define TOO_LONG "line %lu: line too long (expected at most 1022 characters)"
/* The starts of iniparser 4.1's messages (iniparser_load) */
#define TOO_LONG_PREFIX "iniparser: input line too long in "
#define SYNTAX_PREFIX "iniparser: syntax error in "

/* iniparser reports through a global callback without context: the first
 * message of a load is kept, per thread. */
static _Thread_local char ini_msg[2 * SL_INI_LINE_MAX];
static _Thread_local unsigned ini_nmsg;

__attribute__((format(printf, 1, 2)))
static int ini_error(const char *fmt, ...)
{
	va_list ap;

	if (ini_nmsg++ == 0) {
		va_start(ap, fmt);
		vsnprintf(ini_msg, sizeof(ini_msg), fmt, ap);
		va_end(ap);
	}
	return 0;
}

static const char *file_kind(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	if (S_ISSOCK(m))
		return "a socket";
	return "a special file";
}

/* Bytes the scan (C strings, lines cut at '\n') and iniparser (fgets, then
 * isspace() at both ends) could read differently, or an editor shows
 * otherwise than both read them: NUL, control bytes but tab, and a carriage
 * return anywhere but right before a line feed. */
static int check_bytes(const char *t, size_t n, char *msg, size_t msglen)
{
	unsigned long line = 1;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)t[i];

		if (c == '\n') {
			line++;
			continue;
		}
		if (c == '\t' || (c >= 0x20 && c != 0x7f))
			continue;
		if (c == '\r' && i + 1 < n && t[i + 1] == '\n')
			continue;
		if (c == '\0')
			sl_seterr(msg, msglen, "line %lu: a NUL byte (expected text: the lines after "
				  "it would be read by one parser and not the other)", line);
		else if (c == '\r')
			sl_seterr(msg, msglen, "line %lu: a carriage return inside a line (expected "
				  "LF or CR LF line ends)", line);
		else
			sl_seterr(msg, msglen, "line %lu: control byte 0x%02x (expected text: "
				  "printable characters, tabs and line ends)", line, c);
		return -1;
	}
	return 0;
}

#define TOO_BIG "cannot read: larger than %u bytes (expected a file of at most 1 MiB)"

char *sl_ini_read(const char *path, size_t *len, char *msg, size_t msglen)
{
	struct stat st;
	size_t n = 0;
	char *buf;
	int fd;

	/* O_NONBLOCK: opening a FIFO does not wait for a writer */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		sl_seterr(msg, msglen, "cannot read: %s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st)) {
		sl_seterr(msg, msglen, "cannot read: %s", strerror(errno));
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		sl_seterr(msg, msglen, "cannot read: %s, not a regular file (expected a file of "
			  "at most 1 MiB)", file_kind(st.st_mode));
		close(fd);
		return NULL;
	}
	if (st.st_size > (off_t)SL_INI_MAX_BYTES) {
		sl_seterr(msg, msglen, TOO_BIG, SL_INI_MAX_BYTES);
		close(fd);
		return NULL;
	}
	buf = malloc(SL_INI_MAX_BYTES + 2);
	if (!buf) {
		sl_seterr(msg, msglen, "cannot read: out of memory");
		close(fd);
		return NULL;
	}
	/* the file may grow while it is read: never past the cap */
	while (n <= SL_INI_MAX_BYTES) {
		ssize_t r = read(fd, buf + n, SL_INI_MAX_BYTES + 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			sl_seterr(msg, msglen, "cannot read: %s", strerror(errno));
			free(buf);
			close(fd);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (n > SL_INI_MAX_BYTES) {
		sl_seterr(msg, msglen, TOO_BIG, SL_INI_MAX_BYTES);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	if (check_bytes(buf, n, msg, msglen)) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

/* iniparser 4.1 reads only named files: it gets the very bytes the scan
 * checked through an anonymous memory file, never the path again (the file
 * could have changed, or become a FIFO, since it was read). */
static dictionary *load_text(const char *text, size_t len, char *msg, size_t msglen)
{
	char name[64];
	dictionary *d;
	size_t off = 0;
	int fd = memfd_create("sluice-ini", MFD_CLOEXEC);

	if (fd < 0) {
		sl_seterr(msg, msglen, "cannot parse: memfd_create: %s", strerror(errno));
		return NULL;
	}
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			sl_seterr(msg, msglen, "cannot parse: writing the memory file: %s",
				  w < 0 ? strerror(errno) : "nothing written");
			close(fd);
			return NULL;
		}
		off += (size_t)w;
	}
	snprintf(name, sizeof(name), "/proc/self/fd/%d", fd);
	d = iniparser_load(name);
	close(fd);
	if (!d && !ini_nmsg)
		sl_seterr(msg, msglen, "cannot parse: iniparser cannot read %s", name);
	return d;
}

dictionary *sl_ini_parse(const char *text, size_t len, const char *expect, char *msg,
			 size_t msglen)
{
	char *open, *close, *line_text;
	unsigned long line;
	dictionary *d;

	ini_nmsg = 0;
	ini_msg[0] = '\0';
	msg[0] = '\0';
	iniparser_set_error_callback(ini_error);
	d = load_text(text, len, msg, msglen);
	iniparser_set_error_callback(NULL);
	if (d && !ini_nmsg)
		return d;
	if (d)
		iniparser_freedict(d);
	if (!ini_nmsg) {
		if (!msg[0])
			sl_seterr(msg, msglen, "cannot parse: iniparser failed without a message");
		return NULL;
	}
	/* "iniparser: input line too long in F (N)\n", F our /proc/self/fd/N:
	 * told by its start, never by words anywhere in it (a syntax error
	 * quotes the line, which may say "input line too long (0 ...)") */
	if (!strncmp(ini_msg, TOO_LONG_PREFIX, strlen(TOO_LONG_PREFIX)) &&
	    (ini_msg[strcspn(ini_msg, "\n")] = '\0', open = strrchr(ini_msg, '(')) &&
	    sscanf(open, "(%lu)", &line) == 1) {
		sl_seterr(msg, msglen, TOO_LONG, line);
		return NULL;
	}
	/* "iniparser: syntax error in F (N):\n-> TEXT\n" (the first "):\n-> "
	 * ends the line number: F has none, TEXT is one line); another shape is
	 * passed on verbatim */
	close = strstr(ini_msg, "):\n-> ");
	if (!strncmp(ini_msg, SYNTAX_PREFIX, strlen(SYNTAX_PREFIX)) && close) {
		*close = '\0';
		open = strrchr(ini_msg, '(');
		line_text = close + 6;
		line_text[strcspn(line_text, "\n")] = '\0';
		if (open && sscanf(open, "(%lu", &line) == 1) {
			sl_seterr(msg, msglen, "line %lu: syntax error: '%s' (expected %s)", line,
				  line_text, expect);
			return NULL;
		}
	}
	ini_msg[strcspn(ini_msg, "\n")] = '\0';
	sl_seterr(msg, msglen, "cannot parse: %s", ini_msg);
	return NULL;
}

/* iniparser accepts `k = "abc` and `k = "a" junk` silently; refuse both. */
static int check_quotes(const char *line, const char *value, unsigned lineno, char *msg,
			size_t msglen)
{
	const char *close, *p;
	char q;

	while (isspace((unsigned char)*value))
		value++;
	q = *value;
	if (q != '"' && q != '\'')
		return 0;
	close = strchr(value + 1, q);
	if (!close) {
		sl_seterr(msg, msglen, "line %u: syntax error: unterminated quote in '%s' (expected "
			 "KEY = %cVALUE%c)", lineno, line, q, q);
		return SL_INI_ERR;
	}
	for (p = close + 1; isspace((unsigned char)*p); p++)
		;
	if (*p && *p != ';' && *p != '#') {
		sl_seterr(msg, msglen, "line %u: syntax error: text after the closing quote in "
			 "'%s' (expected nothing or a ; comment after it)", lineno, line);
		return SL_INI_ERR;
	}
	return 0;
}

struct scan {
	dictionary *d;
	int (*section)(void *ctx, char *line, unsigned lineno);
	int (*key)(void *ctx, char *key, unsigned lineno);
	void *ctx;
	char *msg;
	size_t msglen;
	char sec[SL_INI_LINE_MAX]; /* the current section, as iniparser names it */
	char full[2 * SL_INI_LINE_MAX];
	long entries;              /* sections and keys accepted */
};

#define DIFFERS "line %u: iniparser reads this %s differently: '%s' (expected plain " \
	"[SECTION] and KEY = VALUE lines)"

static int scan_line(struct scan *sc, char *line, unsigned lineno)
{
	char *eq, *k;
	int rc;

	line = sl_ini_strip(line);
	if (!*line || *line == '#' || *line == ';')
		return 0;
	if (line[0] == '[' && line[strlen(line) - 1] == ']') {
		/* iniparser: sscanf "[%[^]]", stripped, in lower case */
		size_t n = strcspn(line + 1, "]");

		memcpy(sc->sec, line + 1, n);
		sc->sec[n] = '\0';
		k = sl_ini_strip(sc->sec);
		memmove(sc->sec, k, strlen(k) + 1);
		sl_ini_lower(sc->sec);
		rc = sc->section(sc->ctx, line, lineno);
		if (rc || !sc->d)
			return rc;
		if (!iniparser_find_entry(sc->d, sc->sec))
			return sl_seterr(sc->msg, sc->msglen, DIFFERS, lineno, "section", sc->sec),
			       SL_INI_ERR;
		sc->entries++;
		return 0;
	}
	eq = strchr(line, '=');
	if (!eq) { /* iniparser already refused such a line */
		sl_seterr(sc->msg, sc->msglen, "line %u: syntax error: '%s' (expected KEY = VALUE)",
			  lineno, line);
		return SL_INI_ERR;
	}
	rc = check_quotes(line, eq + 1, lineno, sc->msg, sc->msglen);
	if (rc)
		return rc;
	*eq = '\0';
	k = sl_ini_strip(line);
	sl_ini_lower(k);
	snprintf(sc->full, sizeof(sc->full), "%s:%s", sc->sec, k);
	rc = sc->key(sc->ctx, k, lineno);
	if (rc || !sc->d)
		return rc;
	if (!iniparser_find_entry(sc->d, sc->full))
		return sl_seterr(sc->msg, sc->msglen, DIFFERS, lineno, "key", sc->full),
		       SL_INI_ERR;
	sc->entries++;
	return 0;
}

int sl_ini_scan(const char *text, dictionary *d,
		int (*section)(void *ctx, char *line, unsigned lineno),
		int (*key)(void *ctx, char *key, unsigned lineno), void *ctx, char *msg,
		size_t msglen)
{
	char *logical = malloc(SL_INI_LINE_MAX);
	struct scan *sc = calloc(1, sizeof(*sc));
	size_t ll = 0;
	unsigned no = 0, first = 0;
	int rc = 0;

	if (!logical || !sc) {
		free(logical);
		free(sc);
		sl_seterr(msg, msglen, "cannot read: out of memory");
		return SL_INI_ERR;
	}
	sc->d = d;
	sc->section = section;
	sc->key = key;
	sc->ctx = ctx;
	sc->msg = msg;
	sc->msglen = msglen;
	while (*text && rc == 0) {
		const char *nl = strchr(text, '\n');
		size_t n = nl ? (size_t)(nl - text) : strlen(text);

		no++;
		while (n > 0 && isspace((unsigned char)text[n - 1]))
			n--;
		if (ll == 0)
			first = no;
		if (ll + n + 1 > SL_INI_LINE_MAX) {
			sl_seterr(msg, msglen, TOO_LONG, (unsigned long)no);
			rc = SL_INI_ERR;
			break;
		}
		memcpy(logical + ll, text, n);
		ll += n;
		/* iniparser strips the blanks at the end of the whole logical
		 * line: after a continuation an empty line uncovers the blanks
		 * before the '\' that went, and maybe another '\' (then the
		 * line goes on, past the empty line) */
		while (ll > 0 && isspace((unsigned char)logical[ll - 1]))
			ll--;
		logical[ll] = '\0';
		text = nl ? nl + 1 : text + strlen(text);
		if (ll > 0 && logical[ll - 1] == '\\') {
			ll--;
			continue;
		}
		rc = scan_line(sc, logical, first);
		ll = 0;
	}
	if (rc == 0 && ll > 0)
		rc = scan_line(sc, logical, first);
	/* and iniparser holds nothing the scan did not see */
	if (rc == 0 && d && d->n != sc->entries) {
		sl_seterr(msg, msglen, "iniparser reads %d sections and keys, the line scan %ld "
			  "(expected plain [SECTION] and KEY = VALUE lines)", d->n, sc->entries);
		rc = SL_INI_ERR;
	}
	free(logical);
	free(sc);
	return rc;
}

char *sl_ini_strip(char *s)
{
	size_t n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

void sl_ini_lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}
