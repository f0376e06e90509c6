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

/* ---- rotation ---- */

static uint64_t mtime_ns(const struct stat *sb)
{
	return (uint64_t)sb->st_mtim.tv_sec * 1000000000u + (uint64_t)sb->st_mtim.tv_nsec;
}

static void rotated_name(char *buf, size_t len, const char *path, unsigned k)
{
	snprintf(buf, len, "%s.%u", path, k);
}

static int trust_find(const struct sl_journal_trust *t, const struct stat *sb)
{
	for (uint32_t i = 0; t && i < t->n; i++)
		if (t->f[i].dev == (uint64_t)sb->st_dev && t->f[i].ino == (uint64_t)sb->st_ino &&
		    t->f[i].size == (uint64_t)sb->st_size && t->f[i].mtime_ns == mtime_ns(sb))
			return (int)i;
	return -1;
}

/* Bytes lo.. of the file are entries.  An edit changes the size or the
 * modification time: the file is parsed again then. */
static void trust_add(struct sl_journal_trust *t, const struct stat *sb, uint64_t lo)
{
	int i = trust_find(t, sb);

	if (i >= 0) {
		if (lo < t->f[i].lo)
			t->f[i].lo = lo;
		return;
	}
	for (i = 0; i < (int)t->n; i++) /* the same file, changed */
		if (t->f[i].dev == (uint64_t)sb->st_dev && t->f[i].ino == (uint64_t)sb->st_ino)
			break;
	if (i == (int)t->n) {
		i = (int)t->next;
		t->next = (t->next + 1) % SL_JOURNAL_TRUST;
		if (t->n < SL_JOURNAL_TRUST)
			t->n++;
	}
	t->f[i].dev = (uint64_t)sb->st_dev;
	t->f[i].ino = (uint64_t)sb->st_ino;
	t->f[i].size = (uint64_t)sb->st_size;
	t->f[i].mtime_ns = mtime_ns(sb);
	t->f[i].lo = lo;
}

