/* The change journal: append-only JSON lines, fsync'd one by one
 * (control/PROTOCOL.md, "Journal").  It is written ahead of every
 * publication, so that a daemon that dies between the two completes the
 * change at its next start. */
#ifndef SLUICE_JOURNAL_H
#define SLUICE_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct sl_journal {
	char path[256];
	int fd;          /* open for appending, -1 when closed */
	uint64_t size;   /* bytes: complete lines only */
	uint64_t lines;
	uint32_t last_gen; /* gen of the last entry (0: none) */
	int torn;        /* sl_journal_open cut a torn last line (kept in PATH.torn) */
};

/* Called for every entry in file order; a non-zero return stops the replay
 * (the open fails with err as set by the callback). */
typedef int (*sl_journal_fn)(void *ctx, const json_t *entry, uint64_t line, char *err,
			     size_t errlen);

/* Open path for appending, creating it (and its directory, 0755) if
 * missing; the directory is fsync'd after creating the file.  The file is
 * locked (flock): a second writer is refused.  Every line is replayed
 * through fn (may be NULL).  A torn last line (no newline and not a whole
 * entry: a write the machine did not finish) is appended to PATH.torn,
 * then cut off so that later appends stay valid (j->torn), and described
 * in note ("journal FILE: line N is torn (K bytes): cut off, kept in
 * FILE.torn"); a last line that is a whole entry without its newline gets
 * it ("... line N had no newline: completed"); "" otherwise.  Any line with
 * its newline that is not a JSON object with a whole number "gen" and a
 * string "cmd", and a generation that is neither the previous one nor the
 * next (but for init and recover entries: a line missing), is an error
 * naming the line; nothing is cut then.  Returns 0, or -1 with err. */
int sl_journal_open(struct sl_journal *j, const char *path, sl_journal_fn fn, void *ctx,
		    char *note, size_t notelen, char *err, size_t errlen);

/* Append one entry as a compact line and fsync it.  On failure the file is
 * cut back to its previous length (never half a line) and -1 is returned
 * with err. */
int sl_journal_append(struct sl_journal *j, const json_t *entry, char *err, size_t errlen);

void sl_journal_close(struct sl_journal *j);

/* The last limit entries (of one service when service != NULL: entries
 * whose "service" is it, or whose "services" list names it), oldest first,
 * as a new array.  NULL with err on failure. */
json_t *sl_journal_history(const char *path, const char *service, uint32_t limit, char *err,
			   size_t errlen);

/* "2026-11-27T18:40:01.123Z" for a wall-clock time in ms (buf >= 25). */
void sl_journal_time(char *buf, size_t len, uint64_t ms);

#endif
