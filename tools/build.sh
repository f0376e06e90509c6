#!/bin/sh
# Configure (once) and build sluice.  Usage: tools/build.sh [asan|fuzz]
#   build/       release build (the binaries the README names)
#   build-asan/  the same with AddressSanitizer + UndefinedBehaviorSanitizer
#   build-fuzz/  clang, ASan + UBSan, libFuzzer coverage: the fuzz harnesses
#                of tests/fuzz only (tools/fuzz.sh runs them); exits 3 when
#                clang is missing or cannot link -fsanitize=fuzzer
set -eu
cd "$(dirname "$0")/.."

case "${1:-}" in
asan)
	dir=build-asan
	opts="-Dbuildtype=debug -Db_sanitize=address,undefined -Db_lundef=false"
	;;
fuzz)
	dir=build-fuzz
	if ! command -v clang >/dev/null 2>&1; then
		echo "build: clang not found (tools/install-deps.sh installs it)" >&2
		exit 3
	fi
	probe=$(mktemp -d /tmp/sluice-fuzz-probe.XXXXXX)
	printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
		'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
		'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
		>"$probe/p.c"
	if ! clang -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" \
		>"$probe/log" 2>&1; then
		cat "$probe/log" >&2
		rm -rf "$probe"
		echo "build: clang cannot link -fsanitize=fuzzer,address,undefined" \
			"(libclang-rt-14-dev: tools/install-deps.sh)" >&2
		exit 3
	fi
	rm -rf "$probe"
	# the libraries get the coverage instrumentation (fuzzer-no-link), the
	# harnesses link libFuzzer (tests/fuzz/meson.build); the tree builds
	# with clang -Wpedantic -Werror as with gcc
	opts="-Dfuzz=true -Dbuildtype=debugoptimized -Db_sanitize=address,undefined
	      -Db_lundef=false"
	cargs="-fsanitize=fuzzer-no-link"
	;;
*)
	dir=build
	opts=""
	;;
esac
if [ ! -f "$dir/build.ninja" ]; then
	if [ "$dir" = build-fuzz ]; then
		# shellcheck disable=SC2086
		CC=clang meson setup "$dir" $opts -Dc_args="$(echo $cargs)"
	else
		# shellcheck disable=SC2086
		meson setup "$dir" $opts
	fi
fi
if [ "$dir" = build-fuzz ]; then
	# only the harnesses (and what they link): the rest of the tree is
	# built and tested by the gcc builds (build.ninja first: meson
	# regenerates it when a meson.build changed, e.g. a new harness)
	ninja -C "$dir" build.ninja
	targets=$(ninja -C "$dir" -t targets all | sed -n 's/^\(tests\/fuzz\/fuzz_[a-z0-9_]*\): .*/\1/p')
	# shellcheck disable=SC2086
	ninja -C "$dir" $targets
else
	ninja -C "$dir"
fi
