/* fuzz_plan: rollout plans (control/rollout.h): the INI plan file
 * (sl_plan_load, the whole input as the file) and the --steps/--dwell form
 * (sl_plan_from_list: the input's first line is the list, its second the
 * dwell).  Invariants:
 *  - a refused file is named first ("FILE: ") and the message says where:
 *    a line ("line N") or a section ("[step N]", with its key);
 *  - a refused list names the option and, for an item, which one
 *    ("--steps item N 'TEXT'", "--steps: ...", "--dwell: ...");
 *  - an accepted plan holds 1..SL_RO_MAX_STEPS steps that pass
 *    sl_ro_check_steps (the daemon's check), and loads again the same;
 *  - the file's [guard NAME] sections (sl_plan_load_guards): a refusal
 *    names the file and the line or section, leaves the guards and their
 *    count untouched; at most the maximum asked for is returned. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"
#include "rollout.h"

#define MAX_GUARDS 4

static void accepted(const struct sl_ro_step *s, uint32_t n, const char *what)
{
	char err[1024];

	FZ_CHECK(n >= 1 && n <= SL_RO_MAX_STEPS, "%s: %u steps", what, n);
	err[0] = 0;
	FZ_CHECK(sl_ro_check_steps(s, n, err, sizeof(err)) == 0,
		 "%s accepted steps the daemon refuses: %s", what, err);
	for (uint32_t i = 0; i < n; i++)
		FZ_CHECK(s[i].share_bp <= 10000 && s[i].pause <= 1, "%s: step %u", what, i + 1);
}

static void guards(const char *path)
{
	static struct sl_cfg_guard g[MAX_GUARDS], zero[MAX_GUARDS];
	uint32_t n = 77;
	char err[2048], want[600];

	memset(g, 0, sizeof(g));
	err[0] = 0;
	if (sl_plan_load_guards(path, g, &n, MAX_GUARDS, err, sizeof(err)) != 0) {
		const char *rest = err + strlen(path) + 2;

		snprintf(want, sizeof(want), "%s: ", path);
		FZ_CHECK(fz_starts(err, want), "guards refused without the file's name: '%s'", err);
		FZ_CHECK(fz_starts(rest, "line ") || fz_has(rest, "["),
			 "guard refusal names neither a line nor a section: '%s'", err);
		FZ_CHECK(n == 77 && !memcmp(g, zero, sizeof(g)), "a refusal changed the guards");
		return;
	}
	FZ_CHECK(n <= MAX_GUARDS, "%u guards of at most %u", n, MAX_GUARDS);
}

static void as_file(const uint8_t *data, size_t size)
{
	const char *path = fz_path("plan", "ini");
	struct sl_ro_step a[SL_RO_MAX_STEPS], b[SL_RO_MAX_STEPS];
	uint32_t na = 0, nb = 0;
	char err[2048], want[600];

	fz_write(path, data, size);
	guards(path);
	err[0] = 0;
	if (sl_plan_load(path, a, &na, err, sizeof(err)) != 0) {
		const char *rest = err + strlen(path) + 2;

		snprintf(want, sizeof(want), "%s: ", path);
		FZ_CHECK(fz_starts(err, want), "plan refused without the file's name: '%s'", err);
		FZ_CHECK(fz_starts(rest, "line ") || fz_has(rest, "["),
			 "plan refusal names neither a line nor a section: '%s'", err);
		return;
	}
	accepted(a, na, "plan file");
	FZ_CHECK(sl_plan_load(path, b, &nb, err, sizeof(err)) == 0, "accepted once, then: %s",
		 err);
	FZ_CHECK(na == nb && !memcmp(a, b, na * sizeof(a[0])), "two loads differ");
}

static void as_list(const uint8_t *data, size_t size)
{
	struct sl_ro_step s[SL_RO_MAX_STEPS];
	uint32_t n = 0;
	char *buf, *list, *dwell, *nl, err[2048];

	buf = malloc(size + 1);
	FZ_CHECK(buf != NULL, "out of memory");
	memcpy(buf, data, size);
	buf[size] = 0;
	list = buf;
	dwell = NULL;
	nl = strchr(buf, '\n');
	if (nl) {
		*nl = 0;
		dwell = nl + 1;
		nl = strchr(dwell, '\n');
		if (nl)
			*nl = 0;
	}
	err[0] = 0;
	if (sl_plan_from_list(list, dwell, s, &n, err, sizeof(err)) != 0) {
		FZ_CHECK(fz_starts(err, "--steps: ") || fz_starts(err, "--steps item ") ||
			 fz_starts(err, "--dwell: "), "list refusal names no option or item: '%s'",
			 err);
	} else {
		accepted(s, n, "--steps list");
		for (uint32_t i = 0; i < n; i++)
			FZ_CHECK(!s[i].pause && s[i].dwell_ms == s[0].dwell_ms,
				 "--steps: step %u has its own dwell", i + 1);
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 16 * 1024)
		return 0;
	as_file(data, size);
	as_list(data, size);
	return 0;
}
