/* The control socket (see server.h). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "errmsg.h"
#include "commands.h"
#include "proto.h"
#include "server.h"

#define OUT_HIGH (1u << 20)  /* stop reading a client that does not read its replies */
#define READ_CHUNK 65536     /* one read per connection per turn */
#define ACCEPT_BATCH 256     /* connections accepted per turn */
#define EVENTS_BATCH 512
#define TURN_US 2000         /* a turn serves at most this long (then polls again) */
#define EVICT_SCAN 256       /* idle connections looked at to make room */
#define AUTH_CACHE_MS 5000   /* a uid's group membership is looked up again after */
#define LOG_PER_SECOND 20    /* connection log lines */

struct sl_uid_count {
	uint32_t uid;
	uint32_t count;
	uint64_t checked_ms; /* group database looked up then (0: never) */
	int member;          /* of the operator group, by the group database */
};

struct sl_client {
	int fd;
	long uid, pid;
	char *in;
	size_t inlen, incap;
	size_t scanned;      /* input bytes known to hold no newline */
	char *out;
	size_t outlen, outoff, outcap;
	uint64_t last_ms;    /* connected or last complete request */
	uint32_t events;     /* epoll interest now */
	int eof;             /* the peer will send nothing more */
	int closing;         /* close once the replies are out */
	int dead;
	int ready;           /* in the ready list */
	int deferred;        /* a reply is being waited for */
	struct sl_client *lru_prev, *lru_next, *ready_next;
};

static ino_t sock_ino;
static int listen_tag; /* the listener's epoll cookie */

static uint64_t mono_ms(void)
{
	return sl_mono_us() / 1000u;
}

/* ---- connection log lines, at most LOG_PER_SECOND a second ---- */

/* kind 0: a client attached (the common case), 1: refused, timed out,
 * closed to make room: each kind has its own budget, so that a burst of
 * attachments never hides a refusal. */
static void __attribute__((format(printf, 3, 4))) conn_log(struct sl_server *s, int kind,
							  const char *fmt, ...)
{
	uint64_t sec = mono_ms() / 1000u;
	char line[1024];
	va_list ap;

	if (sec != s->log_second) {
		for (int k = 0; k < 2; k++)
			if (s->log_dropped[k])
				sl_log("(%llu more %s in the last second%s not logged)",
				       (unsigned long long)s->log_dropped[k],
				       k ? "refused or closed connections" : "attached connections",
				       s->log_dropped[k] == 1 ? "" : "s");
		s->log_second = sec;
		s->log_count[0] = s->log_count[1] = 0;
		s->log_dropped[0] = s->log_dropped[1] = 0;
	}
	if (s->log_count[kind] >= LOG_PER_SECOND) {
		s->log_dropped[kind]++;
		return;
	}
	s->log_count[kind]++;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	sl_log("%s", line);
}

/* ---- the socket file ---- */

static int make_parent(const char *path, char *err, size_t errlen)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)], sub[SL_ERR_LEN];

	snprintf(dir, sizeof(dir), "%s", path);
	if (sl_mkdir_p(dirname(dir), sub, sizeof(sub)))
		return sl_seterr(err, errlen, "socket %s: %s", path, sub);
	return 0;
}

static int fill_addr(struct sockaddr_un *a, const char *path)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(a->sun_path))
		return -1;
	memcpy(a->sun_path, path, strlen(path) + 1);
	return 0;
}

