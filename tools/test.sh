#!/bin/sh
# Run every sluice test on this machine: installs the Debian packages,
# builds (release, and ASan+UBSan), then runs
#   1. the core unit tests (CUnit), release build
#   2. the same unit tests under AddressSanitizer + UndefinedBehaviorSanitizer
#      (then the shadow filter and copy tests, which need DPDK's EAL), and
#      the libFuzzer harnesses of tests/fuzz (clang): their reproducers, then
#      each fuzzer for a bounded time (FUZZ_CI_SECONDS, default 15 s each)
#   3. fixture reproducibility (generator output == committed pcaps)
#   4. integration tests: the real sluice-dp on net_pcap ports, with
#      hugepages and again a few without (the --no-huge fallback)
#   5. live tests: real TCP/UDP clients and servers in network namespaces,
#      sluice-dp between them on af_packet ports (needs root)
#   6. sluicectl against the real sluiced (and an attached sluice-dp), its
#      status --watch, note and sluice-replay --plot (tests/observe_cli.py); its
#      Prometheus metrics scraped by a real Prometheus and the Grafana
#      dashboard's queries (tests/metrics.py); the control socket under abuse
#      (idle connections, a storm, slow and hostile clients, a second user, a
#      stopped dataplane: tests/abuse.py)
#   7. sluiced + attached sluice-dp + sluicectl over real TCP in namespaces
#      (runbook, sticky vs --reset, bad input changes nothing); the dataplane
#      observed: DPDK telemetry, sluicectl flows / flow, dpdk-dumpcap
#   8. 10 000 changes under load with no loss (ack latency printed),
#      kill -9 of sluiced mid-rollout and of sluice-dp
#   9. sluice-replay over the fixtures: reports recomputed from the output
#      pcaps, a scheduled rehearsal, determinism, every bad input
#  10. the integration, cli, replay and observe tests again on the ASan+UBSan
#      build
# and prints one final "N passed, N failed" line.  Exit 0 only if all pass.
set -u
cd "$(dirname "$0")/.."
root=$(pwd)

./tools/install-deps.sh || { echo "test: installing packages failed"; exit 1; }
./tools/build.sh || { echo "test: release build failed"; echo "0 passed, 1 failed"; exit 1; }
./tools/build.sh asan || { echo "test: ASan build failed"; echo "0 passed, 1 failed"; exit 1; }
./tools/hugepages.sh 512

logdir=$(mktemp -d /tmp/sluice-test.XXXXXX)
total_pass=0
total_fail=0

# stage NAME COMMAND...: runs it, shows its output, adds its "N passed, N
# failed" line to the totals (a stage that dies without one counts as 1 failed).
stage() {
	name=$1
	shift
	echo
	echo "=== $name ==="
	("$@"; echo "stage-exit: $?") 2>&1 | tee "$logdir/$name.log"
	rc=$(sed -n 's/^stage-exit: //p' "$logdir/$name.log" | tail -n 1)
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$logdir/$name.log" | tail -n 1)
	if [ -z "$line" ]; then
		echo "test: stage '$name' ended without a summary line: counted as 1 failed"
		total_fail=$((total_fail + 1))
		return
	fi
	p=$(echo "$line" | cut -d' ' -f1)
	f=$(echo "$line" | cut -d' ' -f3)
	if [ "$rc" != 0 ] && [ "$f" -eq 0 ]; then
		# e.g. a sanitizer report after the last test
		echo "test: stage '$name' exited with status $rc: counted as 1 failed"
		f=1
	fi
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
}

# Under AddressSanitizer + UBSan any report aborts the program.
asan() {
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "$@"
}

stage unit "$root/build/tests/sluice-unit"
stage unit-asan asan "$root/build-asan/tests/sluice-unit"
stage filter "$root/build/tests/sluice-filter-test"
# builds build-fuzz/ itself (tools/build.sh fuzz); skipped without clang
stage fuzz sh "$root/tools/fuzz.sh" "${FUZZ_CI_SECONDS:-15}"
stage fixtures sh "$root/tests/test-fixtures.sh" "$root/build/tools/sluice-gen-fixtures"
stage integration python3 "$root/tests/integration.py" --build "$root/build"

# Without hugepages sluice-dp must fall back to --no-huge (and say so):
# release them for a few integration tests, then reserve them again.
without_hugepages() {
	saved=$(cat /proc/sys/vm/nr_hugepages)
	echo 0 > /proc/sys/vm/nr_hugepages || return 1
	python3 "$root/tests/integration.py" --build "$root/build" no_hugepages_fallback \
		conservation malformed_dropped determinism duration_stops sigterm_stops
	rc=$?
	echo "$saved" > /proc/sys/vm/nr_hugepages
	return $rc
}
if [ "$(id -u)" -eq 0 ]; then
	stage no-hugepages without_hugepages
fi
stage live python3 "$root/tests/live_netns.py" --build "$root/build"
stage cli python3 "$root/tests/cli.py" --build "$root/build"
stage observe python3 "$root/tests/observe_cli.py" --build "$root/build"
stage guards python3 "$root/tests/guards.py" --build "$root/build"
stage metrics python3 "$root/tests/metrics.py" --build "$root/build"
stage abuse python3 "$root/tests/abuse.py" --build "$root/build"
stage control-e2e python3 "$root/tests/control_e2e.py" --build "$root/build"
stage observe python3 "$root/tests/observe_dp.py" --build "$root/build"
stage guards-live python3 "$root/tests/guards_live.py" --build "$root/build"
stage churn python3 "$root/tests/churn.py" --build "$root/build"
stage replay python3 "$root/tests/replay.py" --build "$root/build"

# sluice-dp, sluiced and sluicectl, and sluice-replay (the worker, shadow and
# daemon code together) again on the sanitized build: a report aborts the
# program, and the test that ran it fails.
stage integration-asan asan python3 "$root/tests/integration.py" --build "$root/build-asan"
stage cli-asan asan python3 "$root/tests/cli.py" --build "$root/build-asan"
stage observe-asan asan python3 "$root/tests/observe_cli.py" --build "$root/build-asan"
stage guards-asan asan python3 "$root/tests/guards.py" --build "$root/build-asan"
stage replay-asan asan python3 "$root/tests/replay.py" --build "$root/build-asan"
stage observe-asan asan python3 "$root/tests/observe_dp.py" --build "$root/build-asan"

echo
echo "=== summary ==="
echo "logs: $logdir"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ] && [ "$total_pass" -gt 0 ]
