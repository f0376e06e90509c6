/* Shared by the libFuzzer harnesses: a broken invariant aborts with what
 * broke (libFuzzer saves the input as crash-*), and inputs that go through
 * a file are written to one temporary file per process. */
#ifndef SLUICE_FUZZ_H
#define SLUICE_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_CHECK(cond, ...)                                                          \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "\nFUZZ INVARIANT BROKEN (%s:%d): %s\n  ",  \
				__FILE__, __LINE__, #cond);                          \
			fprintf(stderr, __VA_ARGS__);                                \
			fprintf(stderr, "\n");                                       \
			abort();                                                     \
		}                                                                    \
	} while (0)

/* A per-process temporary file name ending in suffix ("/tmp/sluice-fuzz-
 * NAME-PID.SUFFIX"); the file is removed at exit. */
static char fz_path_buf[256];

static inline void fz_unlink(void)
{
	if (fz_path_buf[0])
		unlink(fz_path_buf);
}

static inline const char *fz_path(const char *name, const char *suffix)
{
	if (!fz_path_buf[0]) {
		const char *dir = getenv("TMPDIR");

		snprintf(fz_path_buf, sizeof(fz_path_buf), "%s/sluice-fuzz-%s-%ld.%s",
			 dir && *dir ? dir : "/tmp", name, (long)getpid(), suffix);
		atexit(fz_unlink);
	}
	return fz_path_buf;
}

/* Write data to path (truncated); aborts if the file cannot be written. */
static inline void fz_write(const char *path, const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "wb");

	FZ_CHECK(f != NULL, "cannot create %s", path);
	FZ_CHECK(size == 0 || fwrite(data, 1, size, f) == size, "cannot write %s", path);
	FZ_CHECK(fclose(f) == 0, "cannot write %s", path);
}

/* Does s contain needle? */
static inline int fz_has(const char *s, const char *needle)
{
	return strstr(s, needle) != NULL;
}

static inline int fz_starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

#endif