int sl_server_probe(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un a;
	struct stat sb;
	int fd, rc;

	if (fill_addr(&a, path))
		return sl_seterr(err, errlen, "socket %s: path too long (at most %zu characters)",
			      path, sizeof(a.sun_path) - 1);
	if (lstat(path, &sb) != 0) {
		if (errno == ENOENT)
			return 0;
		return sl_seterr(err, errlen, "socket %s: %s", path, strerror(errno));
	}
	if (!S_ISSOCK(sb.st_mode))
		return sl_seterr(err, errlen, "socket %s exists and is not a socket (remove it or "
			      "choose another --socket)", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return sl_seterr(err, errlen, "socket: %s", strerror(errno));
	rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
	close(fd);
	if (rc == 0)
		return 1;
	if (errno == ECONNREFUSED)
		return 0;
	return sl_seterr(err, errlen, "socket %s: cannot tell whether a server listens: %s", path,
		      strerror(errno));
}

int sl_server_listen(struct sl_server *s, const char *path, const char *instance,
		     const struct sl_server_limits *lim, sl_request_fn handle, void *ctx,
		     char *err, size_t errlen)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &listen_tag };
	struct sockaddr_un a;
	struct stat sb;
	mode_t old;
	int rc;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->epfd = -1;
	s->handle = handle;
	s->ctx = ctx;
	s->lim = *lim;
	if (s->lim.max_connections < 1)
		s->lim.max_connections = 1;
	if (fill_addr(&a, path))
		return sl_seterr(err, errlen, "socket %s: path too long (at most %zu characters)",
			      path, sizeof(a.sun_path) - 1);
	snprintf(s->path, sizeof(s->path), "%s", path);
	if (make_parent(path, err, errlen))
		return -1;
	rc = sl_server_probe(path, err, errlen);
	if (rc < 0)
		return -1;
	if (rc == 1)
		return sl_seterr(err, errlen, "another sluiced serves %s on %s", instance, path);
	if (unlink(path) == 0)
		sl_log("removed the stale socket %s (no server answered on it)", path);
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0)
		return sl_seterr(err, errlen, "epoll: %s", strerror(errno));
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		sl_seterr(err, errlen, "socket: %s", strerror(errno));
		goto fail;
	}
	/* Never reachable with looser permissions, not even for an instant:
	 * root:root 0660 until it is root:GROUP 0660. */
	old = umask(0117);
	rc = bind(s->fd, (struct sockaddr *)&a, sizeof(a));
	umask(old);
	if (rc != 0) {
		sl_seterr(err, errlen, "socket %s: cannot bind: %s", path, strerror(errno));
		goto fail;
	}
	if (s->lim.has_group && lchown(path, (uid_t)-1, (gid_t)s->lim.gid) != 0) {
		sl_seterr(err, errlen, "socket %s: cannot give it to group %s (gid %u): %s", path,
			  s->lim.group, s->lim.gid, strerror(errno));
		unlink(path);
		goto fail;
	}
	if (chmod(path, 0660) != 0 || listen(s->fd, SOMAXCONN) != 0 ||
	    epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->fd, &ev) != 0) {
		sl_seterr(err, errlen, "socket %s: %s", path, strerror(errno));
		unlink(path);
		goto fail;
	}
	sock_ino = stat(path, &sb) == 0 ? sb.st_ino : 0;
	return 0;
fail:
	if (s->fd >= 0)
		close(s->fd);
	close(s->epfd);
	s->fd = s->epfd = -1;
	return -1;
}

int sl_server_fd(const struct sl_server *s)
{
	return s->epfd;
}

int sl_server_pending(const struct sl_server *s)
{
	return s->ready_head != NULL;
}

uint64_t sl_server_next_ms(const struct sl_server *s)
{
	/* The LRU head is the oldest; one ready or deferred is skipped by the
	 * sweep, so this is a lower bound (a spurious wake-up at worst). */
	uint64_t next = s->lru_head ? s->lru_head->last_ms + s->lim.idle_timeout_ms : UINT64_MAX;

	if (s->accept_paused && s->accept_paused < next)
		next = s->accept_paused;
	return next;
}

/* ---- per-uid counts and the operator group ---- */

