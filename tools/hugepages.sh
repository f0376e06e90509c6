#!/bin/sh
# Reserve 2 MB hugepages and mount hugetlbfs when possible (DPDK prefers
# them).  Never fails: without them sluice-dp falls back to --no-huge and
# says so.  Usage: tools/hugepages.sh [PAGES]   (default 512 = 1 GiB)
want=${1:-512}

if [ "$(id -u)" -ne 0 ]; then
	echo "hugepages: not root, cannot reserve hugepages; DPDK will run with --no-huge"
	exit 0
fi
cur=$(cat /proc/sys/vm/nr_hugepages 2>/dev/null || echo 0)
if [ "$cur" -lt "$want" ]; then
	echo "$want" > /proc/sys/vm/nr_hugepages 2>/dev/null || true
fi
if ! grep -q " hugetlbfs " /proc/mounts; then
	mkdir -p /dev/hugepages
	mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null || true
fi
free=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
if [ "${free:-0}" -gt 0 ] && grep -q " hugetlbfs " /proc/mounts; then
	echo "hugepages: ${free} free 2 MB pages on $(awk '$3 == "hugetlbfs" {print $2; exit}' /proc/mounts)"
else
	echo "hugepages: none available (reserved ${free:-0}); DPDK will run with --no-huge"
fi
