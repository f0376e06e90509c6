/* sluice-replay's files: the input capture, read as a stream through one
 * window reused from start to end, and checked record by record
 * (errors name the file, the packet and its byte offset), and the output
 * captures, one per port, written in blocks with the input's timestamps
 * and timestamp precision.
 * No DPDK here. */
#ifndef SLUICE_REPLAY_IO_H
#define SLUICE_REPLAY_IO_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define RP_ERR_LEN 1024
#define RP_OUT_BLOCK (64u << 10) /* bytes per write() */

struct rp_in {
	char path[512];
	int fd;
	uint8_t *buf;       /* the window of the file being read */
	uint64_t buf_cap;   /* its bytes (more than the largest record) */
	uint64_t base;      /* file offset of buf[0] */
	uint64_t have;      /* bytes of the file in buf */
	int swapped;        /* the file's byte order is not ours */
	int nano;           /* the file's timestamps are in ns (else us) */
	uint32_t snaplen;
	uint64_t size;      /* file bytes when opened: what is replayed */
	uint64_t offset;    /* byte offset of the next record */
	uint64_t index;     /* records read so far (the last one's number, 1-based) */
};

/* Open and check a capture: a pcap file (either byte order, us or ns
 * timestamps) of Ethernet frames.  Refused with err naming the file: not a
 * pcap file, pcapng, a header cut short, another link type.  Returns 0 or
 * -1. */
int rp_in_open(struct rp_in *in, const char *path, char *err, size_t errlen);

/* The next record: 1 with *ts_ns (since the epoch), *len and *data (valid
 * until the next call), 0 at the end of the file, -1 with err naming the
 * file, the packet number and its byte offset: a record cut by the end of
 * the file, one captured shorter than it was (snaplen), or a timestamp
 * whose fraction of a second is out of range (us >= 10^6, ns >= 10^9). */
int rp_in_next(struct rp_in *in, uint64_t *ts_ns, uint32_t *len, const uint8_t **data,
	       char *err, size_t errlen);

void rp_in_close(struct rp_in *in);

struct rp_out {
	char path[768];
	int fd;
	int nano;           /* write ns timestamps (the input's precision) */
	uint8_t *buf;
	size_t used, cap;
	int failed;         /* a write failed: err says why, nothing more is written */
	char err[RP_ERR_LEN];
};

/* Create path (truncated) and write the file header.  Returns 0, or -1
 * with err naming the file. */
int rp_out_open(struct rp_out *o, const char *path, int nano, uint32_t snaplen, char *err,
		size_t errlen);

/* Write the buffer out (0, or -1 with o->err). */
int rp_out_flush(struct rp_out *o);

/* Room for one record of len bytes (header included by the caller's
 * rp_out_record); NULL once the file failed. */
static inline uint8_t *rp_out_reserve(struct rp_out *o, size_t len)
{
	/* written out in blocks that stay in cache (the kernel's copy reads
	 * them back); a record above the block size has the whole buffer */
	if (o->used && o->used + len > RP_OUT_BLOCK) {
		if (rp_out_flush(o) != 0)
			return NULL;
	}
	if (o->failed || o->cap < len)
		return NULL;
	return o->buf + o->used;
}

/* Start a record of len bytes at ts_ns: returns where its len bytes go,
 * or NULL (the file failed, or a record larger than the buffer). */
static inline uint8_t *rp_out_record(struct rp_out *o, uint64_t ts_ns, uint32_t len)
{
	uint8_t *p = rp_out_reserve(o, 16 + (size_t)len);
	uint32_t h[4];

	if (!p)
		return NULL;
	h[0] = (uint32_t)(ts_ns / 1000000000u);
	h[1] = (uint32_t)(ts_ns % 1000000000u);
	if (!o->nano)
		h[1] /= 1000u;
	h[2] = len;
	h[3] = len;
	memcpy(p, h, 16);
	o->used += 16 + (size_t)len;
	return p + 16;
}

/* Flush and close; returns 0, or -1 with o->err (also for an earlier
 * failure). */
int rp_out_close(struct rp_out *o);

#endif