static struct sl_uid_count *uid_slot(struct sl_server *s, uint32_t uid, int create)
{
	for (unsigned i = 0; i < s->nuids; i++)
		if (s->uids[i].uid == uid)
			return &s->uids[i];
	if (!create)
		return NULL;
	if (s->nuids == s->capuids) {
		unsigned n = s->capuids ? s->capuids * 2 : 16;
		struct sl_uid_count *u = realloc(s->uids, n * sizeof(*u));

		if (!u)
			return NULL;
		s->uids = u;
		s->capuids = n;
	}
	memset(&s->uids[s->nuids], 0, sizeof(s->uids[0]));
	s->uids[s->nuids].uid = uid;
	return &s->uids[s->nuids++];
}

/* Is uid's user a member of gid by the group database (primary group or
 * getgrouplist)?  -1 if the uid has no user. */
static int db_member(uint32_t uid, uint32_t gid, char *name, size_t namelen)
{
	struct passwd pw, *res = NULL;
	char buf[16384];
	gid_t groups[64], *g = groups;
	int n = 64, rc = 0;

	if (getpwuid_r((uid_t)uid, &pw, buf, sizeof(buf), &res) != 0 || !res)
		return -1;
	snprintf(name, namelen, "%s", pw.pw_name);
	if (pw.pw_gid == gid)
		return 1;
	if (getgrouplist(pw.pw_name, pw.pw_gid, g, &n) < 0) {
		g = malloc((size_t)n * sizeof(*g));
		if (!g || getgrouplist(pw.pw_name, pw.pw_gid, g, &n) < 0) {
			free(g);
			return 0;
		}
	}
	for (int i = 0; i < n && !rc; i++)
		rc = g[i] == gid;
	if (g != groups)
		free(g);
	return rc;
}

/* 0 if the peer may use the socket, else -1 with why. */
static int authorise(struct sl_server *s, const struct ucred *cr, char *why, size_t len)
{
	struct sl_uid_count *u;
	char name[64] = "";
	uint64_t now;
	int m;

	if (cr->uid == 0)
		return 0;
	if (!s->lim.has_group)
		return sl_seterr(why, len, "uid %u is not root and sluiced has no operator group "
				 "([control] group): only root may use this socket",
				 (unsigned)cr->uid);
	if (cr->gid == s->lim.gid)
		return 0;
	now = mono_ms();
	u = uid_slot(s, cr->uid, 1);
	if (u && u->checked_ms && now - u->checked_ms < AUTH_CACHE_MS && u->member == 1)
		return 0;
	m = db_member(cr->uid, s->lim.gid, name, sizeof(name));
	if (u) {
		u->checked_ms = now ? now : 1;
		u->member = m;
	}
	if (m == 1)
		return 0;
	if (m < 0)
		return sl_seterr(why, len, "uid %u has no user in the user database, so it is no "
				 "member of the operator group %s (gid %u)", (unsigned)cr->uid,
				 s->lim.group, s->lim.gid);
	return sl_seterr(why, len, "uid %u (%s) is neither root nor a member of the operator "
			 "group %s (gid %u, [control] group)", (unsigned)cr->uid, name,
			 s->lim.group, s->lim.gid);
}

/* ---- buffers ---- */

static int grow(char **buf, size_t *cap, size_t need)
{
	size_t n = *cap ? *cap : 4096;
	char *b;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	b = realloc(*buf, n);
	if (!b)
		return -1;
	*buf = b;
	*cap = n;
	return 0;
}

/* One error line on a connection we are about to close (no id: no request
 * of the client's is answered by it). */
static char *conn_error(const char *code, const char *msg)
{
	json_t *o = json_pack("{s:b, s:{s:s, s:o}}", "ok", 0, "error", "code", code,
			      "message", sl_json_str(msg));
	char *t = o ? json_dumps(o, JSON_COMPACT) : NULL, *line = NULL;

	json_decref(o);
	if (t && (line = malloc(strlen(t) + 2)))
		sprintf(line, "%s\n", t);
	free(t);
	return line;
}

static void queue(struct sl_client *c, char *reply)
{
	size_t n;

	if (!reply) {
		c->dead = 1; /* out of memory: a missing reply would break the order */
		return;
	}
	n = strlen(reply);
	if (c->outoff && c->outoff == c->outlen)
		c->outoff = c->outlen = 0;
	if (grow(&c->out, &c->outcap, c->outlen + n)) {
		c->dead = 1;
	} else {
		memcpy(c->out + c->outlen, reply, n);
		c->outlen += n;
	}
	free(reply);
}

