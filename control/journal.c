/* The change journal: append-only JSON lines with fsync. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "errmsg.h"
#include "journal.h"
#include "maps.h"

/* mkdir -p of the directory part of path. */
static int make_dirs(const char *path, char *err, size_t errlen)
{
	char dir[256], sub[SL_ERR_LEN];

	snprintf(dir, sizeof(dir), "%s", path);
	if (sl_mkdir_p(dirname(dir), sub, sizeof(sub)))
		return sl_seterr(err, errlen, "journal %s: %s", path, sub);
	return 0;
}

static int fsync_dir(const char *path, char *err, size_t errlen)
{
	char buf[256];
	int fd, rc;

	snprintf(buf, sizeof(buf), "%s", path);
	fd = open(dirname(buf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return sl_seterr(err, errlen, "journal %s: cannot open its directory: %s", path,
			      strerror(errno));
	rc = fsync(fd);
	close(fd);
	if (rc != 0)
		return sl_seterr(err, errlen, "journal %s: cannot fsync its directory: %s", path,
			      strerror(errno));
	return 0;
}

/* One writer: a second daemon on the same journal would interleave lines. */
static int lock_file(struct sl_journal *j, const char *path, char *err, size_t errlen)
{
	if (flock(j->fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	if (errno == EWOULDBLOCK)
		return sl_seterr(err, errlen, "journal %s is in use by another process (another "
			      "sluiced of this instance?)", path);
	return sl_seterr(err, errlen, "journal %s: cannot lock: %s", path, strerror(errno));
}

static int open_file(struct sl_journal *j, const char *path, char *err, size_t errlen)
{
	j->fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
	if (j->fd >= 0)
		return lock_file(j, path, err, errlen);
	if (errno != ENOENT)
		return sl_seterr(err, errlen, "journal %s: cannot open: %s", path, strerror(errno));
	if (make_dirs(path, err, errlen))
		return -1;
	j->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (j->fd < 0)
		return sl_seterr(err, errlen, "journal %s: cannot create: %s", path, strerror(errno));
	/* The new name must survive a crash as much as the lines will. */
	return lock_file(j, path, err, errlen) || fsync_dir(path, err, errlen) ? -1 : 0;
}

static int read_all(int fd, const char *path, char **buf, size_t *len, char *err,
		    size_t errlen)
{
	size_t cap = 1 << 16, n = 0;
	char *b = malloc(cap);

	if (!b)
		return sl_seterr(err, errlen, "journal %s: out of memory", path);
	for (;;) {
		ssize_t r;

		if (n == cap) {
			char *nb = realloc(b, cap * 2);

			if (!nb) {
				free(b);
				return sl_seterr(err, errlen, "journal %s: out of memory", path);
			}
			b = nb;
			cap *= 2;
		}
		r = pread(fd, b + n, cap - n, (off_t)n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(b);
			return sl_seterr(err, errlen, "journal %s: cannot read: %s", path,
				      strerror(errno));
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*buf = b;
	*len = n;
	return 0;
}

/* A journal line: a JSON object with a whole "gen" and a string "cmd".
 * Returns the object or NULL with why in msg. */
static json_t *parse_line(const char *p, size_t n, char *msg, size_t msglen)
{
	json_error_t jerr;
	json_t *o = json_loadb(p, n, 0, &jerr), *gen;

	if (!o) {
		snprintf(msg, msglen, "not JSON: %s (column %d)", jerr.text, jerr.column);
		return NULL;
	}
	gen = json_object_get(o, "gen");
	if (!json_is_object(o))
		snprintf(msg, msglen, "not a JSON object");
	else if (!json_is_integer(gen) || json_integer_value(gen) < 0 ||
		 json_integer_value(gen) > UINT32_MAX)
		snprintf(msg, msglen, "no generation (expected \"gen\": a whole number)");
	else if (!json_is_string(json_object_get(o, "cmd")))
		snprintf(msg, msglen, "no command (expected \"cmd\": a string)");
	else
		return o;
	json_decref(o);
	return NULL;
}

/* All n bytes, or -1 with errno (EIO when the file takes none). */
static int write_all(int fd, const char *p, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t w = write(fd, p + done, n - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return -1;
		}
		done += (size_t)w;
	}
	return 0;
}

/* Append the bytes of a torn line to PATH.torn (created 0600), fsync'd
 * before the journal is cut. */
static int keep_torn(const struct sl_journal *j, const char *p, size_t n, char *err,
		     size_t errlen)
{
	char tpath[sizeof(j->path) + 8];
	int fd;

	snprintf(tpath, sizeof(tpath), "%s.torn", j->path);
	fd = open(tpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return sl_seterr(err, errlen, "journal %s: cannot keep the torn last line in %s: "
				 "%s (nothing cut)", j->path, tpath, strerror(errno));
	if (write_all(fd, p, n) || write_all(fd, "\n", 1) || fsync(fd) != 0) {
		sl_seterr(err, errlen, "journal %s: cannot keep the torn last line in %s: %s "
			  "(nothing cut)", j->path, tpath, strerror(errno ? errno : EIO));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int sl_journal_open(struct sl_journal *j, const char *path, sl_journal_fn fn, void *ctx,
		    char *note, size_t notelen, char *err, size_t errlen)
{
	char *buf = NULL, msg[256];
	size_t len = 0, off = 0;
	uint64_t line = 0;

	memset(j, 0, sizeof(*j));
	j->fd = -1;
	if (note && notelen)
		note[0] = '\0';
	if (!path)
		return sl_seterr(err, errlen, "journal: no path");
	if (strlen(path) >= sizeof(j->path))
		return sl_seterr(err, errlen, "journal %s: path too long (at most %zu characters)",
			      path, sizeof(j->path) - 1);
	snprintf(j->path, sizeof(j->path), "%s", path);
	if (open_file(j, path, err, errlen) || read_all(j->fd, path, &buf, &len, err, errlen))
		goto fail;

	while (off < len) {
		const char *p = buf + off;
		const char *nl = memchr(p, '\n', len - off);
		size_t n = nl ? (size_t)(nl - p) : len - off;
		uint32_t gen;
		const char *cmd;
		json_t *o;

		line++;
		o = parse_line(p, n, msg, sizeof(msg));
		if (!o && !nl) {
			/* The last line without its newline: a write the machine did
			 * not finish.  Its bytes are kept aside, then cut off. */
			if (keep_torn(j, p, n, err, errlen))
				goto fail;
			snprintf(note, notelen, "journal %s: line %llu is torn (%zu bytes): cut off, "
				 "kept in %s.torn", path, (unsigned long long)line, n, path);
			if (ftruncate(j->fd, (off_t)off) != 0 || fsync(j->fd) != 0) {
				sl_seterr(err, errlen, "journal %s: cannot cut off torn line %llu: %s",
				       path, (unsigned long long)line, strerror(errno));
				goto fail;
			}
			j->torn = 1;
			break;
		}
		if (!o) {
			/* a whole line (its newline was written after it) that is not
			 * ours: never deleted */
			sl_seterr(err, errlen, "journal %s: line %llu is invalid: %s (the journal is "
			       "damaged; repair or move it away)", path,
			       (unsigned long long)line, msg);
			goto fail;
		}
		gen = (uint32_t)json_integer_value(json_object_get(o, "gen"));
		cmd = json_string_value(json_object_get(o, "cmd"));
		/* every entry publishes the next generation or none; only init and
		 * recover start them again: a gap is a line missing */
		if (j->lines && strcmp(cmd, "init") && strcmp(cmd, "recover") &&
		    gen != j->last_gen && gen != j->last_gen + 1) {
			sl_seterr(err, errlen, "journal %s: line %llu: generation %u after %u (expected "
				  "%u or %u: a line is missing or out of order; repair or move the "
				  "journal away)", path, (unsigned long long)line, gen, j->last_gen,
				  j->last_gen, j->last_gen + 1);
			json_decref(o);
			goto fail;
		}
		if (!nl) {
			/* a whole entry whose newline did not reach the disk: complete it */
			if (write_all(j->fd, "\n", 1) || fsync(j->fd) != 0) {
				sl_seterr(err, errlen, "journal %s: cannot complete line %llu: %s", path,
					  (unsigned long long)line, strerror(errno));
				json_decref(o);
				goto fail;
			}
			snprintf(note, notelen, "journal %s: line %llu had no newline: completed", path,
				 (unsigned long long)line);
		}
		if (fn && fn(ctx, o, line, err, errlen)) {
			json_decref(o);
			goto fail;
		}
		j->last_gen = gen;
		json_decref(o);
		j->lines++;
		off += n + 1;
		j->size = off;
	}
	free(buf);
	return 0;
fail:
	free(buf);
	sl_journal_close(j);
	return -1;
}

int sl_journal_append(struct sl_journal *j, const json_t *entry, char *err, size_t errlen)
{
	char *s;
	size_t n;
	json_t *gen = json_object_get(entry, "gen");

	if (j->fd < 0)
		return sl_seterr(err, errlen, "journal %s: not open", j->path);
	s = json_dumps(entry, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!s)
		return sl_seterr(err, errlen, "journal %s: cannot encode the entry", j->path);
	n = strlen(s);
	s[n++] = '\n'; /* replaces the NUL: written by length */
	if (write_all(j->fd, s, n) || fsync(j->fd) != 0)
		goto fail;
	free(s);
	j->size += n;
	j->lines++;
	if (json_is_integer(gen))
		j->last_gen = (uint32_t)json_integer_value(gen);
	return 0;
fail:
	sl_seterr(err, errlen, "journal %s: cannot append line %llu: %s", j->path,
	       (unsigned long long)j->lines + 1, strerror(errno ? errno : EIO));
	free(s);
	/* Never leave half a line that the next entry would be glued to. */
	if (ftruncate(j->fd, (off_t)j->size) == 0)
		(void)fsync(j->fd);
	return -1;
}

void sl_journal_close(struct sl_journal *j)
{
	if (j->fd >= 0)
		close(j->fd);
	j->fd = -1;
}

static int names_service(const json_t *e, const char *service)
{
	const json_t *s = json_object_get(e, "service"), *list, *item;
	size_t i;

	if (json_is_string(s) && !strcmp(json_string_value(s), service))
		return 1;
	list = json_object_get(e, "services");
	json_array_foreach(list, i, item) {
		const char *keys[] = { "after", "before" };

		for (int k = 0; k < 2; k++) {
			const json_t *n = json_object_get(json_object_get(item, keys[k]), "name");

			if (json_is_string(n) && !strcmp(json_string_value(n), service))
				return 1;
		}
	}
	return 0;
}

/* Line number (1-based) of the line starting at off. */
static uint64_t line_of(const char *buf, size_t off)
{
	uint64_t n = 1;

	for (size_t i = 0; i < off; i++)
		n += buf[i] == '\n';
	return n;
}

json_t *sl_journal_history(const char *path, const char *service, uint32_t limit, char *err,
			   size_t errlen)
{
	json_t *found, *out = NULL;
	char msg[256], quoted[SL_NAME_LEN + 4];
	const char *buf;
	size_t len, end;
	struct stat sb;
	void *map = NULL;
	int fd;

	if (limit == 0)
		limit = 1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		sl_seterr(err, errlen, "journal %s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &sb) != 0) {
		sl_seterr(err, errlen, "journal %s: cannot read: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	len = (size_t)sb.st_size;
	if (len) {
		map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED) {
			sl_seterr(err, errlen, "journal %s: cannot map: %s", path, strerror(errno));
			close(fd);
			return NULL;
		}
	}
	close(fd);
	buf = map;
	found = json_array();
	snprintf(quoted, sizeof(quoted), "\"%s\"", service ? service : "");
	/* From the end, newest first, until limit entries are found: a long
	 * journal costs what the answer needs, not its length.  A line that
	 * does not hold the service's name in quotes cannot name it. */
	end = len;
	while (end > 0 && buf[end - 1] != '\n')
		end--; /* a line being written right now */
	while (found && end > 0 && json_array_size(found) < limit) {
		size_t start = end - 1;
		json_t *o;

		while (start > 0 && buf[start - 1] != '\n')
			start--;
		if (service && !memmem(buf + start, end - 1 - start, quoted, strlen(quoted))) {
			end = start;
			continue;
		}
		o = parse_line(buf + start, end - 1 - start, msg, sizeof(msg));
		if (!o) {
			sl_seterr(err, errlen, "journal %s: line %llu is invalid: %s", path,
				  (unsigned long long)line_of(buf, start), msg);
			json_decref(found);
			found = NULL;
			break;
		}
		if (!service || names_service(o, service))
			json_array_append_new(found, o);
		else
			json_decref(o);
		end = start;
	}
	if (found) {
		/* oldest first, as the journal */
		out = json_array();
		for (size_t i = json_array_size(found); out && i > 0; i--)
			json_array_append(out, json_array_get(found, i - 1));
		json_decref(found);
	}
	if (map)
		munmap(map, len);
	return out;
}

void sl_journal_time(char *buf, size_t len, uint64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned)(ms % 1000));
}
