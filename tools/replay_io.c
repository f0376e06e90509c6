/* sluice-replay's input and output captures (see replay_io.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "errmsg.h"
#include "replay_io.h"

#define OUT_BUF (1u << 20) /* more than the largest record: 16 + 262144 bytes */

#ifndef likely
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

#define PCAP_MAX_CAPLEN 262144u /* libpcap's largest record */
/* The window the capture is read through: the largest record and a
 * stretch of those after it, read in one call, small enough to be still
 * in the cache when its records are replayed. */
#define IN_WINDOW (((16u + PCAP_MAX_CAPLEN + (512u << 10)) + 4095u) & ~4095u)

static inline uint32_t rd32(const uint8_t *p, int swapped)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return swapped ? __builtin_bswap32(v) : v;
}

/* The file header, read by hand: libpcap would take a pcapng file too, and
 * says less about what a bad file is. */
static int header_check(struct rp_in *in, const uint8_t *h, uint64_t n, char *err,
			size_t errlen)
{
	static const uint8_t ng[4] = { 0x0a, 0x0d, 0x0d, 0x0a };
	uint32_t magic, dlt;

	if (n == 0)
		return sl_seterr(err, errlen, "%s: empty file (expected a pcap capture)", in->path);
	if (n >= 4 && !memcmp(h, ng, 4))
		return sl_seterr(err, errlen, "%s: a pcapng capture; sluice-replay reads pcap files "
			    "(convert it: editcap -F pcap %s OUT.pcap, or tcpdump -r %s -w "
			    "OUT.pcap)", in->path, in->path, in->path);
	if (n < 4)
		return sl_seterr(err, errlen, "%s: %llu byte%s, not a pcap capture (a pcap file "
			    "header is 24 bytes)", in->path, (unsigned long long)n,
			    n == 1 ? "" : "s");
	memcpy(&magic, h, 4);
	in->swapped = magic == 0xd4c3b2a1u || magic == 0x4d3cb2a1u;
	magic = rd32(h, in->swapped);
	if (magic == 0xa1b2c3d4u)
		in->nano = 0;
	else if (magic == 0xa1b23c4du)
		in->nano = 1;
	else
		return sl_seterr(err, errlen, "%s: not a pcap capture (magic number %02x%02x%02x%02x; "
			    "expected a1b2c3d4 or a1b23c4d in either byte order)", in->path, h[0],
			    h[1], h[2], h[3]);
	if (n < 24)
		return sl_seterr(err, errlen, "%s: the pcap file header is cut: %llu of its 24 "
			    "bytes", in->path, (unsigned long long)n);
	in->snaplen = rd32(h + 16, in->swapped);
	/* the link type's low 16 bits; the high ones carry FCS flags */
	dlt = rd32(h + 20, in->swapped) & 0xffff;
	if (dlt != DLT_EN10MB) {
		const char *name = pcap_datalink_val_to_name((int)dlt);
		const char *desc = pcap_datalink_val_to_description((int)dlt);

		return sl_seterr(err, errlen, "%s: link type %u (%s%s%s): sluice-replay replays "
			    "Ethernet captures only (link type 1, EN10MB)", in->path, dlt,
			    name ? name : "unknown", desc ? ", " : "", desc ? desc : "");
	}
	return 0;
}

/* At least need bytes from in->offset in the window (need: at most what
 * the file has left) for record in->index.  The record being read is
 * moved to the window's start, then as much of the file as fits is read
 * after it. */