static void flush_out(struct sl_client *c)
{
	while (!c->dead && c->outoff < c->outlen) {
		ssize_t w = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (w <= 0) {
			c->dead = 1;
			return;
		}
		c->outoff += (size_t)w;
	}
	if (c->outoff == c->outlen) {
		c->outoff = c->outlen = 0;
		if (c->outcap > OUT_HIGH / 4) { /* a big reply's buffer is not kept */
			free(c->out);
			c->out = NULL;
			c->outcap = 0;
		}
	}
}

/* A complete request (or the last one, unterminated, before EOF) is in. */
static int has_request(struct sl_client *c)
{
	if (c->inlen > c->scanned && memchr(c->in + c->scanned, '\n', c->inlen - c->scanned))
		return 1;
	c->scanned = c->inlen;
	return c->eof && c->inlen;
}

/* ---- the lists ---- */

static void lru_unlink(struct sl_server *s, struct sl_client *c)
{
	if (c->lru_prev)
		c->lru_prev->lru_next = c->lru_next;
	else
		s->lru_head = c->lru_next;
	if (c->lru_next)
		c->lru_next->lru_prev = c->lru_prev;
	else
		s->lru_tail = c->lru_prev;
	c->lru_prev = c->lru_next = NULL;
}

static void lru_append(struct sl_server *s, struct sl_client *c)
{
	c->lru_prev = s->lru_tail;
	c->lru_next = NULL;
	if (s->lru_tail)
		s->lru_tail->lru_next = c;
	else
		s->lru_head = c;
	s->lru_tail = c;
}

static void touch(struct sl_server *s, struct sl_client *c)
{
	c->last_ms = mono_ms();
	lru_unlink(s, c);
	lru_append(s, c);
}

static void ready_push(struct sl_server *s, struct sl_client *c)
{
	if (c->ready)
		return;
	c->ready = 1;
	c->ready_next = NULL;
	if (s->ready_tail)
		s->ready_tail->ready_next = c;
	else
		s->ready_head = c;
	s->ready_tail = c;
}

static struct sl_client *ready_pop(struct sl_server *s)
{
	struct sl_client *c = s->ready_head;

	if (!c)
		return NULL;
	s->ready_head = c->ready_next;
	if (!s->ready_head)
		s->ready_tail = NULL;
	c->ready = 0;
	c->ready_next = NULL;
	return c;
}

/* May the connection be served now, and what it waits for. */
static int servable(const struct sl_client *c)
{
	return !c->dead && !c->closing && !c->deferred && c->outlen - c->outoff < OUT_HIGH;
}

static int done(const struct sl_client *c)
{
	return c->dead || ((c->eof || c->closing) && c->outoff == c->outlen && !c->deferred &&
			   (c->closing || !c->inlen));
}

static void client_free(struct sl_server *s, struct sl_client *c)
{
	struct sl_uid_count *u = uid_slot(s, (uint32_t)c->uid, 0);

	if (u && u->count)
		u->count--;
	if (s->deferred == c)
		s->deferred = NULL;
	lru_unlink(s, c);
	close(c->fd); /* leaves the epoll set */
	free(c->in);
	free(c->out);
	free(c);
	s->nclients--;
}

/* Drop c now if it is done; else set its epoll interest and its place in
 * the ready list.  Returns 1 if it was freed. */
static int settle(struct sl_server *s, struct sl_client *c)
{
	struct epoll_event ev = { 0 };

	if (done(c)) {
		if (c->ready) { /* leaves the ready list on the next pop */
			c->dead = 1;
			return 0;
		}
		client_free(s, c);
		return 1;
	}
	if (servable(c) && has_request(c))
		ready_push(s, c);
	/* read only while nothing is waiting to be served: one request line
	 * plus one read is all a connection holds */
	if (!c->eof && !c->closing && !c->ready && servable(c))
		ev.events |= EPOLLIN;
	if (c->outoff < c->outlen)
		ev.events |= EPOLLOUT;
	if (ev.events != c->events) {
		ev.data.ptr = c;
		if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0)
			c->dead = 1;
		else
			c->events = ev.events;
	}
	return 0;
}

