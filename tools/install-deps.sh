#!/bin/sh
# Install every Debian 12 package sluice needs to build, test and run the
# demo.  Idempotent: packages already present are left as they are.
set -eu

# libclang-rt-14-dev: libFuzzer and the sanitizer runtimes for clang
# (tools/build.sh fuzz); clang only recommends it; gnuplot-nox: sluice-replay
# --plot (its svg and pngcairo terminals); prometheus (and its promtool):
# tests/metrics.py scrapes sluiced with the real server
PKGS="build-essential pkg-config meson ninja-build clang llvm libclang-rt-14-dev
      dpdk dpdk-dev libdpdk-dev libbpf-dev libelf-dev zlib1g-dev
      libpcap-dev libiniparser-dev libcunit1-dev libjansson-dev libmicrohttpd-dev
      python3 iproute2 ethtool tcpdump jq gnuplot-nox prometheus tshark"

if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
else
	SUDO=
fi

missing=
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done

if [ -n "$missing" ]; then
	echo "install-deps: installing:$missing"
	$SUDO apt-get update -qq
	# tshark (reads dpdk-dumpcap's captures in tests/observe_dp.py) asks
	# whether non-root users may capture: no
	echo "wireshark-common wireshark-common/install-setuid boolean false" |
		$SUDO debconf-set-selections
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
else
	echo "install-deps: all packages present"
fi
