/* The control socket: a Unix stream socket, one JSON request per line,
 * one reply per request in order, many clients at once, non-blocking.  The
 * peer's uid and pid (SO_PEERCRED) go with every request.
 *
 * Under abuse (control/PROTOCOL.md, "Limits"):
 *  - who: root, or a member of the operator group ([control] group: the
 *    peer's gid, or the group database's membership of its user through
 *    getgrouplist); anyone else gets one error line ("forbidden") and is
 *    closed.  The socket file is 0660 root:GROUP.
 *  - how many: max_connections in all, max_per_uid for each uid but root;
 *    the last SL_SERVER_ROOT_RESERVE places are root's.  When every place is
 *    taken, the connection idle the longest (no request in progress) is
 *    closed to make room: a new `sluicectl abort` always gets in.
 *  - how long: a connection without a complete request for idle_timeout is
 *    closed (a slow client, an idle one, one that never reads its replies).
 *  - fairness: ready connections are served round-robin, one request per
 *    connection at a time (a queue; sl_server_run serves it for at most
 *    2 ms, then reads and accepts again), so a storm on a few connections
 *    delays another client by one request of each, not by their backlog.
 *  - memory: a connection holds at most one request line (SL_PROTO_MAX_LINE)
 *    plus one read of input, and stops being read while its unread replies
 *    exceed 1 MiB. */
#ifndef SLUICE_SERVER_H
#define SLUICE_SERVER_H

#include <stddef.h>
#include <stdint.h>

#define SL_SERVER_ROOT_RESERVE 32

struct sl_client;

/* Handles one request line (len bytes, no newline) from a peer; returns
 * the reply line (malloc'd, '\n'-terminated), NULL if out of memory, or
 * SL_REPLY_DEFERRED: the reply comes later through sl_server_complete (the
 * connection's next requests wait for it, other connections do not). */
typedef char *(*sl_request_fn)(void *ctx, const char *line, size_t len, long uid, long pid);

#define SL_REPLY_DEFERRED ((char *)1)

struct sl_server_limits {
	uint32_t max_connections;   /* in all (>= 2 * SL_SERVER_ROOT_RESERVE sensible) */
	uint32_t max_per_uid;       /* for each uid but root */
	uint32_t idle_timeout_ms;   /* without a complete request */
	int has_group;              /* 0: root only */
	uint32_t gid;               /* the operator group */
	char group[32];             /* its name as configured (messages) */
};

struct sl_uid_count;

struct sl_server {
	int fd;                 /* listener, -1 when closed */
	int epfd;               /* epoll: listener and clients */
	char path[108];
	struct sl_server_limits lim;
	struct sl_client *lru_head, *lru_tail;     /* by last complete request */
	struct sl_client *ready_head, *ready_tail; /* a request waits to be served */
	struct sl_client *deferred;                /* its reply is being waited for */
	unsigned nclients;
	uint64_t accept_paused;  /* out of descriptors: listening again then (ms) */
	struct sl_uid_count *uids;
	unsigned nuids, capuids;
	uint64_t log_second;    /* connection log lines: at most a few per second */
	unsigned log_count[2];  /* attached; refused or closed */
	uint64_t log_dropped[2];
	/* counters (the log at close; tests read them there) */
	uint64_t accepted, refused, evicted, timed_out, served;
	unsigned peak;
	sl_request_fn handle;
	void *ctx;
};

/* 1 if a server answers on path (connect succeeds), 0 if not (no file, or a
 * stale socket file), -1 with err if path is something else. */
int sl_server_probe(const char *path, char *err, size_t errlen);

/* Create the directory (0755), remove a stale socket file, bind, chown to
 * root:GROUP (when lim has a group), chmod 0660, listen.  A live socket is
 * refused ("another sluiced serves INSTANCE").  Returns 0, or -1 with err. */
int sl_server_listen(struct sl_server *s, const char *path, const char *instance,
		     const struct sl_server_limits *lim, sl_request_fn handle, void *ctx,
		     char *err, size_t errlen);

/* The descriptor to poll for POLLIN (the epoll set). */
int sl_server_fd(const struct sl_server *s);

/* 1 when requests already read wait to be served (poll with timeout 0). */
int sl_server_pending(const struct sl_server *s);

/* When the next idle connection times out (sl_mono_us() / 1000 clock, ms),
 * UINT64_MAX if none. */
uint64_t sl_server_next_ms(const struct sl_server *s);

/* One turn: accept, read and write what is ready, serve one request of
 * every ready connection, close what timed out or is done. */
void sl_server_run(struct sl_server *s);

/* The reply of the deferred request (malloc'd line, NULL: out of memory);
 * dropped when its connection has gone. */
void sl_server_complete(struct sl_server *s, char *reply);

/* Close every client and the listener, unlink the socket file. */
void sl_server_close(struct sl_server *s);

#endif