/* ---- reading and serving ---- */

static void too_long(struct sl_client *c, size_t len)
{
	struct sl_error e;

	sl_error_set(&e, SL_E_BAD_REQUEST, "", "request line of %s%zu bytes is too long "
		     "(expected at most %u): closing the connection", c->eof ? "" : "at least ",
		     len, SL_PROTO_MAX_LINE);
	queue(c, sl_reply_error(NULL, &e));
	c->closing = 1;
	c->inlen = c->scanned = 0;
}

static void read_in(struct sl_server *s, struct sl_client *c)
{
	static char chunk[READ_CHUNK];
	ssize_t r;

	(void)s;
	do
		r = recv(c->fd, chunk, sizeof(chunk), MSG_DONTWAIT);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			c->dead = 1;
		return;
	}
	if (r == 0) {
		c->eof = 1;
		return;
	}
	if (grow(&c->in, &c->incap, c->inlen + (size_t)r)) {
		c->dead = 1;
		return;
	}
	memcpy(c->in + c->inlen, chunk, (size_t)r);
	c->inlen += (size_t)r;
	if (c->inlen > SL_PROTO_MAX_LINE && !has_request(c))
		too_long(c, c->inlen);
}

/* Serve c's first request. */
static void serve_one(struct sl_server *s, struct sl_client *c)
{
	char *nl = memchr(c->in, '\n', c->inlen), *reply;
	size_t n = nl ? (size_t)(nl - c->in) : c->inlen, used = n + (nl ? 1 : 0);

	if (n > SL_PROTO_MAX_LINE) {
		too_long(c, n);
		return;
	}
	touch(s, c);
	reply = s->handle(s->ctx, c->in, n, c->uid, c->pid);
	s->served++;
	if (reply == SL_REPLY_DEFERRED) {
		c->deferred = 1;
		s->deferred = c;
	} else {
		queue(c, reply);
	}
	memmove(c->in, c->in + used, c->inlen - used);
	c->inlen -= used;
	c->scanned = 0;
	if (c->inlen == 0 && c->incap > 4096) {
		free(c->in);
		c->in = NULL;
		c->incap = 0;
	}
	flush_out(c);
}

void sl_server_complete(struct sl_server *s, char *reply)
{
	struct sl_client *c = s->deferred;

	s->deferred = NULL;
	if (!c) {
		free(reply);
		return;
	}
	c->deferred = 0;
	queue(c, reply);
	flush_out(c);
	settle(s, c);
}

/* ---- accepting ---- */

/* Refuse fd with one error line (what it sent is read first, so that it
 * reads the line rather than a reset). */