static int fill(struct rp_in *in, uint64_t need, char *err, size_t errlen)
{
	uint64_t pos = in->offset - in->base;

	if (pos) {
		memmove(in->buf, in->buf + pos, in->have - pos);
		in->have -= pos;
		in->base = in->offset;
	}
	while (in->have < need) {
		uint64_t end = in->base + in->have;
		uint64_t want = in->buf_cap - in->have;
		ssize_t n;

		if (want > in->size - end)
			want = in->size - end;
		n = read(in->fd, in->buf + in->have, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return sl_seterr(err, errlen, "%s: cannot read the capture at byte offset "
				    "%llu: %s", in->path, (unsigned long long)end,
				    strerror(errno));
		if (n == 0) {
			struct stat st;

			/* another program cut the file after it was opened */
			return sl_seterr(err, errlen, "%s: the capture was cut short while being "
				    "read (%llu bytes at the start, %lld now): packet %llu at "
				    "byte offset %llu", in->path, (unsigned long long)in->size,
				    fstat(in->fd, &st) == 0 ? (long long)st.st_size : -1ll,
				    (unsigned long long)in->index,
				    (unsigned long long)in->offset);
		}
		in->have += (uint64_t)n;
	}
	return 0;
}

/* The capture is read through one window, reused from the first record
 * to the last: its pages are faulted in once, at open.  A mapping of the
 * file instead costs a fault (and, in a virtual machine, a shadow page
 * table update) every page or few of the capture, more than the frames
 * on the page take to replay.  Memory does not grow with the capture. */
int rp_in_open(struct rp_in *in, const char *path, char *err, size_t errlen)
{
	struct stat st;
	void *m;
	int fd;

	memset(in, 0, sizeof(*in));
	in->fd = -1;
	snprintf(in->path, sizeof(in->path), "%s", path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sl_seterr(err, errlen, "%s: cannot open the capture: %s", path,
			    strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return sl_seterr(err, errlen, "%s: not a regular file (expected a pcap capture)",
			    path);
	}
	in->fd = fd;
	in->size = (uint64_t)st.st_size;
	if (in->size == 0) {
		rp_in_close(in);
		return header_check(in, NULL, 0, err, errlen);
	}
	in->buf_cap = IN_WINDOW;
	m = mmap(NULL, in->buf_cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		int e = errno;

		rp_in_close(in);
		return sl_seterr(err, errlen, "%s: no memory for the window it is read through: %s",
			    path, strerror(e));
	}
	in->buf = m;
	for (uint64_t off = 0; off < in->buf_cap; off += 4096)
		in->buf[off] = 0;
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if (fill(in, in->size < 24 ? in->size : 24, err, errlen) ||
	    header_check(in, in->buf, in->have, err, errlen)) {
		rp_in_close(in);
		return -1;
	}
	in->offset = 24;
	return 0;
}

/* "PATH: packet N at byte offset O: " and the rest; for a record cut by
 * the end of the file (cut), where that is. */
__attribute__((format(printf, 5, 6)))
static int record_error(const struct rp_in *in, char *err, size_t errlen, int cut,
			const char *fmt, ...)
{
	char what[400], where[96] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (cut)
		snprintf(where, sizeof(where), " (the capture is cut or damaged there; %llu bytes "
			 "in the file)", (unsigned long long)in->size);
	return sl_seterr(err, errlen, "%s: packet %llu at byte offset %llu: %s%s", in->path,
		    (unsigned long long)in->index, (unsigned long long)in->offset, what, where);
}

int rp_in_next(struct rp_in *in, uint64_t *ts_ns, uint32_t *len, const uint8_t **data,
	       char *err, size_t errlen)
{
	uint64_t left = in->size - in->offset, head = left < 16 ? left : 16;
	const uint8_t *h;
	uint32_t sec, frac, caplen, wire;

	if (left == 0)
		return 0;
	in->index++;
	if (unlikely(in->base + in->have - in->offset < head) && fill(in, head, err, errlen))
		return -1;
	if (unlikely(left < 16))
		return record_error(in, err, errlen, 1, "truncated record: %llu of its 16 header "
				    "bytes", (unsigned long long)left);
	h = in->buf + (in->offset - in->base);
	sec = rd32(h, in->swapped);
	frac = rd32(h + 4, in->swapped);
	caplen = rd32(h + 8, in->swapped);
	wire = rd32(h + 12, in->swapped);
	if (unlikely(caplen > PCAP_MAX_CAPLEN))
		return record_error(in, err, errlen, 1, "a damaged record: a captured length of %u "
				    "bytes (a pcap record holds at most %u)", caplen,
				    PCAP_MAX_CAPLEN);
	if (unlikely(left - 16 < caplen))
		return record_error(in, err, errlen, 1, "truncated record: %llu of its %u captured "
				    "bytes", (unsigned long long)(left - 16), caplen);
	if (unlikely(caplen < wire))
		return record_error(in, err, errlen, 0, "only %u of its %u bytes were captured "
				    "(snaplen %u): the replay needs whole packets (capture with "
				    "tcpdump -s 0)", caplen, wire, in->snaplen);
	if (unlikely(caplen > wire))
		return record_error(in, err, errlen, 0, "%u bytes captured of a %u-byte packet (a "
				    "damaged record)", caplen, wire);
	if (unlikely(in->base + in->have - in->offset < 16 + (uint64_t)caplen)) {
		if (fill(in, 16 + (uint64_t)caplen, err, errlen))
			return -1;
		h = in->buf;
	}
	/* a fraction of a second of a second or more would carry the clock
	 * into later seconds (and out of order): a damaged record */
	if (unlikely(frac >= (in->nano ? 1000000000u : 1000000u)))
		return record_error(in, err, errlen, 0, "a timestamp fraction of %u %s, out of "
				    "range (a fraction of a second is below %s %s; a damaged "
				    "record)", frac, in->nano ? "ns" : "us",
				    in->nano ? "1000000000" : "1000000", in->nano ? "ns" : "us");
	*ts_ns = (uint64_t)sec * 1000000000u + (in->nano ? frac : (uint64_t)frac * 1000u);
	*len = caplen;
	*data = h + 16;
	in->offset += 16 + (uint64_t)caplen;
	return 1;
}

void rp_in_close(struct rp_in *in)
{
	if (in->buf)
		munmap(in->buf, in->buf_cap);
	in->buf = NULL;
	if (in->fd >= 0)
		close(in->fd);
	in->fd = -1;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int rp_out_open(struct rp_out *o, const char *path, int nano, uint32_t snaplen, char *err,
		size_t errlen)
{
	struct {
		uint32_t magic;
		uint16_t major, minor;
		int32_t zone;
		uint32_t sigfigs, snaplen, linktype;
	} h = { nano ? 0xa1b23c4du : 0xa1b2c3d4u, 2, 4, 0, 0, snaplen ? snaplen : 262144u, 1 };

	memset(o, 0, sizeof(*o));
	o->fd = -1;
	snprintf(o->path, sizeof(o->path), "%s", path);
	o->nano = nano;
	o->buf = malloc(OUT_BUF);
	if (!o->buf)
		return sl_seterr(err, errlen, "%s: out of memory for its buffer", path);
	o->cap = OUT_BUF;
	o->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (o->fd < 0) {
		int e = errno;

		free(o->buf);
		o->buf = NULL;
		return sl_seterr(err, errlen, "%s: cannot create the output capture: %s", path,
			    strerror(e));
	}
	_Static_assert(sizeof(h) == 24, "pcap file header");
	memcpy(o->buf, &h, sizeof(h));
	o->used = sizeof(h);
	return 0;
}

int rp_out_flush(struct rp_out *o)
{
	if (o->failed)
		return -1;
	if (o->used && write_all(o->fd, o->buf, o->used) != 0) {
		o->failed = 1;
		snprintf(o->err, sizeof(o->err), "%s: write failed: %s", o->path, strerror(errno));
		return -1;
	}
	o->used = 0;
	return 0;
}

int rp_out_close(struct rp_out *o)
{
	int rc = 0;

	if (o->fd < 0) {
		free(o->buf);
		o->buf = NULL;
		return 0;
	}
	if (rp_out_flush(o) != 0)
		rc = -1;
	if (close(o->fd) != 0 && !o->failed) {
		o->failed = 1;
		snprintf(o->err, sizeof(o->err), "%s: close failed: %s", o->path, strerror(errno));
		rc = -1;
	}
	o->fd = -1;
	free(o->buf);
	o->buf = NULL;
	return rc;
}
