#!/bin/sh
# Build the libFuzzer harnesses (tests/fuzz) with clang in build-fuzz/ and
# run each for SECONDS (default 30) on its seed corpus (tools/fuzz-corpus.sh,
# generated from the fixtures into build-fuzz/fuzz-corpus, never committed)
# and its reproducers (tests/fuzz/repro/TARGET/*, each run once first).
#   tools/fuzz.sh [SECONDS] [TARGET...]
# Prints per target the executions, coverage (cov: and ft: of libFuzzer's
# last stats line) and any crash file, then one "N passed, N failed" line:
# a target passes when its reproducers pass and it ran its time without a
# finding.  FUZZ_JOBS (default 1) targets run at a time; FUZZ_BUILD names
# another build directory (built by the caller), FUZZ_LOGS the logs' (default
# BUILD/fuzz-logs); FUZZ_NICE=N runs the
# fuzzers under nice -n N; FUZZ_REGEN=1 starts the corpora afresh from the
# seeds (by default the seeds are added to what earlier runs kept).
# Without clang (or libFuzzer) it says so and ends "0 passed, 0 failed".
set -u
cd "$(dirname "$0")/.."
root=$(pwd)
secs=${1:-30}
[ $# -gt 0 ] && shift
targets=${*:-"parse config ini request daemon capture plan schedule decide maglev"}
build=${FUZZ_BUILD:-build-fuzz}
jobs=${FUZZ_JOBS:-1}
nicecmd=
[ -n "${FUZZ_NICE:-}" ] && nicecmd="nice -n $FUZZ_NICE"

fail_all() {
	echo "fuzz: $1"
	echo "0 passed, 1 failed"
	exit 1
}

# the harnesses only, in build-fuzz/ (tools/build.sh fuzz); without a
# clang that links libFuzzer the fuzzers are skipped, not failed (a machine
# without clang is not the code's fault: tools/install-deps.sh installs it)
if [ "$build" = build-fuzz ]; then
	blog=$(mktemp /tmp/sluice-build-fuzz.XXXXXX)
	"$root/tools/build.sh" fuzz >"$blog" 2>&1
	rc=$?
	if [ "$rc" -eq 3 ]; then
		cat "$blog"
		rm -f "$blog"
		echo "fuzz: skipped: clang cannot build the fuzzers here"
		echo "0 passed, 0 failed"
		exit 0
	fi
	if [ "$rc" -ne 0 ]; then
		tail -n 40 "$blog"
		rm -f "$blog"
		fail_all "building the fuzzers failed (tools/build.sh fuzz)"
	fi
	rm -f "$blog"
fi
# the harnesses' temporary files (inputs written as files) in memory
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	TMPDIR=/dev/shm
	export TMPDIR
fi
bins=
for t in $targets; do
	bins="$bins tests/fuzz/fuzz_$t"
done
# shellcheck disable=SC2086
ninja -C "$build" $bins || fail_all "building the fuzzers failed"

corpus=$build/fuzz-corpus
[ -n "${FUZZ_REGEN:-}" ] && rm -rf "$corpus"
sh "$root/tools/fuzz-corpus.sh" "$build" "$corpus" >/dev/null || fail_all "seed corpus failed"
art=$build/fuzz-artifacts
logs=${FUZZ_LOGS:-$build/fuzz-logs}
mkdir -p "$art" "$logs"

dict_of() {
	case $1 in
	config|ini|plan) echo "-dict=$root/tests/fuzz/ini.dict" ;;
	request|daemon|schedule) echo "-dict=$root/tests/fuzz/json.dict" ;;
	esac
}

# run_one TARGET: reproducers, then SECONDS of fuzzing; writes logs/TARGET.result
run_one() {
	t=$1
	bin=$build/tests/fuzz/fuzz_$t
	res=$logs/$t.result
	rm -f "$art/$t-"* "$res"
	mkdir -p "$corpus/$t"
	nrepro=0
	rfail=
	for r in "$root/tests/fuzz/repro/$t"/*; do
		[ -f "$r" ] || continue
		nrepro=$((nrepro + 1))
		if ! $nicecmd "$bin" -runs=1 "$r" >"$logs/$t.repro.log" 2>&1; then
			rfail="$rfail $(basename "$r")"
		fi
	done
	# the reproducers join the corpus when they pass (one that fails would
	# stop the fuzzer at its start: it is reported as failed above)
	reprodir=
	[ -d "$root/tests/fuzz/repro/$t" ] && [ -z "$rfail" ] && reprodir=$root/tests/fuzz/repro/$t
	# shellcheck disable=SC2046
	$nicecmd "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$art/$t-" $(dict_of "$t") \
		"$corpus/$t" $reprodir >"$logs/$t.log" 2>&1
	rc=$?
	last=$(grep -E '^#[0-9]+' "$logs/$t.log" | grep 'cov:' | tail -n 1)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t.log" | tail -n 1)
	cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$logs/$t.log" | tail -n 1)
	corp=$(echo "$last" | sed -n 's/.*corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p')
	crash=$(ls "$art/$t-"* 2>/dev/null | tr '\n' ' ')
	verdict=PASS
	{ [ "$rc" -ne 0 ] || [ -n "$crash" ] || [ -n "$rfail" ]; } && verdict=FAIL
	echo "$verdict fuzz_$t: ${execs:-?} execs in ${secs}s (${eps:-?}/s), cov ${cov:-?}," \
		"ft ${ft:-?}, corpus ${corp:-?},"  \
		"reproducers $nrepro${rfail:+ (failed:$rfail)}${crash:+, crash: $crash}" \
		"(exit $rc; log $logs/$t.log)" >"$res"
}

running=0
for t in $targets; do
	run_one "$t" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait
		running=0
	fi
done
wait

pass=0
fail=0
for t in $targets; do
	if [ -f "$logs/$t.result" ]; then
		cat "$logs/$t.result"
		if grep -q '^PASS' "$logs/$t.result"; then
			pass=$((pass + 1))
		else
			fail=$((fail + 1))
			grep -A 12 -E 'INVARIANT BROKEN|ERROR: (Address|Undefined|libFuzzer)|runtime error' \
				"$logs/$t.log" | head -n 30
		fi
	else
		echo "FAIL fuzz_$t: no result"
		fail=$((fail + 1))
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
