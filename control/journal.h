/* The change journal: append-only JSON lines, fsync'd one by one
 * (control/PROTOCOL.md, "Journal").  It is written ahead of every
 * publication, so that a daemon that dies between the two completes the
 * change at its next start. */
#ifndef SLUICE_JOURNAL_H
#define SLUICE_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Rotated files whose lines from byte lo on are known to be entries
 * (written by this process, or read by an earlier history): not parsed
 * again while the file's size and time are unchanged. */
#define SL_JOURNAL_TRUST 16
struct sl_journal_trust {
	uint32_t n, next;
	struct { uint64_t dev, ino, size, mtime_ns, lo; } f[SL_JOURNAL_TRUST];
};

struct sl_journal {
	char path[256];
	int fd;          /* open for appending, -1 when closed */
	uint64_t size;   /* bytes: complete lines only */
	uint64_t lines;
	uint32_t last_gen; /* gen of the last entry (0: none) */
	int torn;        /* sl_journal_open cut a torn last line (kept in PATH.torn) */
	uint64_t rotated; /* entries the last rotation moved to PATH.1 (0: none yet) */
	struct sl_journal_trust trust;
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

/* Start a new file: the old one becomes PATH.1 (PATH.k becomes PATH.k+1,
 * PATH.keep is removed) and PATH holds checkpoint, a whole entry that
 * gives every state a restart needs (control/PROTOCOL.md, "Journal"), as
 * its first line.  PATH is whole at every step: a crash leaves the old
 * file or the new one there.  Returns 0 (err holds a warning if the
 * directory could not be fsync'd), or -1 with err and j unchanged. */
int sl_journal_rotate(struct sl_journal *j, const json_t *checkpoint, unsigned keep,
		      char *err, size_t errlen);

/* The history: the last limit entries (of one service when service !=
 * NULL: entries whose "service" is it, or whose "services" list names
 * it), oldest first, as the text of a JSON array of the lines as they are
 * on disk (*count of them), from PATH and then PATH.1 .. PATH.keep as far
 * as needed; checkpoint entries are left out.  Lines of PATH before byte
 * trusted were checked by this process (written or replayed) and are not
 * parsed again, nor those of a rotated file in trust (may be NULL; a file
 * read through whole is added to it); others are, and one that is not an
 * entry is an error naming its file and line.  NULL with err on failure. */
char *sl_journal_history_text(const char *path, uint64_t trusted, struct sl_journal_trust *trust,
			      unsigned keep, const char *service, uint32_t limit,
			      uint32_t *count, char *err, size_t errlen);

/* "2026-11-27T18:40:01.123Z" for a wall-clock time in ms (buf >= 25). */
void sl_journal_time(char *buf, size_t len, uint64_t ms);

#endif