static void refuse(int fd, const char *code, const char *msg)
{
	char *line = conn_error(code, msg), sink[4096];

	while (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
		;
	if (line) {
		ssize_t w = send(fd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT);

		(void)w;
	}
	free(line);
	shutdown(fd, SHUT_WR);
	close(fd);
}

/* Close the connection idle the longest (no request in progress) to make
 * room; 0 if one was closed. */
static int evict(struct sl_server *s, long for_uid)
{
	struct sl_client *c = s->lru_head;

	for (unsigned i = 0; c && i < EVICT_SCAN; i++, c = c->lru_next) {
		char msg[200];

		if (c->ready || c->deferred || c->inlen || c->outoff < c->outlen || c->dead)
			continue;
		snprintf(msg, sizeof(msg), "closed to make room: sluiced holds %u connections "
			 "([control] max_connections) and this one was idle the longest "
			 "(%llu ms)", s->nclients, (unsigned long long)(mono_ms() - c->last_ms));
		queue(c, conn_error("too_many_connections", msg));
		flush_out(c);
		conn_log(s, 1, "client uid %ld pid %ld closed after %llu ms idle to make room for uid %ld",
		     c->uid, c->pid, (unsigned long long)(mono_ms() - c->last_ms), for_uid);
		s->evicted++;
		client_free(s, c);
		return 0;
	}
	return -1;
}

static void accept_some(struct sl_server *s)
{
	for (unsigned k = 0; k < ACCEPT_BATCH; k++) {
		int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct epoll_event ev = { .events = EPOLLIN };
		struct sl_uid_count *u;
		struct ucred cred;
		socklen_t len = sizeof(cred);
		struct sl_client *c;
		char why[400];
		unsigned room;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE) {
				/* no descriptor for it: make room, it is taken next turn;
				 * if none can be made, stop listening for 100 ms rather
				 * than wake up for it again at once */
				int e = errno;

				if (evict(s, -1)) {
					struct epoll_event ev = { .events = 0,
								  .data.ptr = &listen_tag };

					conn_log(s, 1, "socket %s: accept: %s (%u connections held): "
						 "not accepting for 100 ms", s->path, strerror(e),
						 s->nclients);
					if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, s->fd, &ev) == 0)
						s->accept_paused = mono_ms() + 100;
				}
			} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
				conn_log(s, 1, "socket %s: accept: %s", s->path, strerror(errno));
			}
			return;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
			conn_log(s, 1, "socket %s: client without credentials (%s): closed", s->path,
			     strerror(errno));
			close(fd);
			continue;
		}
		if (authorise(s, &cred, why, sizeof(why))) {
			conn_log(s, 1, "client uid %u pid %d refused: %s", (unsigned)cred.uid,
			     (int)cred.pid, why);
			s->refused++;
			refuse(fd, "forbidden", why);
			continue;
		}
		u = uid_slot(s, cred.uid, 1);
		if (!u) {
			close(fd);
			continue;
		}
		if (cred.uid != 0 && u->count >= s->lim.max_per_uid) {
			snprintf(why, sizeof(why), "uid %u holds %u connections already (at most %u "
				 "per uid but root, [control] max_connections_per_uid)",
				 (unsigned)cred.uid, u->count, s->lim.max_per_uid);
			conn_log(s, 1, "client uid %u pid %d refused: %s", (unsigned)cred.uid,
			     (int)cred.pid, why);
			s->refused++;
			refuse(fd, "too_many_connections", why);
			continue;
		}
		/* the last places are root's */
		room = s->lim.max_connections;
		if (cred.uid != 0)
			room = room > SL_SERVER_ROOT_RESERVE ? room - SL_SERVER_ROOT_RESERVE : 1;
		if (s->nclients >= room && evict(s, (long)cred.uid)) {
			snprintf(why, sizeof(why), "sluiced holds %u connections, all busy (at most "
				 "%u, [control] max_connections%s)", s->nclients,
				 s->lim.max_connections, cred.uid ? ", the last 32 for root" : "");
			conn_log(s, 1, "client uid %u pid %d refused: %s", (unsigned)cred.uid,
			     (int)cred.pid, why);
			s->refused++;
			refuse(fd, "too_many_connections", why);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->uid = (long)cred.uid;
		c->pid = (long)cred.pid;
		c->events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
			conn_log(s, 1, "socket %s: epoll: %s", s->path, strerror(errno));
			close(fd);
			free(c);
			continue;
		}
		u = uid_slot(s, cred.uid, 0); /* evict may have moved nothing, but be sure */
		u->count++;
		s->nclients++;
		s->accepted++;
		if (s->nclients > s->peak)
			s->peak = s->nclients;
		c->last_ms = mono_ms();
		lru_append(s, c);
		conn_log(s, 0, "client uid %ld pid %ld attached", c->uid, c->pid);
		read_in(s, c);
		settle(s, c);
	}
}

/* ---- one turn ---- */