int sl_journal_rotate(struct sl_journal *j, const json_t *checkpoint, unsigned keep,
		      char *err, size_t errlen)
{
	char tmp[sizeof(j->path) + 8], from[sizeof(j->path) + 16], to[sizeof(j->path) + 16];
	char sub[SL_ERR_LEN];
	struct sl_journal n;
	uint64_t prev_lines = j->lines;

	if (j->fd < 0)
		return sl_seterr(err, errlen, "journal %s: not open", j->path);
	if (keep == 0)
		keep = 1;
	/* The new file, its checkpoint written, fsync'd and locked before it
	 * takes the name: a crash at any point leaves PATH whole (the old
	 * file, or the new one), and a second daemon never gets the lock. */
	snprintf(tmp, sizeof(tmp), "%s.new", j->path);
	(void)unlink(tmp);
	memset(&n, 0, sizeof(n));
	snprintf(n.path, sizeof(n.path), "%s", j->path);
	n.fd = open(tmp, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (n.fd < 0)
		return sl_seterr(err, errlen, "journal %s: cannot rotate: cannot create %s: %s",
				 j->path, tmp, strerror(errno));
	if (lock_file(&n, tmp, err, errlen))
		goto fail;
	if (sl_journal_append(&n, checkpoint, sub, sizeof(sub))) {
		sl_seterr(err, errlen, "journal %s: cannot rotate: %s", j->path, sub);
		goto fail;
	}
	/* JOURNAL.keep goes, JOURNAL.k becomes JOURNAL.k+1 */
	rotated_name(to, sizeof(to), j->path, keep);
	if (unlink(to) != 0 && errno != ENOENT) {
		sl_seterr(err, errlen, "journal %s: cannot rotate: cannot remove %s: %s", j->path,
			  to, strerror(errno));
		goto fail;
	}
	for (unsigned k = keep; k > 1; k--) {
		rotated_name(from, sizeof(from), j->path, k - 1);
		rotated_name(to, sizeof(to), j->path, k);
		if (rename(from, to) != 0 && errno != ENOENT) {
			sl_seterr(err, errlen, "journal %s: cannot rotate: cannot rename %s to %s: %s",
				  j->path, from, to, strerror(errno));
			goto fail;
		}
	}
	/* a second name for the old file, then the new one takes PATH in one
	 * step (history skips JOURNAL.1 while it is PATH itself) */
	rotated_name(to, sizeof(to), j->path, 1);
	if (link(j->path, to) != 0) {
		sl_seterr(err, errlen, "journal %s: cannot rotate: cannot link it as %s: %s",
			  j->path, to, strerror(errno));
		goto fail;
	}
	if (rename(tmp, j->path) != 0) {
		sl_seterr(err, errlen, "journal %s: cannot rotate: cannot rename %s to it: %s",
			  j->path, tmp, strerror(errno));
		(void)unlink(to);
		goto fail;
	}
	if (err && errlen)
		err[0] = '\0';
	if (fsync_dir(j->path, sub, sizeof(sub)))
		/* the names may not survive a crash; PATH is whole either way */
		sl_seterr(err, errlen, "%s", sub);
	{
		/* the old file: every line replayed or written by this process */
		struct stat sb;

		if (fstat(j->fd, &sb) == 0 && (uint64_t)sb.st_size == j->size)
			trust_add(&j->trust, &sb, 0);
	}
	close(j->fd);
	n.last_gen = j->last_gen > n.last_gen ? j->last_gen : n.last_gen;
	n.trust = j->trust;
	*j = n;
	j->rotated = prev_lines;
	return 0;
fail:
	if (n.fd >= 0)
		close(n.fd);
	(void)unlink(tmp);
	return -1;
}

/* ---- history ---- */

/* The string value of top-level key in the JSON object text p (as this
 * writer makes them: one line, compact), without parsing the whole entry:
 * strings and nesting are skipped.  Returns its length with *v, or -1 if
 * the key is absent or its value is not a string; *present says whether
 * the key is there at all. */
static long top_string(const char *p, size_t n, const char *key, const char **v, int *present)
{
	size_t klen = strlen(key), i = 0;
	int depth = 0;

	*present = 0;
	while (i < n) {
		char c = p[i];

		if (c == '"') {
			size_t b = ++i;

			while (i < n && p[i] != '"')
				i += p[i] == '\\' ? 2 : 1;
			if (i >= n)
				return -1;
			i++;
			/* a key of the outer object: '"key"' then ':' */
			if (depth == 1 && i - 1 - b == klen && !memcmp(p + b, key, klen) && i < n &&
			    p[i] == ':') {
				*present = 1;
				i++;
				if (i >= n || p[i] != '"')
					return -1;
				b = ++i;
				while (i < n && p[i] != '"')
					i += p[i] == '\\' ? 2 : 1;
				if (i >= n)
					return -1;
				*v = p + b;
				return (long)(i - b);
			}
			continue;
		}
		if (c == '{' || c == '[')
			depth++;
		else if (c == '}' || c == ']')
			depth--;
		i++;
	}
	return -1;
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

struct hist_file {
	const char *buf;
	size_t len;
	void *map;
	struct stat sb;
};

struct hist_line {
	const char *p;
	size_t n;
};

/* Map path (none if it is missing, or is the file seen as skip_ino). */
static int hist_map(struct hist_file *f, const char *path, int must, ino_t *ino, ino_t skip,
		    char *err, size_t errlen)
{
	struct stat sb;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	memset(f, 0, sizeof(*f));
	if (fd < 0) {
		if (errno == ENOENT && !must)
			return 0;
		return sl_seterr(err, errlen, "journal %s: cannot open: %s", path, strerror(errno));
	}
	if (fstat(fd, &sb) != 0) {
		sl_seterr(err, errlen, "journal %s: cannot read: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	*ino = sb.st_ino;
	f->sb = sb;
	if ((skip && sb.st_ino == skip) || !S_ISREG(sb.st_mode) || sb.st_size == 0) {
		close(fd);
		return 0;
	}
	f->map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (f->map == MAP_FAILED) {
		f->map = NULL;
		return sl_seterr(err, errlen, "journal %s: cannot map: %s", path, strerror(errno));
	}
	f->buf = f->map;
	f->len = (size_t)sb.st_size;
	return 0;
}

/* Whether the line is an entry of the history asked for: checkpoints are
 * not changes; with a service, entries that name it.  Lines past trusted
 * (another file, or bytes this daemon did not write) are parsed whole:
 * the answer must be JSON even if a file was edited.  0 no, 1 yes, -1 not
 * an entry (msg). */
static int hist_wanted(const char *p, size_t n, int trusted, const char *service, char *msg,
		       size_t msglen)
{
	const char *v;
	long vn;
	int present, multi;
	json_t *o = NULL;
	int rc;

	if (!trusted && !(o = parse_line(p, n, msg, msglen)))
		return -1;
	vn = top_string(p, n, "cmd", &v, &present);
	rc = !(vn == 10 && !memcmp(v, "checkpoint", 10));
	if (rc && service) {
		vn = top_string(p, n, "service", &v, &present);
		if (vn >= 0)
			rc = (size_t)vn == strlen(service) && !memcmp(v, service, (size_t)vn);
		else {
			/* several services (init, reload, recover): whole, rare */
			(void)top_string(p, n, "services", &v, &multi);
			if (!multi)
				rc = 0;
			else if (!o && !(o = parse_line(p, n, msg, msglen)))
				return -1;
			else
				rc = names_service(o, service);
		}
	}
	json_decref(o);
	return rc;
}

char *sl_journal_history_text(const char *path, uint64_t trusted, struct sl_journal_trust *trust,
			      unsigned keep, const char *service, uint32_t limit,
			      uint32_t *count, char *err, size_t errlen)
{
	struct hist_file *files = calloc((size_t)keep + 1, sizeof(*files));
	struct hist_line *found = calloc(limit ? limit : 1, sizeof(*found));
	char name[512], msg[256], quoted[SL_NAME_LEN + 4];
	uint32_t nfound = 0;
	size_t total = 2;
	ino_t ino0 = 0, ino;
	char *out = NULL, *o;

	*count = 0;
	if (limit == 0)
		limit = 1;
	if (!files || !found) {
		sl_seterr(err, errlen, "journal %s: out of memory for the history", path);
		goto done;
	}
	snprintf(quoted, sizeof(quoted), "\"%s\"", service ? service : "");
	/* PATH, then the rotated files, newest entries first, until limit are
	 * found: a long journal costs what the answer needs, not its length */
	for (unsigned k = 0; k <= keep && nfound < limit; k++) {
		struct hist_file *f = &files[k];
		uint64_t lo = UINT64_MAX; /* lines from here on need no parsing */
		size_t end;
		int t;

		if (k)
			rotated_name(name, sizeof(name), path, k);
		else
			snprintf(name, sizeof(name), "%s", path);
		if (hist_map(f, name, k == 0, &ino, k ? ino0 : 0, err, errlen))
			goto done;
		if (k == 0)
			ino0 = ino;
		if (!f->map) {
			if (k)
				continue;
			break;
		}
		if (k > 0 && (t = trust_find(trust, &f->sb)) >= 0)
			lo = trust->f[t].lo;
		else if (k == 0)
			lo = 0;
		end = f->len;
		while (end > 0 && f->buf[end - 1] != '\n')
			end--; /* a line being written right now */
		while (end > 0 && nfound < limit) {
			size_t start = end - 1;
			int w;

			while (start > 0 && f->buf[start - 1] != '\n')
				start--;
			/* a line that does not hold the name in quotes cannot name it */
			if (end - 1 == start ||
			    (service && !memmem(f->buf + start, end - 1 - start, quoted,
						strlen(quoted)))) {
				end = start;
				continue;
			}
			w = hist_wanted(f->buf + start, end - 1 - start,
					start >= lo && (k > 0 || end <= trusted), service, msg,
					sizeof(msg));
			if (w < 0) {
				sl_seterr(err, errlen, "journal %s: line %llu is invalid: %s", name,
					  (unsigned long long)line_of(f->buf, start), msg);
				goto done;
			}
			if (w) {
				found[nfound].p = f->buf + start;
				found[nfound++].n = end - 1 - start;
				total += end - start; /* the line and a comma */
			}
			end = start;
		}
		/* what was read of a rotated file: not parsed again while unchanged
		 * (its last line is whole: rotated files are not written to) */
		if (k > 0 && trust && f->len && f->buf[f->len - 1] == '\n')
			trust_add(trust, &f->sb, end);
	}
	/* oldest first, as the journal: the lines as they are on disk */
	out = malloc(total + 1);
	if (!out) {
		sl_seterr(err, errlen, "journal %s: out of memory for the history", path);
		goto done;
	}
	o = out;
	*o++ = '[';
	for (uint32_t i = nfound; i > 0; i--) {
		memcpy(o, found[i - 1].p, found[i - 1].n);
		o += found[i - 1].n;
		if (i > 1)
			*o++ = ',';
	}
	*o++ = ']';
	*o = '\0';
	*count = nfound;
done:
	for (unsigned k = 0; files && k <= keep; k++)
		if (files[k].map)
			munmap(files[k].map, files[k].len);
	free(files);
	free(found);
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
