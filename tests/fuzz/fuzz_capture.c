/* fuzz_capture: sluice-replay's capture reader (tools/replay_io.c) on
 * arbitrary files.  Invariants:
 *  - a refused file is named at the start of the message; a refused record
 *    is named "PATH: packet N at byte offset O:" with N and O those of the
 *    reader (the record's number and where its header starts);
 *  - every record returned lies inside the file, right after the previous
 *    one (16-byte header, captured length <= 262144), its timestamp is the
 *    header's seconds and fraction (fraction below one second), and the
 *    end of the file is reached exactly at its last byte;
 *  - what the reader returns, written by the output writer (rp_out, the
 *    input's precision) and read back, is the same records. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "replay_io.h"

#define MAX_KEEP 64

struct rec {
	uint64_t ts;
	uint32_t len;
	const uint8_t *data;
};

static uint32_t rd32(const uint8_t *p, int swapped)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return swapped ? __builtin_bswap32(v) : v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out_path[300];
	const char *path = fz_path("capture", "pcap");
	char err[RP_ERR_LEN], want[700];
	struct rec keep[MAX_KEEP];
	unsigned nkeep = 0;
	struct rp_in in, back;
	struct rp_out o;
	uint64_t ts, expect_off = 24;
	uint32_t len;
	const uint8_t *d;
	int rc;

	if (size > (1u << 20))
		return 0;
	if (!out_path[0])
		snprintf(out_path, sizeof(out_path), "%s.out", path);
	fz_write(path, data, size);
	err[0] = 0;
	if (rp_in_open(&in, path, err, sizeof(err)) != 0) {
		snprintf(want, sizeof(want), "%s: ", path);
		FZ_CHECK(fz_starts(err, want), "open refused without the file's name: '%s'", err);
		return 0;
	}
	FZ_CHECK(size >= 24, "a %zu-byte file accepted", size);
	while ((rc = rp_in_next(&in, &ts, &len, &d, err, sizeof(err))) == 1) {
		const uint8_t *h = d - 16;
		uint32_t sec = rd32(h, in.swapped), frac = rd32(h + 4, in.swapped);

		FZ_CHECK(len <= 262144 && len == rd32(h + 8, in.swapped) &&
			 len == rd32(h + 12, in.swapped), "record %" PRIu64 ": length %u", in.index,
			 len);
		FZ_CHECK(expect_off + 16 + len <= size, "record %" PRIu64 " past the file's end",
			 in.index);
		/* the bytes of the file at the record's offset, through the window */
		FZ_CHECK(!memcmp(h, data + expect_off, 16 + (size_t)len), "record %" PRIu64
			 " is not the file's bytes at offset %" PRIu64, in.index, expect_off);
		FZ_CHECK(frac < (in.nano ? 1000000000u : 1000000u), "record %" PRIu64
			 ": fraction %u accepted", in.index, frac);
		FZ_CHECK(ts == (uint64_t)sec * 1000000000u + (in.nano ? frac : frac * 1000ull),
			 "record %" PRIu64 ": timestamp %" PRIu64 " from %u.%u", in.index, ts, sec,
			 frac);
		/* d is valid until the next record: the kept records point into
		 * the input */
		if (nkeep < MAX_KEEP)
			keep[nkeep++] = (struct rec){ ts, len, data + expect_off + 16 };
		expect_off += 16 + len;
		FZ_CHECK(in.offset == expect_off, "next offset %" PRIu64 ", expected %" PRIu64,
			 in.offset, expect_off);
	}
	if (rc == 0) {
		FZ_CHECK(expect_off == size, "end of file reported at %" PRIu64 " of %zu",
			 expect_off, size);
	} else {
		FZ_CHECK(rc == -1, "rp_in_next returned %d", rc);
		snprintf(want, sizeof(want), "%s: packet %" PRIu64 " at byte offset %" PRIu64 ": ",
			 path, in.index, expect_off);
		FZ_CHECK(fz_starts(err, want), "record refused as '%s' (expected '%s...')", err,
			 want);
		FZ_CHECK(in.offset == expect_off, "offset moved on a refused record");
	}

	/* the records read, written out and read back */
	if (nkeep) {
		FZ_CHECK(rp_out_open(&o, out_path, in.nano, in.snaplen, err, sizeof(err)) == 0,
			 "rp_out_open: %s", err);
		for (unsigned i = 0; i < nkeep; i++) {
			uint8_t *p = rp_out_record(&o, keep[i].ts, keep[i].len);

			FZ_CHECK(p != NULL, "rp_out_record failed: %s", o.err);
			memcpy(p, keep[i].data, keep[i].len);
		}
		FZ_CHECK(rp_out_close(&o) == 0, "rp_out_close: %s", o.err);
		FZ_CHECK(rp_in_open(&back, out_path, err, sizeof(err)) == 0, "written capture "
			 "refused: %s", err);
		FZ_CHECK(back.nano == in.nano, "precision changed");
		for (unsigned i = 0; i < nkeep; i++) {
			rc = rp_in_next(&back, &ts, &len, &d, err, sizeof(err));
			FZ_CHECK(rc == 1, "written record %u not read back: %s", i + 1, err);
			FZ_CHECK(ts == keep[i].ts && len == keep[i].len &&
				 !memcmp(d, keep[i].data, len), "written record %u differs", i + 1);
		}
		FZ_CHECK(rp_in_next(&back, &ts, &len, &d, err, sizeof(err)) == 0,
			 "more records written than read");
		rp_in_close(&back);
		unlink(out_path);
	}
	rp_in_close(&in);
	return 0;
}