static void sweep_idle(struct sl_server *s)
{
	uint64_t now = mono_ms();
	struct sl_client *c = s->lru_head, *next;

	for (; c && c->last_ms + s->lim.idle_timeout_ms <= now; c = next) {
		char msg[160];

		next = c->lru_next;
		if (c->ready || c->deferred) { /* we keep it waiting, not the client us */
			touch(s, c);
			continue;
		}
		snprintf(msg, sizeof(msg), "no complete request for %u ms ([control] "
			 "idle_timeout): connection closed", s->lim.idle_timeout_ms);
		if (c->outlen - c->outoff < OUT_HIGH)
			queue(c, conn_error("idle_timeout", msg));
		flush_out(c);
		conn_log(s, 1, "client uid %ld pid %ld closed: idle for %llu ms%s", c->uid, c->pid,
		     (unsigned long long)(now - c->last_ms),
		     c->outlen - c->outoff >= OUT_HIGH ? " not reading its replies" :
		     c->inlen ? " with a part of a request" : "");
		s->timed_out++;
		client_free(s, c);
	}
}

void sl_server_run(struct sl_server *s)
{
	static struct epoll_event evs[EVENTS_BATCH];
	struct sl_client *c;
	uint64_t start;
	int n, accept_now = 0;

	n = epoll_wait(s->epfd, evs, EVENTS_BATCH, 0);
	for (int i = 0; i < n; i++) {
		uint32_t re = evs[i].events;

		if (evs[i].data.ptr == &listen_tag) {
			accept_now = 1;
			continue;
		}
		c = evs[i].data.ptr;
		if (re & EPOLLOUT)
			flush_out(c);
		if (re & EPOLLIN) {
			read_in(s, c);
		} else if (re & (EPOLLHUP | EPOLLERR)) {
			/* the peer has gone; what it sent before is still served */
			if (c->deferred)
				c->dead = 1; /* nobody to answer (the change goes on) */
			else if (!c->ready && !c->eof && !c->closing && !(re & EPOLLERR))
				read_in(s, c); /* the rest of its requests, then EOF */
			else if (!c->ready)
				c->eof = 1;
		}
		if (re & EPOLLERR && c->outoff < c->outlen)
			c->dead = 1;
		settle(s, c);
	}
	/* New connections: their first request is often in already. */
	if (accept_now)
		accept_some(s);
	/* Round-robin: the ready list is a queue, a connection served once goes
	 * to its back if it has more; the turn ends when its time is up (the
	 * rest are first in the next one, after new connections are read). */
	start = sl_mono_us();
	while ((c = ready_pop(s))) {
		if (servable(c) && has_request(c))
			serve_one(s, c);
		settle(s, c);
		if (sl_mono_us() - start >= TURN_US)
			break;
	}
	sweep_idle(s);
	if (s->accept_paused && mono_ms() >= s->accept_paused) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &listen_tag };

		if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, s->fd, &ev) == 0)
			s->accept_paused = 0;
	}
}

void sl_server_close(struct sl_server *s)
{
	struct stat sb;

	if (s->accepted || s->refused)
		sl_log("control connections: %llu accepted (at most %u at once), %llu refused, "
		       "%llu closed to make room, %llu timed out idle; %llu requests served",
		       (unsigned long long)s->accepted, s->peak, (unsigned long long)s->refused,
		       (unsigned long long)s->evicted, (unsigned long long)s->timed_out,
		       (unsigned long long)s->served);
	while (s->lru_head)
		client_free(s, s->lru_head);
	s->ready_head = s->ready_tail = NULL;
	free(s->uids);
	s->uids = NULL;
	s->nuids = s->capuids = 0;
	if (s->epfd >= 0)
		close(s->epfd);
	s->epfd = -1;
	if (s->fd < 0)
		return;
	close(s->fd);
	s->fd = -1;
	/* Only our own file: a successor may already have bound a new one. */
	if (stat(s->path, &sb) == 0 && sb.st_ino == sock_ino)
		unlink(s->path);
}
