/* fuzz_config: the configuration loader (dataplane/config.h) on arbitrary
 * files.  Invariants:
 *  - a refusal names the file first ("FILE: ") and then where: a line
 *    ("line N", N a line of the file) or a section ("[SECTION]", with its
 *    key when one is at fault);
 *  - an accepted file loads again to the very same configuration (the
 *    loader zeroes it first, so the bytes compare), and its counts stay
 *    within their bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"

static struct sl_config a, b;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fz_path("config", "ini");
	char err[2048], err2[2048], want[600];

	if (size > 64 * 1024)
		return 0;
	fz_write(path, data, size);
	err[0] = 0;
	if (sl_config_load(path, &a, err, sizeof(err)) != 0) {
		const char *rest = err + strlen(path) + 2;

		snprintf(want, sizeof(want), "%s: ", path);
		FZ_CHECK(fz_starts(err, want), "refusal without the file's name: '%s'", err);
		FZ_CHECK(fz_starts(rest, "line ") || fz_has(rest, "["),
			 "refusal names neither a line nor a section: '%s'", err);
		if (fz_starts(rest, "line ")) {
			unsigned long ln = strtoul(rest + 5, NULL, 10), lines = 1;

			for (size_t i = 0; i < size; i++)
				lines += data[i] == '\n';
			FZ_CHECK(ln >= 1 && ln <= lines, "refusal names line %lu of %lu: '%s'", ln,
				 lines, err);
		}
		FZ_CHECK(strlen(err) > strlen(want), "an empty refusal");
		return 0;
	}
	FZ_CHECK(a.nports <= SL_MAX_PORTS && a.ngroups <= SL_MAX_GROUPS &&
		 a.nservices <= SL_MAX_SERVICES && a.nshadows <= SL_MAX_SHADOWS &&
		 a.nslices <= SL_MAX_SLICES && a.nguards <= SL_MAX_GUARDS,
		 "counts beyond their bounds");
	FZ_CHECK(!strcmp(a.path, path), "path '%s'", a.path);
	err2[0] = 0;
	FZ_CHECK(sl_config_load(path, &b, err2, sizeof(err2)) == 0,
		 "accepted once, refused when loaded again: %s", err2);
	FZ_CHECK(!memcmp(&a, &b, sizeof(a)), "two loads of one file differ");
	return 0;
}
