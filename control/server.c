/* The control socket (see server.h). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "errmsg.h"
#include "commands.h"
#include "proto.h"
#include "server.h"

#define OUT_HIGH (1u << 20) /* stop reading a client that does not read its replies */

struct sl_client {
	int fd;
	long uid, pid;
	char *in;
	size_t inlen, incap;
	char *out;
	size_t outlen, outoff, outcap;
	int eof;     /* the peer will send nothing more */
	int closing; /* close once the replies are out */
	int dead;
};

static ino_t sock_ino;

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
		     sl_request_fn handle, void *ctx, char *err, size_t errlen)
{
	struct sockaddr_un a;
	struct stat sb;
	mode_t old;
	int rc;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->handle = handle;
	s->ctx = ctx;
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
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return sl_seterr(err, errlen, "socket: %s", strerror(errno));
	/* Never reachable with looser permissions, not even for an instant. */
	old = umask(0117);
	rc = bind(s->fd, (struct sockaddr *)&a, sizeof(a));
	umask(old);
	if (rc != 0) {
		sl_seterr(err, errlen, "socket %s: cannot bind: %s", path, strerror(errno));
		goto fail;
	}
	if (chmod(path, 0660) != 0 || listen(s->fd, SOMAXCONN) != 0) {
		sl_seterr(err, errlen, "socket %s: %s", path, strerror(errno));
		unlink(path);
		goto fail;
	}
	sock_ino = stat(path, &sb) == 0 ? sb.st_ino : 0;
	return 0;
fail:
	close(s->fd);
	s->fd = -1;
	return -1;
}

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
	if (c->outoff == c->outlen)
		c->outoff = c->outlen = 0;
}

static void too_long(struct sl_client *c, size_t len)
{
	struct sl_error e;

	sl_error_set(&e, SL_E_BAD_REQUEST, "", "request line of %s%zu bytes is too long "
		     "(expected at most %u): closing the connection", c->eof ? "" : "at least ",
		     len, SL_PROTO_MAX_LINE);
	queue(c, sl_reply_error(NULL, &e));
	c->closing = 1;
	c->inlen = 0;
}

/* Answer the complete lines in the input, in order, while the replies are
 * read. */
static void process(struct sl_server *s, struct sl_client *c)
{
	size_t off = 0;

	while (!c->dead && !c->closing && c->outlen - c->outoff < OUT_HIGH) {
		char *p = c->in + off, *nl = memchr(p, '\n', c->inlen - off);
		size_t n = nl ? (size_t)(nl - p) : c->inlen - off;

		if (!nl && !(c->eof && n))
			break;
		if (n > SL_PROTO_MAX_LINE) {
			too_long(c, n);
			return;
		}
		queue(c, s->handle(s->ctx, p, n, c->uid, c->pid));
		off += n + (nl ? 1 : 0);
		flush_out(c);
	}
	if (off) {
		memmove(c->in, c->in + off, c->inlen - off);
		c->inlen -= off;
	}
	if (!c->closing && c->inlen > SL_PROTO_MAX_LINE && !memchr(c->in, '\n', c->inlen))
		too_long(c, c->inlen);
}

static void read_in(struct sl_server *s, struct sl_client *c)
{
	for (;;) {
		ssize_t r;

		if (grow(&c->in, &c->incap, c->inlen + 65536)) {
			c->dead = 1;
			return;
		}
		r = recv(c->fd, c->in + c->inlen, c->incap - c->inlen, MSG_DONTWAIT);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (r < 0) {
			c->dead = 1;
			return;
		}
		if (r == 0) {
			c->eof = 1;
			break;
		}
		c->inlen += (size_t)r;
		/* One buffer's worth at a time: answers keep pace with requests. */
		if (c->inlen > SL_PROTO_MAX_LINE || memchr(c->in + c->inlen - (size_t)r, '\n',
							     (size_t)r))
			break;
	}
	process(s, c);
}

static void client_free(struct sl_client *c)
{
	close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
}

static void accept_all(struct sl_server *s)
{
	for (;;) {
		int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct ucred cred;
		socklen_t len = sizeof(cred);
		struct sl_client *c;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				sl_log("socket %s: accept: %s", s->path, strerror(errno));
			return;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
			sl_log("socket %s: client without credentials (%s): closed", s->path,
			       strerror(errno));
			close(fd);
			continue;
		}
		if (s->nclients == SL_SERVER_MAX_CLIENTS) {
			sl_log("client uid %u pid %d refused: %u clients already connected",
			       (unsigned)cred.uid, (int)cred.pid, SL_SERVER_MAX_CLIENTS);
			close(fd);
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
		s->clients[s->nclients++] = c;
		sl_log("client uid %ld pid %ld attached", c->uid, c->pid);
	}
}

unsigned sl_server_pollfds(const struct sl_server *s, struct pollfd *pfd)
{
	unsigned n = 0;

	pfd[n].fd = s->fd;
	pfd[n++].events = POLLIN;
	for (unsigned i = 0; i < s->nclients; i++) {
		const struct sl_client *c = s->clients[i];
		short ev = 0;

		if (!c->eof && !c->closing && c->outlen - c->outoff < OUT_HIGH)
			ev |= POLLIN;
		if (c->outoff < c->outlen)
			ev |= POLLOUT;
		pfd[n].fd = c->fd;
		pfd[n++].events = ev;
	}
	return n;
}

void sl_server_events(struct sl_server *s, const struct pollfd *pfd, unsigned n)
{
	unsigned k = 0;

	for (unsigned i = 1; i < n && i - 1 < s->nclients; i++) {
		struct sl_client *c = s->clients[i - 1];
		short re = pfd[i].revents;

		if (pfd[i].fd != c->fd)
			continue;
		if (re & POLLOUT) {
			flush_out(c);
			process(s, c); /* lines held back while the replies piled up */
		}
		if (re & POLLIN)
			read_in(s, c);
		else if (re & (POLLHUP | POLLERR)) {
			c->eof = 1;
			process(s, c);
		}
		if (re & POLLERR && c->outoff < c->outlen)
			c->dead = 1;
	}
	/* Drop the clients that are done, keeping the others in order. */
	for (unsigned i = 0; i < s->nclients; i++) {
		struct sl_client *c = s->clients[i];
		int done = c->dead || ((c->eof || c->closing) && c->outoff == c->outlen &&
				       (c->closing || !c->inlen));

		if (done)
			client_free(c);
		else
			s->clients[k++] = c;
	}
	s->nclients = k;
	if (pfd[0].revents & POLLIN)
		accept_all(s);
}

void sl_server_close(struct sl_server *s)
{
	struct stat sb;

	for (unsigned i = 0; i < s->nclients; i++)
		client_free(s->clients[i]);
	s->nclients = 0;
	if (s->fd < 0)
		return;
	close(s->fd);
	s->fd = -1;
	/* Only our own file: a successor may already have bound a new one. */
	if (stat(s->path, &sb) == 0 && sb.st_ino == sock_ino)
		unlink(s->path);
}
