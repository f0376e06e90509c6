/* The control socket: a Unix stream socket, one JSON request per line,
 * one reply per request in order, many clients at once, non-blocking.  The
 * peer's uid and pid (SO_PEERCRED) go with every request. */
#ifndef SLUICE_SERVER_H
#define SLUICE_SERVER_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#define SL_SERVER_MAX_CLIENTS 256

struct sl_client;

/* Handles one request line (len bytes, no newline) from a peer; returns
 * the reply line (malloc'd, '\n'-terminated) or NULL if out of memory. */
typedef char *(*sl_request_fn)(void *ctx, const char *line, size_t len, long uid, long pid);

struct sl_server {
	int fd;                 /* listener, -1 when closed */
	char path[108];
	struct sl_client *clients[SL_SERVER_MAX_CLIENTS];
	unsigned nclients;
	sl_request_fn handle;
	void *ctx;
};

/* 1 if a server answers on path (connect succeeds), 0 if not (no file, or a
 * stale socket file), -1 with err if path is something else. */
int sl_server_probe(const char *path, char *err, size_t errlen);

/* Create the directory (0755), remove a stale socket file, bind, chmod
 * 0660, listen.  A live socket is refused ("another sluiced serves
 * INSTANCE").  Returns 0, or -1 with err. */
int sl_server_listen(struct sl_server *s, const char *path, const char *instance,
		     sl_request_fn handle, void *ctx, char *err, size_t errlen);

/* Fill pfd (room for 1 + SL_SERVER_MAX_CLIENTS) for poll(); returns the
 * count.  sl_server_events then handles what poll reported. */
unsigned sl_server_pollfds(const struct sl_server *s, struct pollfd *pfd);
void sl_server_events(struct sl_server *s, const struct pollfd *pfd, unsigned n);

/* Close every client and the listener, unlink the socket file. */
void sl_server_close(struct sl_server *s);

#endif
