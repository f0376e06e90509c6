#!/bin/sh
# The sluice demo, no NIC needed: installs the Debian packages, builds, and
# runs sluice-dp on conf/demo.ini over the bundled capture
# pcap-fixtures/demo.pcap with a 5 % canary (green) next to the champion
# (blue); the servers' answers are replayed from pcap-fixtures/return.pcap.
# Then checks the output pcaps with an independent reader: no flow may have
# packets on both groups.  Last, rehearses a runbook (conf/demo.sched:
# canary, rollout, abort --reset) on the same capture with sluice-replay and
# prints its report, and plots it (build/demo/replay/shares.svg).  Outputs
# land in build/demo/.
set -eu
cd "$(dirname "$0")/.."

./tools/install-deps.sh
./tools/build.sh
./tools/hugepages.sh 256
mkdir -p build/demo
rm -f build/demo/*.pcap build/demo/stats.json

echo
echo "== sluice-dp -c conf/demo.ini: 5 % canary of web, web6 and dns =="
build/dataplane/sluice-dp -c conf/demo.ini --exit-when-idle 500 --stats build/demo/stats.json

echo
echo "== flows split across groups (must be 0), from the output pcaps =="
python3 tools/pcapcheck.py split \
	--vip tcp/192.0.2.10/443 --vip tcp/2001:db8::10/443 --vip udp/192.0.2.53/53 \
	build/demo/blue.pcap build/demo/green.pcap

echo
echo "== sluice-replay: the runbook conf/demo.sched rehearsed offline on the same capture =="
build/tools/sluice-replay -c conf/demo.ini -r pcap-fixtures/demo.pcap -o build/demo/replay \
	--schedule conf/demo.sched --plot build/demo/replay/shares.svg

echo
echo "outputs: build/demo/client.pcap (return traffic), build/demo/blue.pcap," \
	"build/demo/green.pcap, build/demo/stats.json; the rehearsal's in build/demo/replay/"
echo "plot of the rehearsal (configured vs measured share, actions marked):" \
	"$(pwd)/build/demo/replay/shares.svg"
echo "look inside: tcpdump -nr build/demo/green.pcap -e | head"
