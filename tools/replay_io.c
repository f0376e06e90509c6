/* sluice-replay's input and output captures (see replay_io.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "errmsg.h"
#include "replay_io.h"

#define OUT_BUF (1u << 20) /* more than the largest record: 16 + 262144 bytes */
#define IN_BUF (1u << 20)

/* The file header, read by hand: libpcap would take a pcapng file too, and
 * says less about what a bad file is. */
static int header_check(struct rp_in *in, char *err, size_t errlen)
{
	static const uint8_t ng[4] = { 0x0a, 0x0d, 0x0d, 0x0a };
	uint8_t h[24];
	struct stat st;
	uint32_t magic, swapped;
	ssize_t n;
	int fd = open(in->path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return sl_seterr(err, errlen, "%s: cannot open the capture: %s", in->path,
			    strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return sl_seterr(err, errlen, "%s: not a regular file (expected a pcap capture)",
			    in->path);
	}
	in->size = (uint64_t)st.st_size;
	n = read(fd, h, sizeof(h));
	close(fd);
	if (n < 0)
		return sl_seterr(err, errlen, "%s: cannot read the capture: %s", in->path,
			    strerror(errno));
	if (n == 0)
		return sl_seterr(err, errlen, "%s: empty file (expected a pcap capture)", in->path);
	if (n >= 4 && !memcmp(h, ng, 4))
		return sl_seterr(err, errlen, "%s: a pcapng capture; sluice-replay reads pcap files "
			    "(convert it: editcap -F pcap %s OUT.pcap, or tcpdump -r %s -w "
			    "OUT.pcap)", in->path, in->path, in->path);
	if (n < 4)
		return sl_seterr(err, errlen, "%s: %zd byte%s, not a pcap capture (a pcap file "
			    "header is 24 bytes)", in->path, n, n == 1 ? "" : "s");
	memcpy(&magic, h, 4);
	swapped = __builtin_bswap32(magic);
	if (magic == 0xa1b2c3d4u || swapped == 0xa1b2c3d4u)
		in->nano = 0;
	else if (magic == 0xa1b23c4du || swapped == 0xa1b23c4du)
		in->nano = 1;
	else
		return sl_seterr(err, errlen, "%s: not a pcap capture (magic number %02x%02x%02x%02x; "
			    "expected a1b2c3d4 or a1b23c4d in either byte order)", in->path, h[0],
			    h[1], h[2], h[3]);
	if (n < 24)
		return sl_seterr(err, errlen, "%s: the pcap file header is cut: %zd of its 24 bytes",
			    in->path, n);
	return 0;
}

int rp_in_open(struct rp_in *in, const char *path, char *err, size_t errlen)
{
	char perr[PCAP_ERRBUF_SIZE] = "";
	FILE *fp;
	int dlt;

	memset(in, 0, sizeof(*in));
	snprintf(in->path, sizeof(in->path), "%s", path);
	if (header_check(in, err, errlen))
		return -1;
	fp = fopen(path, "rb");
	if (!fp)
		return sl_seterr(err, errlen, "%s: cannot open the capture: %s", path, strerror(errno));
	/* libpcap reads each record with two freads: one thread reads this
	 * stream, so stdio need not lock it, and a large buffer saves reads */
	__fsetlocking(fp, FSETLOCKING_BYCALLER);
	setvbuf(fp, NULL, _IOFBF, IN_BUF);
	/* ns whatever the file holds: every timestamp is kept exactly */
	in->p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO, perr);
	if (!in->p) {
		fclose(fp);
		return sl_seterr(err, errlen, "%s: %s", path, perr);
	}
	dlt = pcap_datalink(in->p);
	if (dlt != DLT_EN10MB) {
		const char *name = pcap_datalink_val_to_name(dlt);
		const char *desc = pcap_datalink_val_to_description(dlt);

		rp_in_close(in);
		return sl_seterr(err, errlen, "%s: link type %d (%s%s%s): sluice-replay replays "
			    "Ethernet captures only (link type 1, EN10MB)", path, dlt,
			    name ? name : "unknown", desc ? ", " : "", desc ? desc : "");
	}
	in->snaplen = (uint32_t)pcap_snapshot(in->p);
	in->offset = 24;
	return 0;
}

int rp_in_next(struct rp_in *in, uint64_t *ts_ns, uint32_t *len, const uint8_t **data,
	       char *err, size_t errlen)
{
	struct pcap_pkthdr *h;
	const u_char *d;
	int rc = pcap_next_ex(in->p, &h, &d);

	if (rc == PCAP_ERROR_BREAK)
		return 0;
	in->index++;
	if (rc != 1)
		return sl_seterr(err, errlen, "%s: packet %llu at byte offset %llu: %s (the capture is "
			    "cut or damaged there; %llu bytes in the file)", in->path,
			    (unsigned long long)in->index, (unsigned long long)in->offset,
			    pcap_geterr(in->p), (unsigned long long)in->size);
	if (h->caplen < h->len)
		return sl_seterr(err, errlen, "%s: packet %llu at byte offset %llu: only %u of its %u "
			    "bytes were captured (snaplen %u): the replay needs whole packets "
			    "(capture with tcpdump -s 0)", in->path,
			    (unsigned long long)in->index, (unsigned long long)in->offset,
			    h->caplen, h->len, in->snaplen);
	if (h->caplen > h->len)
		return sl_seterr(err, errlen, "%s: packet %llu at byte offset %llu: %u bytes captured "
			    "of a %u-byte packet (a damaged record)", in->path,
			    (unsigned long long)in->index, (unsigned long long)in->offset,
			    h->caplen, h->len);
	in->offset += 16 + (uint64_t)h->caplen;
	*ts_ns = (uint64_t)h->ts.tv_sec * 1000000000u + (uint64_t)h->ts.tv_usec;
	*len = h->caplen;
	*data = d;
	return 1;
}

void rp_in_close(struct rp_in *in)
{
	if (in->p)
		pcap_close(in->p);
	in->p = NULL;
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
