#!/bin/sh
# Configure (once) and build sluice.  Usage: tools/build.sh [asan]
#   build/       release build (the binaries the README names)
#   build-asan/  the same with AddressSanitizer + UndefinedBehaviorSanitizer
set -eu
cd "$(dirname "$0")/.."

if [ "${1:-}" = asan ]; then
	dir=build-asan
	opts="-Dbuildtype=debug -Db_sanitize=address,undefined -Db_lundef=false"
else
	dir=build
	opts=""
fi
if [ ! -f "$dir/build.ninja" ]; then
	# shellcheck disable=SC2086
	meson setup "$dir" $opts
fi
ninja -C "$dir"
