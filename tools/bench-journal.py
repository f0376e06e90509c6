#!/usr/bin/env python3
"""History and restart on a long journal: prints figures, asserts nothing.

  python3 tools/bench-journal.py [--build DIR] [--lines N]

Starts the real sluiced (no dataplane, tests/cli.py's configuration), makes
one change of each service, then grows the journal to N lines (default
50 000) with copies of those changes (generations in order, the pinned table
brought to the last generation so that the restart takes the journal's
states), and measures, in one run:
  * `history --limit 20`, `history web --limit 20` and `history dns` (dns
    changed only at the start: the whole journal is looked through);
  * a `status` sent while a `history` of the whole journal is answered;
  * the restart (journal replay) until sluiced answers;
  * the restart again once sluiced has rotated the journal ([control]
    journal_rotate, default 10 000 entries: a checkpoint starts the new
    file), and `history --limit 10000` read back across the files.
"""

import argparse
import json
import os
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests"))
import cli  # noqa: E402


def timed(fn):
    t0 = time.monotonic()
    r = fn()
    return r, time.monotonic() - t0


def raw(sock, obj):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(sock)
    s.sendall((json.dumps(obj) + "\n").encode())
    buf = b""
    while not buf.endswith(b"\n"):
        c = s.recv(1 << 20)
        if not c:
            break
        buf += c
    s.close()
    return json.loads(buf)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(cli.ROOT, "build"))
    ap.add_argument("--lines", type=int, default=50000)
    a = ap.parse_args()
    cli.BUILD = os.path.abspath(a.build)
    d = tempfile.mkdtemp(prefix="sluice-bench-journal-")
    dm = cli.Daemon(d, name="bench")
    try:
        dm.cli(["canary", "dns", "5%"], 0)
        dm.cli(["canary", "web", "5%"], 0)
        dm.cli(["canary", "web", "10%"], 0)
        with open(dm.journal) as f:
            lines = f.read().splitlines()
        a5, a10 = json.loads(lines[-2]), json.loads(lines[-1])
        gen = a10["gen"]
        dm.restart()  # nothing to do with the file while it runs
        out = []
        for i in range(a.lines - len(lines)):
            e = dict(a5 if i % 2 else a10)
            gen += 1
            e["gen"] = gen
            out.append(json.dumps(e, separators=(",", ":")))
        bad = cli.terminate(dm.p, "sluiced", 10, dm.logtext)
        dm.p = None
        with open(dm.journal, "a") as f:
            f.write("\n".join(out) + "\n")
        size = os.path.getsize(dm.journal)
        # the restart replays it all (the pinned table is behind: its states)
        _, restart = timed(dm.start)
        print(f"journal: {a.lines} lines, {size / 1e6:.1f} MB")
        print(f"restart until sluiced answers: {restart:.2f} s")
        for args in (["history", "--limit", "20"], ["history", "web", "--limit", "20"],
                     ["history", "dns"]):
            _, t = timed(lambda: dm.cli(args, 0))
            print(f"sluicectl {' '.join(args)}: {t * 1000:.0f} ms")
        # status while the whole history is being answered
        res = {}
        th = threading.Thread(target=lambda: res.update(
            h=timed(lambda: raw(dm.sock, {"cmd": "history", "limit": 10000}))))
        th.start()
        time.sleep(0.01)
        _, ts = timed(lambda: raw(dm.sock, {"cmd": "status"}))
        th.join()
        print(f"history of 10000 entries: {res['h'][1] * 1000:.0f} ms; a status sent meanwhile "
              f"answered in {ts * 1000:.0f} ms")
        # a second's look rotates the long file; the restart after it
        # replays the checkpoint and what came after
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not os.path.exists(dm.journal + ".1"):
            time.sleep(0.1)
        if os.path.exists(dm.journal + ".1"):
            dm.cli(["canary", "web", "5%"], 0)
            bad = cli.terminate(dm.p, "sluiced", 10, dm.logtext)
            dm.p = None
            _, restart = timed(dm.start)
            with open(dm.journal) as f:
                n = sum(1 for _ in f)
            print(f"restart after the rotation ({n} lines in {dm.journal}): "
                  f"{restart:.2f} s")
            r, t = timed(lambda: raw(dm.sock, {"cmd": "history", "limit": 10000}))
            print(f"history of {len(r['result']['entries'])} entries across the rotated "
                  f"files: {t * 1000:.0f} ms")
        else:
            print("note: sluiced did not rotate the journal within 10 s")
        if bad:
            print(f"note: {bad}")
    finally:
        for b in dm.stop():
            print(f"note: {b}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
