#!/usr/bin/env python3
"""sluicectl tests: the CLI's own behaviour.

Three kinds of tests, all through the real build/control/sluicectl binary:

* local: usage errors and invalid input (exit 2, the message names the
  argument), an unreachable daemon (exit 3, the socket path and the errno
  text); a listening socket checks that nothing was sent;
* peer: a scripted peer on a temporary socket records the request line the
  CLI sends and answers with a reply written from control/PROTOCOL.md, to
  check the request (fields, exact step units) and the human output and exit
  status of each reply kind (acked, no dataplane, timeout -> 4, unchanged,
  error -> 1);
* daemon: the real build/control/sluiced with a temporary configuration
  (net_null ports, instance "test-cli-PID", temporary socket and journal,
  --bpffs /sys/fs/bpf), unpinned at the end.

Prints PASS/FAIL per test and a final "N passed, N failed" line (exit 1 if
any failed).

Usage: tests/cli.py [--build DIR] [--no-daemon] [--keep] [TEST...]
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

from harness import Fail, check
import harness

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build")
BPFFS = "/sys/fs/bpf"

# The grammar sluicectl --help must show, line for line.
GRAMMAR = """\
sluicectl [--socket PATH | --instance NAME] [--json] [--timeout MS] COMMAND ...
  status [SERVICE]
  switch SERVICE GROUP [--sticky|--reset]
  canary SERVICE SHARE [--sticky|--reset]
  weights SERVICE GROUP=SHARE [GROUP=SHARE] [--sticky|--reset]
  rollout start SERVICE (--steps 1%,5%,20%,50%,100% --dwell 60s | --plan FILE)
  rollout status [SERVICE]
  rollout pause|resume [SERVICE]
  rollout promote [SERVICE] [--full]
  rollout abort [SERVICE] [--reset]
  pause|resume|promote|abort ...   (same as the rollout forms)
  undo SERVICE
  history [SERVICE] [--limit N]
  stats
  flows SERVICE [--group GROUP] [--limit N] [--telemetry PATH]
  flow SERVICE tcp|udp SRC:PORT DST:PORT [--telemetry PATH]
  reload
  version
"""


def cli_path():
    return os.path.join(BUILD, "control", "sluicectl")


def run(args, env=None, timeout=30):
    e = dict(os.environ)
    e.pop("SLUICE_INSTANCE", None)
    if env:
        e.update(env)
    p = subprocess.run([cli_path()] + args, capture_output=True, text=True, env=e,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def expect(args, rc, err_has=(), out_has=(), env=None):
    """Runs sluicectl, checks the exit status and substrings; returns (out, err)."""
    got, out, err = run(args, env)
    check(got == rc, f"sluicectl {' '.join(args)}: exit {got}, expected {rc}\n"
          f"stdout: {out!r}\nstderr: {err!r}")
    for s in err_has:
        check(s in err, f"sluicectl {' '.join(args)}: stderr lacks {s!r}: {err!r}")
    for s in out_has:
        check(s in out, f"sluicectl {' '.join(args)}: stdout lacks {s!r}: {out!r}")
    return out, err


def usage_error(args, *err_has):
    """Exit 2, one 'sluicectl: CODE: ...' line naming what is wrong, nothing on stdout."""
    out, err = expect(args, 2, err_has=("sluicectl: ",) + err_has)
    check(out == "", f"sluicectl {' '.join(args)}: stdout not empty: {out!r}")
    return err


class Listener:
    """A Unix socket that listens and counts connections (nothing is answered)."""

    def __init__(self, d):
        self.path = os.path.join(d, "listen.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(16)
        self.sock.setblocking(False)

    def connections(self):
        n = 0
        while True:
            try:
                c, _ = self.sock.accept()
            except BlockingIOError:
                return n
            c.close()
            n += 1

    def close(self):
        self.sock.close()


# ---------------------------------------------------------------- local tests

def test_help(d):
    out, err = expect(["--help"], 0)
    lines = out.splitlines()
    for g in GRAMMAR.splitlines():
        if g.startswith("sluicectl "):
            check(lines and lines[0] == "usage: " + g, f"first line {lines[:1]!r}")
        else:
            check(g in lines, f"--help lacks the line {g!r}")
    for code in ("0  success", "1  the daemon refused", "2  usage error",
                 "3  the daemon cannot be reached", "4  the change was published"):
        check(code in out, f"--help does not document exit status {code!r}")
    check(err == "", f"--help wrote to stderr: {err!r}")
    out2, _ = expect(["canary", "--help"], 0)
    check(out2 == out, "COMMAND --help differs from --help")


def test_no_command(d):
    _, err = expect([], 2, err_has=("sluicectl: usage: missing COMMAND",))
    check("usage: sluicectl" in err, "no usage text on stderr")


def test_unknown_command(d):
    usage_error(["frobnicate"], "unknown command 'frobnicate'")
    usage_error(["rollout"], "'rollout' needs a verb")
    usage_error(["rollout", "sideways"], "unknown rollout verb 'sideways'")
    # "start" and "status" of a rollout exist only with the rollout word
    usage_error(["start", "web"], "unknown command 'start'")


def test_missing_service(d):
    usage_error(["canary"], "missing SERVICE for 'canary'", "canary SERVICE SHARE")
    usage_error(["switch"], "missing SERVICE for 'switch'")
    usage_error(["switch", "web"], "missing GROUP for 'switch'")
    usage_error(["canary", "web"], "missing SHARE for 'canary'")
    usage_error(["weights", "web"], "missing GROUP=SHARE for 'weights'")
    usage_error(["undo"], "missing SERVICE for 'undo'")
    usage_error(["rollout", "start"], "missing SERVICE for 'rollout start'")
    usage_error(["canary", "web", "5%", "extra"], "unexpected argument 'extra'")
    usage_error(["stats", "web"], "unexpected argument 'web' for 'stats'")
    usage_error(["canary", "Web!", "5%"], "SERVICE 'Web!' is not a valid name")
    usage_error(["switch", "web", "GREEN"], "GROUP 'GREEN' is not a valid name")


def test_bad_share(d):
    err = usage_error(["canary", "web", "120%"], "bad_share", "share: '120%' is above 100%")
    check("0%..100%" in err, f"no expected range: {err!r}")
    usage_error(["canary", "web", "5"], "share: '5' has no unit")
    usage_error(["canary", "web", "0.001%"], "more than two decimals")
    usage_error(["canary", "web", "-5%"], "share: '-5%' is not a share")
    usage_error(["canary", "web", "10001bp"], "above 10000bp")
    usage_error(["weights", "web", "green"], "weights: 'green' is not GROUP=SHARE")
    usage_error(["weights", "web", "green=abc"], "weights: green=abc: 'abc' is not a share")
    usage_error(["weights", "web", "blue=80%", "green=30%"],
                "blue=80% + green=30% = 110.00 %", "add up to 100%")
    usage_error(["weights", "web", "green=20%", "green=80%"], "group 'green' given twice")


def test_bad_steps(d):
    err = usage_error(["rollout", "start", "web", "--steps", "1%,abc,20%", "--dwell", "60s"],
                      "bad_plan", "--steps item 2 'abc': ")
    err = usage_error(["rollout", "start", "web", "--steps", "1%,50%,20%", "--dwell", "60s"],
                      "--steps item 3 '20%': ")
    check("decrease" in err, f"decreasing steps not explained: {err!r}")
    usage_error(["rollout", "start", "web", "--steps", "1%,120%", "--dwell", "60s"],
                "--steps item 2 '120%': ", "above 100%")
    usage_error(["rollout", "start", "web", "--steps", "1%,5%", "--dwell", "soon"],
                "--dwell: 'soon' is not a duration")
    usage_error(["rollout", "start", "web", "--steps", "1%,5%"], "--steps needs --dwell")
    usage_error(["rollout", "start", "web", "--dwell", "60s"], "--dwell needs --steps")
    usage_error(["rollout", "start", "web"], "needs --steps LIST --dwell TIME or --plan FILE")
    usage_error(["rollout", "start", "web", "--steps"], "--steps needs a value")
    usage_error(["rollout", "start", "web", "--steps", "1%", "--steps", "2%", "--dwell", "1s"],
                "--steps given twice")


def test_bad_plan(d):
    missing = os.path.join(d, "nope.ini")
    usage_error(["rollout", "start", "web", "--plan", missing],
                "bad_plan", f"{missing}: cannot read: No such file or directory")
    plan = os.path.join(d, "plan.ini")
    with open(plan, "w") as f:
        f.write("[step 1]\nshare = 5%\ndwell = 60s\n\n[step 2]\nshare = 120%\ndwell = 60s\n")
    err = usage_error(["rollout", "start", "web", "--plan", plan], "bad_plan", plan)
    check("step 2" in err and "share" in err and "120%" in err,
          f"the plan error does not name file, section and key: {err!r}")
    with open(plan, "w") as f:
        f.write("[step 1]\nshare = 5%\n")
    err = usage_error(["rollout", "start", "web", "--plan", plan], plan, "step 1")
    check("dwell" in err, f"a missing dwell is not named: {err!r}")
    usage_error(["rollout", "start", "web", "--plan", plan, "--steps", "1%", "--dwell", "1s"],
                "--plan excludes --steps")


def test_sticky_reset(d):
    for args in (["canary", "web", "5%"], ["switch", "web", "green"],
                 ["weights", "web", "green=5%"], ["abort", "web"]):
        usage_error(args + ["--sticky", "--reset"], "--sticky and --reset exclude each other")


def test_unknown_option(d):
    usage_error(["canary", "web", "5%", "--bogus"], "unknown option '--bogus' for 'canary'",
                "it takes --sticky, --reset")
    usage_error(["canary", "web", "5%", "--full"], "no option '--full' for 'canary'")
    usage_error(["undo", "web", "--reset"], "no option '--reset' for 'undo'", "it takes no options")
    usage_error(["--bogus", "status"], "unknown option '--bogus'")
    usage_error(["status", "--json"], "option '--json' must come before the command")
    usage_error(["--socket", "/tmp/x.sock", "--instance", "x", "status"],
                "--socket and --instance exclude each other")
    usage_error(["--instance", "Bad Name", "status"], "--instance: 'Bad Name' is not a valid")
    usage_error(["--timeout", "0", "status"], "--timeout: '0' is not a number of milliseconds")
    usage_error(["--timeout", "x", "status"], "--timeout: 'x'")
    usage_error(["--socket", "/" + "x" * 200, "status"], "--socket: ", "not a usable socket path")
    usage_error(["history", "--limit", "0"],
                "--limit: '0': expected a whole number of entries 1..10000")
    usage_error(["history", "--limit", "ten"], "--limit: 'ten'")
    # the daemon's bound (bug 2: the CLI took up to 1 000 000)
    usage_error(["history", "--limit", "10001"],
                "--limit: '10001': expected a whole number of entries 1..10000")
    usage_error(["history", "--limit", "1000000"], "--limit: '1000000': expected")
    _, err = expect(["status"], 2, env={"SLUICE_INSTANCE": "../etc"})
    check("SLUICE_INSTANCE: '../etc' is not a valid instance name" in err, f"stderr {err!r}")


def test_nothing_sent_on_local_error(d):
    lst = Listener(d)
    try:
        for args in (["canary", "web", "120%"], ["weights", "web", "green=101%"],
                     ["rollout", "start", "web", "--steps", "5%,1%", "--dwell", "1s"],
                     ["canary", "web", "5%", "--bogus"]):
            got, out, err = run(["--socket", lst.path] + args)
            check(got == 2, f"{args}: exit {got}: {err!r}")
            check(lst.connections() == 0, f"{args}: the CLI connected despite a local error")
        # the check itself: a valid command does connect (then times out: exit 3)
        got, out, err = run(["--socket", lst.path, "--timeout", "300", "canary", "web", "5%"])
        check(got == 3, f"exit {got}: {err!r}")
        check(lst.connections() == 1, "a valid command did not connect")
        check(f"{lst.path}: no reply within 300 ms" in err, f"stderr {err!r}")
    finally:
        lst.close()


def test_unreachable(d):
    path = os.path.join(d, "absent.sock")
    expect(["--socket", path, "status"], 3,
           err_has=(f"sluicectl: unreachable: cannot connect to {path}: "
                    "No such file or directory",))
    # a socket file nobody listens on
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead = os.path.join(d, "dead.sock")
    s.bind(dead)
    s.close()
    expect(["--socket", dead, "--json", "canary", "web", "5%"], 3,
           err_has=(f"cannot connect to {dead}: Connection refused",))
    name = f"test-cli-{os.getpid()}-absent"
    expect(["--instance", name, "version"], 3,
           err_has=(f"cannot connect to /run/sluice/{name}.sock: ",))
    expect(["version"], 3, env={"SLUICE_INSTANCE": name},
           err_has=(f"cannot connect to /run/sluice/{name}.sock: ",))
    # a daemon that closes without answering
    lst = Listener(d)
    try:
        def closer():
            lst.sock.setblocking(True)
            c, _ = lst.sock.accept()
            c.recv(65536)
            c.close()
        t = threading.Thread(target=closer)
        t.start()
        expect(["--socket", lst.path, "stats"], 3,
               err_has=(f"{lst.path}: the daemon closed the connection without a reply",))
        t.join(5)
    finally:
        lst.close()


# ----------------------------------------------------------------- peer tests

class Peer:
    """Answers one request with reply(request) and records the request."""

    def __init__(self, d, reply):
        self.path = os.path.join(d, f"peer-{time.monotonic_ns()}.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(1)
        self.reply = reply
        self.request = None
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        c, _ = self.sock.accept()
        buf = b""
        while b"\n" not in buf:
            chunk = c.recv(65536)
            if not chunk:
                break
            buf += chunk
        self.request = json.loads(buf.split(b"\n")[0])
        rep = self.reply(self.request)
        if isinstance(rep, dict):
            rep = json.dumps(rep) + "\n"
        c.sendall(rep.encode())
        c.close()

    def done(self):
        self.thread.join(5)
        self.sock.close()


def with_peer(d, args, reply, rc, out_has=(), err_has=(), env=None):
    p = Peer(d, reply)
    try:
        out, err = expect(["--socket", p.path] + args, rc, err_has, out_has, env)
    finally:
        p.done()
    check(p.request is not None, "no request received")
    return p.request, out, err


def state(name="web", champ="blue", chall="green", bp=0, strategy="steady", mode="sticky"):
    return {"name": name, "champion": champ, "challenger": chall, "share_bp": bp,
            "strategy": strategy, "mode": mode}


def ok(req, result):
    return {"id": req.get("id"), "ok": True, "result": result}


def change(req, before, after, acks, gen=12, changed=True):
    return ok(req, {"changed": changed, "gen": gen, "service": after["name"],
                    "before": before, "after": after, "acks": acks})


def test_peer_canary_acked(d):
    reply = (lambda r: change(r, state(), state(bp=500, strategy="canary"),
                              {"status": "acked", "workers": 1, "waited_us": 37}))
    req, out, err = with_peer(d, ["canary", "web", "5%"], reply, 0)
    check(req["cmd"] == "canary" and req["service"] == "web" and req["share"] == "5%",
          f"request {req}")
    check("mode" not in req, f"mode sent without --sticky/--reset: {req}")
    check(out == "web: canary 5.00 % -> green, generation 12, "
          "acknowledged by 1 worker in 37 us\n", f"stdout {out!r}")
    check(err == "", f"stderr {err!r}")


def test_peer_reset_and_no_dataplane(d):
    reply = (lambda r: change(r, state(bp=500, strategy="canary"),
                              state(bp=0, strategy="canary", mode="reset"),
                              {"status": "no_dataplane"}, gen=13))
    req, out, _ = with_peer(d, ["abort", "web", "--reset"], reply, 0)
    check(req == {"id": req.get("id"), "cmd": "rollout_abort", "service": "web",
                  "mode": "reset"}, f"request {req}")
    check(out == "web: canary 0.00 % -> green, established flows decided again (--reset), "
          "generation 13, published, no dataplane attached\n", f"stdout {out!r}")


def test_peer_ack_timeout(d):
    reply = (lambda r: change(r, state(), state(champ="green", chall="blue",
                                                strategy="blue-green"),
                              {"status": "timeout", "workers": 2, "missing": [0, 1],
                               "waited_us": 1000000}))
    req, out, _ = with_peer(d, ["switch", "web", "green", "--sticky"], reply, 4)
    check(req["cmd"] == "switch" and req["group"] == "green" and req["mode"] == "sticky",
          f"request {req}")
    check("web: blue-green, all new flows -> green" in out and
          "NOT acknowledged by workers 0, 1 within 1000 ms" in out, f"stdout {out!r}")
    # --json: the reply as is, and the same exit status
    req, out, _ = with_peer(d, ["--json", "switch", "web", "green"], reply, 4)
    check(json.loads(out)["result"]["acks"]["status"] == "timeout", f"stdout {out!r}")


def test_peer_unpublished(d):
    reply = (lambda r: change(r, state(), state(bp=100, strategy="canary"),
                              {"status": "unpublished"}))
    _, out, _ = with_peer(d, ["canary", "web", "1%"], reply, 4)
    check(out == "web: canary 1.00 % -> green, generation 12, journaled but NOT published "
          "yet (the maps refused the table; sluiced retries every second)\n", f"{out!r}")
    # --json: the reply as is, and the same exit status
    _, out, _ = with_peer(d, ["--json", "canary", "web", "1%"], reply, 4)
    check(json.loads(out)["result"]["acks"]["status"] == "unpublished", f"stdout {out!r}")


def test_peer_unchanged(d):
    reply = (lambda r: change(r, state(bp=500, strategy="canary"),
                              state(bp=500, strategy="canary"), {}, changed=False))
    _, out, _ = with_peer(d, ["canary", "web", "500bp"], reply, 0)
    check(out == "web: unchanged (already canary 5.00 % -> green), generation 12\n",
          f"stdout {out!r}")


def test_peer_error_reply(d):
    def reply(r):
        return {"id": r.get("id"), "ok": False,
                "error": {"code": "bad_state", "message": "web: no rollout to resume"}}
    req, out, err = with_peer(d, ["resume"], reply, 1,
                              err_has=("sluicectl: bad_state: web: no rollout to resume\n",))
    check(req == {"id": req.get("id"), "cmd": "rollout_resume"}, f"request {req}")
    check(out == "", f"stdout {out!r}")
    # --json prints the error reply too, exit 1 all the same
    _, out, _ = with_peer(d, ["--json", "resume"], reply, 1)
    check(json.loads(out)["ok"] is False, f"stdout {out!r}")


def test_peer_bad_reply(d):
    _, _, err = with_peer(d, ["stats"], lambda r: "this is not json\n", 1,
                          err_has=("sluicectl: internal: ", "not a protocol object"))


def test_peer_json_as_is(d):
    line = '{"id":1,"ok":true,"result":{"version":"9.9.9","layout":2,"instance":"x"}}'
    _, out, _ = with_peer(d, ["--json", "version"], lambda r: line + "\n", 0)
    check(out == line + "\n", f"stdout {out!r}")
    _, out, _ = with_peer(d, ["version"], lambda r: line + "\n", 0)
    check("sluiced 9.9.9, layout 2, instance x" in out, f"stdout {out!r}")


def test_peer_steps_sent_exactly(d):
    def reply(r):
        return ok(r, {"changed": True, "gen": 2, "service": "web", "before": state(),
                      "after": state(bp=100, strategy="rollout"),
                      "acks": {"status": "no_dataplane"}})
    req, out, _ = with_peer(d, ["rollout", "start", "web", "--steps", "0.5%,5%,100%",
                                "--dwell", "90s"], reply, 0)
    check(req["cmd"] == "rollout_start" and req["service"] == "web", f"request {req}")
    check(req["steps"] == [{"share": "50bp", "dwell": "90000ms"},
                           {"share": "500bp", "dwell": "90000ms"},
                           {"share": "10000bp", "dwell": "90000ms"}], f"steps {req['steps']}")
    plan = os.path.join(d, "plan.ini")
    with open(plan, "w") as f:
        f.write("[step 1]\nshare = 1%\ndwell = 2m\n\n[step 2]\nshare = 20%\npause = yes\n\n"
                "[step 3]\nshare = 100%\ndwell = 500ms\n")
    req, _, _ = with_peer(d, ["rollout", "start", "web", "--plan", plan], reply, 0)
    check(req["steps"] == [{"share": "100bp", "dwell": "120000ms"},
                           {"share": "2000bp", "pause": True},
                           {"share": "10000bp", "dwell": "500ms"}], f"steps {req['steps']}")


def test_peer_weights_and_history_request(d):
    def reply(r):
        return change(r, state(), state(bp=2000, strategy="canary"),
                      {"status": "acked", "workers": 2, "waited_us": 5})
    req, out, _ = with_peer(d, ["weights", "web", "blue=80%", "green=20%"], reply, 0)
    check(req["weights"] == {"blue": "80%", "green": "20%"}, f"request {req}")
    check("acknowledged by 2 workers in 5 us" in out, f"stdout {out!r}")

    def hist(r):
        return ok(r, {"entries": [
            {"time": "2026-11-27T18:40:01.123Z", "gen": 12, "cmd": "canary", "service": "web",
             "actor": {"uid": 0, "pid": 4321}, "before": state(),
             "after": state(bp=500, strategy="canary"), "reason": "canary web 5% (sticky)"}]})
    req, out, _ = with_peer(d, ["history", "web", "--limit", "5"], hist, 0)
    check(req["limit"] == 5 and req["service"] == "web", f"request {req}")
    rows = [x for x in out.splitlines() if "2026-11-27T18:40:01.123Z" in x]
    check(len(rows) == 1, f"stdout {out!r}")
    for s in ("12", "uid 0 pid 4321", "canary", "web",
              "steady, all to blue -> canary 5.00 % to green",
              "canary web 5% (sticky)"):
        check(s in rows[0], f"history line lacks {s!r}: {rows[0]!r}")


def test_peer_status(d):
    now_ms = int(time.time() * 1000)

    def reply(r):
        return ok(r, {
            "instance": "edge-1", "gen": 12,
            "dataplane": {"attached": True, "workers": 1, "pid": 4242},
            "services": [{
                "state": state(bp=500, strategy="rollout"), "gen": 12,
                "configured_share_bp": 500, "measured_share_bp": 498, "interval_s": 10,
                "new_flows": {"blue": 9502, "green": 498},
                "active_flows": {"blue": 12001, "green": 640},
                "rollout": {"state": "running", "step": 1,
                            "steps": [{"share_bp": 100, "dwell_ms": 60000},
                                      {"share_bp": 500, "dwell_ms": 60000},
                                      {"share_bp": 2000, "dwell_ms": 60000},
                                      {"share_bp": 5000, "dwell_ms": 60000},
                                      {"share_bp": 10000, "dwell_ms": 60000}],
                            "step_started_ms": now_ms - 19000, "dwell_left_ms": 60000,
                            "operator_pause": False},
                "sentences": {
                    "challenger_output": "Challenger output reaches users: yes, green "
                                         "serves 5.00 % of new flows.",
                    "live_share": "Live on the challenger: 5.00 % of new flows (measured "
                                  "4.98 % over the last 10 s).",
                    "rollback": "Rollback: abort sends 100 % of new flows to blue at once."}}]})
    _, out, _ = with_peer(d, ["status"], reply, 0)
    lines = out.splitlines()
    check("instance edge-1, generation 12" in lines, f"stdout {out!r}")
    row = [x.split() for x in lines if x.split()[:2] == ["green", "challenger"]]
    check(row == [["green", "challenger", "5.00", "%", "4.98", "%", "498", "640"]],
          f"challenger row {row}: {out!r}")
    row = [x.split() for x in lines if x.split()[:2] == ["blue", "champion"]]
    check(row == [["blue", "champion", "95.00", "%", "95.02", "%", "9502", "12001"]],
          f"champion row {row}")
    for s in ("  Challenger output reaches users: yes, green serves 5.00 % of new flows.",
              "  Live on the challenger: 5.00 % of new flows (measured 4.98 % over the last "
              "10 s).", "  Rollback: abort sends 100 % of new flows to blue at once.",
              "  strategy: rollout (sticky)", "  generation: 12",
              "dataplane: attached, 1 worker (pid 4242)"):
        check(s in lines, f"status lacks the line {s!r}: {out!r}")
    ro = [x for x in lines if x.startswith("  rollout: step 2/5 at 5.00 %, running, "
                                           "next step in ")]
    check(len(ro) == 1, f"no rollout line: {out!r}")
    secs = int(ro[0].split("next step in ")[1].split()[0])
    check(38 <= secs <= 41, f"next step in {secs} s, expected about 41")


# --------------------------------------------------------------- daemon tests

class Daemon:
    """The real sluiced on net_null ports, its own instance, socket and journal."""

    def __init__(self, d, mirror=False, extra="", name="cli", preexec=None, ports=None):
        # ports: devargs of client, blue or green instead of net_null
        dev = {"client": "net_null0", "blue": "net_null1,no-rx=1",
               "green": "net_null2,no-rx=1", **(ports or {})}
        self.d = d
        self.preexec = preexec  # run in sluiced's process before exec
        self.instance = f"test-{name}-{os.getpid()}"
        self.sock = os.path.join(d, "sluiced.sock")
        self.journal = os.path.join(d, "journal")
        self.conf = os.path.join(d, "sluice.ini")
        self.log = os.path.join(d, "sluiced.log")
        self.dp = None
        with open(self.conf, "w") as f:
            f.write(f"""[dataplane]
eal_args = --no-pci --in-memory -l 0 --log-level=*:warning
flow_capacity = 4096

[port client]
role = client
devargs = {dev['client']}

[port blue]
role = backend
devargs = {dev['blue']}

[port green]
role = backend
devargs = {dev['green']}

{"[port mirror]" + chr(10) + "role = shadow" + chr(10) + "devargs = net_null3,no-rx=1"
 if mirror else ""}

[group blue]
port = blue
mode = port

[group green]
port = green
mode = port

[service web]
proto = tcp
vip = 192.0.2.10
ports = 443
champion = blue
challenger = green
share = 0%

[service dns]
proto = udp
vip = 192.0.2.53
ports = 53
champion = blue
challenger = green
share = 0%

[control]
instance = {self.instance}
bpffs = {BPFFS}
socket = {self.sock}
journal = {self.journal}
bpf_object = {os.path.join(BUILD, "ebpf", "sluice_maps.bpf.o")}
ack_timeout = 1s
{extra}
""")
        self.logf = open(self.log, "w")
        self.start()

    def start(self):
        exe = os.path.join(BUILD, "control", "sluiced")
        check(os.access(exe, os.X_OK), f"{exe} is not built")
        self.p = subprocess.Popen([exe, "-c", self.conf, "--bpffs", BPFFS],
                                  stdout=self.logf, stderr=subprocess.STDOUT,
                                  preexec_fn=self.preexec)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.p.poll() is not None:
                rc, self.p = self.p.returncode, None  # reported here, not again by stop()
                raise Fail(f"sluiced exited {rc}: {self.logtext()}")
            if os.path.exists(self.sock) and run(["--socket", self.sock, "version"])[0] == 0:
                return
            time.sleep(0.05)
        text = self.logtext()
        raise Fail("\n".join([f"sluiced did not answer within 15 s: {text}"] + self.stop()))

    def logtext(self, path=None):
        with open(path or self.log) as f:
            return f.read()[-2000:]

    def cli(self, args, rc, out_has=(), err_has=()):
        return expect(["--socket", self.sock] + args, rc, err_has, out_has)

    def attach(self):
        """Starts sluice-dp on the instance; returns once sluiced sees it attached."""
        exe = os.path.join(BUILD, "dataplane", "sluice-dp")
        self.dplog = open(os.path.join(self.d, "sluice-dp.log"), "w")
        self.dp = subprocess.Popen([exe, "-c", self.conf, "--instance", self.instance,
                                    "--bpffs", BPFFS, "--duration", "120"],
                                   stdout=self.dplog, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            check(self.dp.poll() is None, f"sluice-dp exited {self.dp.returncode}")
            rc, out, _ = run(["--socket", self.sock, "--json", "status"])
            if rc == 0 and json.loads(out)["result"]["dataplane"]["attached"]:
                return
            time.sleep(0.1)
        raise Fail("sluice-dp did not attach within 30 s")

    def stop(self):
        """Stops sluice-dp and sluiced and unpins the instance; returns what
        went wrong with their exits (empty: both exited 0)."""
        bad = []
        if self.dp:
            bad.append(terminate(self.dp, "sluice-dp", 15,
                                 lambda: self.logtext(self.dplog.name)))
            self.dp = None
            self.dplog.close()
        if self.p:
            bad.append(terminate(self.p, "sluiced", 10, self.logtext))
            self.p = None
        self.logf.close()
        pin = os.path.join(BPFFS, "sluice", self.instance)
        if os.path.isdir(pin):
            shutil.rmtree(pin, ignore_errors=True)
        return [b for b in bad if b]

    def restart(self, unpin=False):
        """Stops sluiced (and its maps too with unpin: a reboot) and starts it
        again on the same journal."""
        bad = terminate(self.p, "sluiced", 10, self.logtext)
        self.p = None
        check(bad is None, bad)
        if unpin:
            shutil.rmtree(os.path.join(BPFFS, "sluice", self.instance), ignore_errors=True)
        self.start()

    def request(self, obj):
        """One raw protocol request on the socket (what sluicectl would
        refuse to send); returns the reply object."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(self.sock)
        s.sendall((json.dumps(obj) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        s.close()
        return json.loads(buf)


def terminate(p, name, wait, log):
    """SIGTERM to p (SIGCONT first: a test may have stopped it), SIGKILL
    after wait s.  None if it exited 0, else what went wrong with the end of
    its log, log() (sanitizer reports come at exit)."""
    if p.poll() is None:
        p.send_signal(signal.SIGCONT)
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(wait)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            return f"{name} did not stop within {wait} s of SIGTERM: {log()}"
    if p.returncode != 0:
        return f"{name} exited {p.returncode}: {log()}"
    return None


def daemon_test(fn, mirror=False, extra="", name="cli", ports=None):
    """A test fn(dm) on its own sluiced (extra: configuration sections
    added; name: the instance's prefix; ports: Daemon's); the daemon's exit
    and pins are checked after it too."""
    def wrapper(d):
        dm = Daemon(d, mirror, extra=extra, name=name, ports=ports)
        why = []
        try:
            fn(dm)
        except Fail as e:
            why.append(str(e))
        finally:
            # also after a failed test: its daemons' exits are checked too
            why += dm.stop()
        if os.path.exists(os.path.join(BPFFS, "sluice", dm.instance)):
            why.append(f"{BPFFS}/sluice/{dm.instance} still pinned")
        check(not why, "\n".join(why))
    wrapper.__name__ = fn.__name__
    wrapper.daemon = True
    return wrapper


@daemon_test
def test_daemon_canary(dm):
    out, err = dm.cli(["canary", "web", "5%"], 0)
    check(out.startswith("web: canary 5.00 % -> green, generation "), f"stdout {out!r}")
    check(out.rstrip().endswith("published, no dataplane attached"), f"stdout {out!r}")
    check(err == "", f"stderr {err!r}")
    gen = int(out.split("generation ")[1].split(",")[0])
    out, _ = dm.cli(["canary", "web", "500bp"], 0)
    check(out == f"web: unchanged (already canary 5.00 % -> green), generation {gen}\n",
          f"same canary again: {out!r}")
    # unknown service: the daemon's own message, exit 1
    dm.cli(["canary", "nosuch", "5%"], 1, err_has=("sluicectl: unknown_service: ",))


@daemon_test
def test_daemon_bad_state(dm):
    _, err = dm.cli(["rollout", "resume", "web"], 1, err_has=("sluicectl: bad_state: ",))
    check(len(err.splitlines()) == 1, f"stderr {err!r}")
    dm.cli(["undo", "web"], 1, err_has=("sluicectl: bad_state: ",))


@daemon_test
def test_daemon_json(dm):
    out, _ = dm.cli(["--json", "canary", "web", "1%"], 0)
    check(out.count("\n") == 1, f"--json is not one line: {out!r}")
    rep = json.loads(out)
    check(rep["ok"] is True and rep["result"]["after"]["share_bp"] == 100, f"reply {rep}")
    out, _ = dm.cli(["--json", "status"], 0)
    rep = json.loads(out)
    check(rep["ok"] is True and [s["state"]["name"] for s in rep["result"]["services"]] ==
          ["web", "dns"], f"reply {rep}")
    out, err = dm.cli(["--json", "rollout", "pause", "web"], 1)
    check(json.loads(out)["ok"] is False and "bad_state" in err, f"{out!r} {err!r}")


@daemon_test
def test_daemon_status(dm):
    dm.cli(["canary", "web", "5%"], 0)
    out, _ = dm.cli(["status"], 0)
    lines = out.splitlines()
    for s in ("Challenger output reaches users:", "Live on the challenger:", "Rollback:"):
        check(sum(1 for x in lines if x.strip().startswith(s)) == 2,
              f"status does not state {s!r} once per service: {out!r}")
    check("dataplane: not attached" in lines, f"stdout {out!r}")
    row = [x.split() for x in lines if x.split()[:2] == ["green", "challenger"]]
    check(len(row) == 2 and row[0][2:4] == ["5.00", "%"] and row[1][2:4] == ["0.00", "%"],
          f"challenger rows {row}")
    out, _ = dm.cli(["status", "dns"], 0)
    check("dns" in out.splitlines() and "web" not in out.splitlines(), f"stdout {out!r}")


@daemon_test
def test_daemon_history(dm):
    dm.cli(["canary", "web", "5%"], 0)
    dm.cli(["switch", "dns", "green", "--reset"], 0)
    dm.cli(["undo", "dns"], 0)
    out, _ = dm.cli(["history"], 0)
    lines = out.splitlines()
    canary = [x for x in lines if " canary " in x and " web " in x]
    switch = [x for x in lines if " switch " in x and " dns " in x]
    undo = [x for x in lines if " undo " in x and " dns " in x]
    check(len(canary) == 1 and "steady, all to blue -> canary 5.00 % to green" in canary[0],
          f"stdout {out!r}")
    check(len(switch) == 1 and "steady, all to blue -> blue-green, all to green" in switch[0],
          f"stdout {out!r}")
    check(len(undo) == 1 and "blue-green, all to green -> steady, all to blue" in undo[0],
          f"stdout {out!r}")
    check(all("uid 0 pid " in x for x in canary + switch + undo), f"actors: {out!r}")
    out, _ = dm.cli(["history", "web", "--limit", "1"], 0)
    check(" dns " not in out and " canary " in out, f"stdout {out!r}")
    # one rule: what sluicectl accepts the daemon accepts, what it refuses
    # the daemon refuses with the same words
    dm.cli(["history", "--limit", "10000"], 0)
    rep = dm.request({"cmd": "history", "limit": 10001})
    check(not rep["ok"] and rep["error"]["code"] == "bad_request" and
          "expected a whole number of entries 1..10000" in rep["error"]["message"],
          f"daemon reply to limit 10001: {rep}")
    rep = dm.request({"cmd": "history", "limit": 10000})
    check(rep["ok"], f"daemon reply to limit 10000: {rep}")


@daemon_test
def test_daemon_rollout(dm):
    out, _ = dm.cli(["rollout", "start", "web", "--steps", "1%,5%,100%", "--dwell", "1h"], 0)
    check(out.startswith("web: rollout step 1/3 at 1.00 % -> green, running, next step in "
                         "3600 s, generation "), f"stdout {out!r}")
    out, _ = dm.cli(["rollout", "status"], 0)
    check(out.startswith("web: rollout: step 1/3 at 1.00 %, running, next step in "), f"{out!r}")
    dm.cli(["canary", "web", "5%"], 1, err_has=("sluicectl: bad_state: ",))
    dm.cli(["rollout", "start", "web", "--steps", "1%", "--dwell", "1s"], 1,
           err_has=("sluicectl: bad_state: ",))
    dm.cli(["pause"], 0, out_has=("paused by the operator",))
    dm.cli(["pause"], 1, err_has=("sluicectl: bad_state: ",))
    out, _ = dm.cli(["rollout", "status", "web"], 0)
    check("step 1/3 at 1.00 %, paused by the operator with 3600 s of dwell left" in out,
          f"stdout {out!r}")
    dm.cli(["resume", "web"], 0, out_has=("step 1/3 at 1.00 % -> green, running",))
    out, _ = dm.cli(["promote"], 0)
    check(out.startswith("web: rollout step 2/3 at 5.00 % -> green, running"), f"{out!r}")
    out, _ = dm.cli(["abort", "--reset"], 0)
    check(out.startswith("web: rollout aborted at step 2/3 (green at 0 %); now steady, all "
                         "new flows -> blue, established flows decided again (--reset), "
                         "generation "), f"stdout {out!r}")
    out, _ = dm.cli(["status", "web"], 0)
    check("  rollout: aborted at step 2/3 (green at 0 %)" in out.splitlines(),
          f"stdout {out!r}")
    dm.cli(["rollout", "abort", "web"], 1, err_has=("sluicectl: bad_state: ",))


@daemon_test
def test_daemon_rollout_plan_and_timer(dm):
    plan = os.path.join(ROOT, "conf", "plans", "rollout-example.ini")
    dm.cli(["rollout", "start", "dns", "--plan", plan], 0,
           out_has=("dns: rollout step 1/5 at 1.00 % -> green, running, next step in 60 s",))
    dm.cli(["promote", "dns"], 0,
           out_has=("dns: rollout step 2/5 at 5.00 % -> green, paused at a pause step",))
    dm.cli(["promote", "--full"], 0,
           out_has=("dns: rollout completed after step 2/5 (green became champion); now "
                    "steady, all new flows -> green",))
    # steps the daemon's timer takes: journaled with the actor "plan"
    dm.cli(["rollout", "start", "web", "--steps", "1%,2%", "--dwell", "300ms"], 0)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        out, _ = dm.cli(["rollout", "status", "web"], 0)
        if "completed" in out:
            break
        time.sleep(0.1)
    check(out == "web: rollout: completed after step 2/2 (green became champion)\n",
          f"rollout status {out!r}")
    out, _ = dm.cli(["history", "web"], 0)
    timer = [x for x in out.splitlines() if " plan " in x]
    check(len(timer) == 2 and "rollout 1.00 % to green -> rollout 2.00 % to green" in timer[0]
          and "-> steady, all to green" in timer[1], f"history {out!r}")


@daemon_test
def test_daemon_acks(dm):
    dm.attach()
    out, _ = dm.cli(["canary", "web", "5%"], 0)
    check(out.startswith("web: canary 5.00 % -> green, generation 2, acknowledged by 1 worker "
                         "in ") and out.endswith(" us\n"), f"stdout {out!r}")
    out, _ = dm.cli(["status", "web"], 0)
    check(f"dataplane: attached, 1 worker (pid {dm.dp.pid})" in out.splitlines(),
          f"stdout {out!r}")
    # a worker that stops acknowledging: published, exit 4, then busy until it does
    dm.dp.send_signal(signal.SIGSTOP)
    try:
        out, _ = dm.cli(["canary", "web", "6%"], 4)
        check(out == "web: canary 6.00 % -> green, generation 3, NOT acknowledged by worker 0 "
              "within 1000 ms\n", f"stdout {out!r}")
        dm.cli(["canary", "web", "7%"], 1, err_has=("sluicectl: busy: ",))
    finally:
        dm.dp.send_signal(signal.SIGCONT)
    deadline = time.monotonic() + 10
    while True:
        rc, out, err = run(["--socket", dm.sock, "canary", "web", "7%"])
        if rc != 1 or "busy" not in err or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    check(rc == 0 and out.startswith("web: canary 7.00 % -> green, generation 4, acknowledged "
                                     "by 1 worker in "), f"exit {rc}: {out!r} {err!r}")


@daemon_test
def test_daemon_reload(dm):
    dm.cli(["reload"], 0, out_has=("reload: unchanged, generation 1\n",))
    with open(dm.conf) as f:
        text = f.read()
    with open(dm.conf, "w") as f:
        f.write(text.replace("share = 0%", "share = 7%", 1))
    out, _ = dm.cli(["reload"], 0)
    check(out == f"reload: {dm.conf} applied, generation 2, published, no dataplane "
          "attached\n  web: steady, all to blue -> canary 7.00 % to green\n", f"{out!r}")
    with open(dm.conf, "w") as f:
        f.write(text.replace("share = 0%", "share = 170%", 1))
    _, err = dm.cli(["reload"], 1, err_has=("sluicectl: reload_invalid: ", dm.conf, "170%"))
    out, _ = dm.cli(["history", "--limit", "1"], 0)
    check(" reload " in out and " web,dns " in out, f"history {out!r}")


@daemon_test
def test_daemon_misc(dm):
    out, _ = dm.cli(["version"], 0)
    check(f"sluiced 0.1.0, layout 6, instance {dm.instance}" in out.splitlines() and
          out.startswith("sluicectl "), f"stdout {out!r}")
    out, _ = dm.cli(["stats"], 0)
    lines = out.splitlines()
    check(any(x.split()[:2] == ["gen", "1"] for x in lines), f"stats: no generation: {out!r}")
    ports = [x.split()[0] for x in lines if x.startswith("  ") and len(x.split()) == 8]
    check(ports[:4] == ["port", "client", "blue", "green"], f"stats: ports table {out!r}")
    check(any(x.split()[:3] == ["web", "green", "0"] for x in lines), f"stats: groups {out!r}")
    out, _ = dm.cli(["--json", "stats"], 0)
    check(json.loads(out)["result"]["gen"] == 1, f"stats --json {out!r}")


def mirror_test(fn):
    return daemon_test(fn, mirror=True)


def test_shadow_usage(d):
    """shadow commands checked locally: nothing is sent for a bad one."""
    usage_error(["shadow"], "'shadow' needs a verb: add, remove or list")
    usage_error(["shadow", "frob"], "unknown shadow verb 'frob' (expected add, remove or list)")
    usage_error(["shadow", "add"], "missing NAME for 'shadow add'")
    usage_error(["shadow", "add", "x", "--service", "web", "--sample", "5%"],
                "shadow add needs --port PORT (a port with role shadow)")
    usage_error(["shadow", "add", "x", "--port", "m", "--sample", "5%"],
                "shadow add needs --service SERVICE")
    usage_error(["shadow", "add", "X!", "--service", "web", "--sample", "5%", "--port", "m"],
                "NAME 'X!' is not a valid name")
    usage_error(["shadow", "add", "x", "--service", "web", "--sample", "5%", "--port", "m",
                 "--mac", "ff:ff:ff:ff:ff:ff"],
                "--mac: 'ff:ff:ff:ff:ff:ff' is a broadcast address (expected a unicast MAC)")
    usage_error(["shadow", "remove"], "missing NAME for 'shadow remove'")
    usage_error(["shadow", "list", "x"], "unexpected argument 'x' for 'shadow list'")
    rc, out, err = run(["--socket", "/nonexistent.sock", "shadow", "add", "x", "--service",
                        "web", "--sample", "5%", "--port", "m", "--filter", "tcp dst port"])
    check(rc == 2 and err == "sluicectl: bad_filter: --filter: 'tcp dst port' does not "
          "compile: can't parse filter expression: syntax error (expected a pcap-filter "
          "expression, e.g. tcp dst port 443)\n", f"exit {rc}: {err!r}")
    rc, out, err = run(["--socket", "/nonexistent.sock", "shadow", "add", "x", "--service",
                        "web", "--sample", "5", "--port", "m"])
    check(rc == 2 and err.startswith("sluicectl: bad_share: --sample: '5' has no unit"),
          f"exit {rc}: {err!r}")


RULE = ["shadow", "add", "web-443", "--service", "web", "--filter", "tcp dst port 443",
        "--sample", "10%", "--port", "mirror"]
RULE_TEXT = "10.00 % of web's flows matching 'tcp dst port 443' -> port mirror"


@mirror_test
def test_daemon_shadow(dm):
    out, _ = dm.cli(RULE, 0)
    check(out == f"shadow web-443: added, {RULE_TEXT}, generation 2, published, no "
          "dataplane attached\n", f"stdout {out!r}")
    out, _ = dm.cli(RULE, 0)
    check(out == f"shadow web-443: unchanged (already {RULE_TEXT}), generation 2\n",
          f"stdout {out!r}")
    _, err = dm.cli(RULE[:-4] + ["--sample", "20%", "--port", "mirror"], 1)
    check(err == f"sluicectl: bad_state: shadow rule web-443 exists with another definition "
          f"({RULE_TEXT}); remove it first (shadow remove web-443)\n", f"stderr {err!r}")
    _, err = dm.cli(["shadow", "add", "x", "--service", "web", "--sample", "1%", "--port",
                     "blue"], 1)
    check(err == "sluicectl: bad_port: port 'blue' has role backend, not shadow (shadow "
          "ports: mirror)\n", f"stderr {err!r}")
    dm.cli(["shadow", "add", "x", "--service", "www", "--sample", "1%", "--port", "mirror"],
           1, err_has=("sluicectl: unknown_service: no service 'www' (services: web, dns)",))
    # a filter sluicectl would have refused: the daemon compiles it too
    rep = dm.request({"cmd": "shadow_add", "name": "raw", "service": "web", "sample": "1%",
                      "port": "mirror", "filter": "tcp dst port 99999"})
    check(rep["ok"] is False and rep["error"] == {
        "code": "bad_filter", "field": "filter", "message": "filter: 'tcp dst port 99999' "
        "does not compile: illegal port number 99999 > 65535 (expected a pcap-filter "
        "expression, e.g. tcp dst port 443)"}, f"reply {rep}")
    out, _ = dm.cli(["shadow", "add", "dns-all", "--service", "dns", "--sample", "0.5%",
                     "--port", "mirror", "--mac", "02:00:00:00:0d:01"], 0)
    check(out.startswith("shadow dns-all: added, 0.50 % of dns's flows -> port mirror (copies "
                         "to 02:00:00:00:0d:01), generation 3"), f"stdout {out!r}")
    out, _ = dm.cli(["shadow", "list"], 0)
    lines = out.splitlines()
    check(lines[0] == "shadow rules of generation 3, no dataplane attached", f"{out!r}")
    check(lines[1].split() == ["rule", "service", "sample", "filter", "port", "mac", "flows",
                               "packets", "dropped", "pending"], f"{out!r}")
    check(lines[2].split() == ["web-443", "web", "10.00", "%", "tcp", "dst", "port", "443",
                               "mirror", "-", "0", "0", "0", "0"], f"{out!r}")
    check(lines[3].split()[:6] == ["dns-all", "dns", "0.50", "%", "(every", "packet)"],
          f"{out!r}")
    # a shadow phase: the status says the challenger's output reaches no user
    out, _ = dm.cli(["status", "web"], 0)
    check("  Challenger output reaches users: no; the shadow port receives copies of 10.00 % "
          "of web's flows matching 'tcp dst port 443' (rule web-443); its output never "
          "reaches a user." in out.splitlines(), f"status {out!r}")
    check(f"  shadow web-443: {RULE_TEXT}" in out.splitlines(), f"status {out!r}")
    # the rules survive a restart (pinned table) and a reboot (journal only)
    dm.restart()
    out, _ = dm.cli(["shadow", "list"], 0)
    check("web-443" in out and "dns-all" in out, f"after a restart: {out!r}")
    dm.restart(unpin=True)
    out, _ = dm.cli(["--json", "shadow", "list"], 0)
    rules = json.loads(out)["result"]["shadows"]
    check([(r["name"], r["index"], r["filter"], r["sample_bp"], r["mac"]) for r in rules] ==
          [("web-443", 0, "tcp dst port 443", 1000, None),
           ("dns-all", 1, "", 50, "02:00:00:00:0d:01")], f"after a reboot: {rules}")
    dm.cli(["shadow", "remove", "nope"], 1, err_has=(
        "sluicectl: unknown_shadow: no shadow rule 'nope' (shadow rules: web-443, dns-all)",))
    out, _ = dm.cli(["shadow", "remove", "web-443"], 0)
    check(out.startswith(f"shadow web-443: removed (was {RULE_TEXT}), generation "),
          f"stdout {out!r}")
    out, _ = dm.cli(["history", "--limit", "20"], 0)
    lines = out.splitlines()
    check(sum(" shadow_add " in x for x in lines) == 2 and " shadow_remove " in lines[-1] and
          " recover " in lines[-2], f"history {out!r}")
    out, _ = dm.cli(["status", "web"], 0)
    check("  Challenger output reaches users: no, green receives no new flows (0 established "
          "green flows remain)." in out.splitlines(), f"status {out!r}")


@mirror_test
def test_daemon_shadow_attached(dm):
    """With sluice-dp attached the reply says when the dataplane compiled
    the filters; a dataplane that cannot is exit 4."""
    dm.attach()
    out, _ = dm.cli(RULE, 0)
    check(out.startswith(f"shadow web-443: added, {RULE_TEXT}, generation 2, acknowledged by "
                         "1 worker in ") and ", filters compiled by the dataplane in " in out
          and out.endswith(" us\n"), f"stdout {out!r}")
    out, _ = dm.cli(["--json", "shadow", "list"], 0)
    res = json.loads(out)["result"]
    check(res["shadow_gen"] == 2 and res["ready_gen"] == 2, f"list {res}")
    out, _ = dm.cli(["--json", "stats"], 0)
    st = json.loads(out)["result"]
    check([r["name"] for r in st["shadows"]] == ["web-443"] and
          "shadow_rx_drop" in st["counters"], f"stats {st}")
    # other changes leave the filters alone
    out, _ = dm.cli(["canary", "web", "1%"], 0)
    check("filters" not in out, f"stdout {out!r}")
    dm.dp.send_signal(signal.SIGSTOP)
    try:
        out, _ = dm.cli(["shadow", "remove", "web-443"], 4)
        check(", NOT acknowledged by worker 0 within 1000 ms, filters NOT compiled by the "
              "dataplane within 1000 ms (it runs those of generation 2; sampled packets "
              "count as pending)" in out, f"stdout {out!r}")
    finally:
        dm.dp.send_signal(signal.SIGCONT)


def tear_last_line(path):
    """Cuts the journal's last line in half (no newline): a crash between
    the write and the disk.  Returns the bytes kept."""
    with open(path, "rb") as f:
        data = f.read()
    start = data.rstrip(b"\n").rfind(b"\n") + 1
    keep = data[start:start + (len(data) - start) // 2]
    with open(path, "wb") as f:
        f.write(data[:start] + keep)
    return keep


@daemon_test
def test_daemon_torn_journal(dm):
    """The last entry torn after it was published: its bytes kept in
    JOURNAL.torn, the pinned table's split kept, the journal's rollout kept
    and paused when its share is not its step's (the torn entry was its
    abort), all said in a recover entry."""
    dm.cli(["rollout", "start", "web", "--steps", "5%,20%", "--dwell", "1h"], 0)
    dm.cli(["abort", "web"], 0)
    dm.cli(["canary", "dns", "10%"], 0)
    dm.cli(["canary", "dns", "20%"], 0)
    bad = dm.request({"cmd": "status"})["result"]["gen"]
    # dns's 20 % was published, then its line torn
    keep = tear_last_line(dm.journal)
    dm.restart()
    with open(dm.journal + ".torn", "rb") as f:
        check(f.read() == keep + b"\n", "the torn bytes are not kept whole")
    out, _ = dm.cli(["--json", "status", "dns"], 0)
    svc = json.loads(out)["result"]["services"][0]
    check(svc["state"]["share_bp"] == 2000, f"dns: the pinned table's 20 % not kept: {svc}")
    with open(dm.journal) as f:
        last = json.loads(f.read().splitlines()[-1])
    check(last["cmd"] == "recover" and last["gen"] == bad and
          f"the entry that published {bad} is not in the journal (its torn line is kept"
          in last["reason"], f"last entry {last}")
    # a rollout whose abort was torn: paused, at the table's share (0 %)
    dm.cli(["rollout", "start", "web", "--steps", "5%,20%", "--dwell", "1h"], 0)
    dm.cli(["abort", "web"], 0)
    tear_last_line(dm.journal)
    dm.restart()
    out, _ = dm.cli(["--json", "status", "web"], 0)
    svc = json.loads(out)["result"]["services"][0]
    check(svc["state"]["share_bp"] == 0 and svc["rollout"]["state"] == "paused",
          f"web after a torn abort: {svc['state']}, rollout {svc['rollout']}")
    with open(dm.journal) as f:
        last = json.loads(f.read().splitlines()[-1])
    check("rollout of web paused: the table's share is not its step's" in last["reason"],
          f"reason {last['reason']}")


@daemon_test
def test_daemon_abort_canary(dm):
    """abort of a canary set by hand (no rollout) does what the status's
    rollback sentence says: all new flows to the champion, journaled; a
    second abort has nothing to abort."""
    dm.cli(["canary", "web", "5%"], 0)
    out, _ = dm.cli(["status", "web"], 0)
    check("Rollback: abort sends 100 % of new flows to blue at once" in out, f"{out!r}")
    dm.cli(["abort", "web"], 0, out_has=("web: steady, all new flows -> blue, generation 3",))
    st = dm.request({"cmd": "status", "service": "web"})["result"]["services"][0]["state"]
    check(st["share_bp"] == 0 and st["strategy"] == "steady", f"state after abort: {st}")
    out, _ = dm.cli(["history", "web", "--limit", "1"], 0)
    check("web: canary aborted (green was at 5%): all new flows -> blue" in out, f"{out!r}")
    dm.cli(["abort", "web"], 1, err_has=("no rollout to abort",))
    dm.cli(["undo", "web"], 0, out_has=("web: canary 5.00 % -> green",))


def rotations(dm):
    with open(dm.log) as f:
        return f.read().count(" rotated: ")


def rotation_test(dm):
    """[control] journal_rotate = 100: the journal starts a new file with a
    checkpoint once a second's look finds 100 entries; a restart (and a
    reboot) replays the checkpoint alone and keeps rollouts and undo
    histories; history reads on across the rotated files, checkpoints left
    out; journal_keep files are kept."""
    dm.cli(["canary", "web", "5%"], 0)
    dm.cli(["rollout", "start", "web", "--steps", "10%,50%,100%", "--dwell", "1h"], 0)
    made = 3  # init and those two
    for i in range(230):
        dm.cli(["canary", "dns", f"{(i % 9) + 1}%"], 0)
        made += 1
        if i % 115 == 114:  # two rotations, a second's look each
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and rotations(dm) < i // 115 + 1:
                time.sleep(0.1)
            check(rotations(dm) == i // 115 + 1, f"not rotated: {dm.logtext()}")
    for k in (1, 2):
        check(os.path.exists(f"{dm.journal}.{k}"), f"{dm.journal}.{k} missing")
    check(not os.path.exists(f"{dm.journal}.3"), "more files than journal_keep")
    with open(dm.journal) as f:
        first = json.loads(f.readline())
    check(first["cmd"] == "checkpoint" and "journal rotated after " in first["reason"],
          f"first line of the new file: {first}")
    before = json.loads(dm.cli(["--json", "status"], 0)[0])["result"]
    # history across the files: every change once, in order, no checkpoint
    out, _ = dm.cli(["--json", "history", "--limit", "10000"], 0)
    entries = json.loads(out)["result"]["entries"]
    gens = [e["gen"] for e in entries]
    check(len(entries) == made and gens == sorted(gens) and gens[0] == 1 and
          all(e["cmd"] != "checkpoint" for e in entries),
          f"{len(entries)} entries (made {made}), gens {gens[:5]}...{gens[-5:]}")
    out, _ = dm.cli(["--json", "history", "web", "--limit", "10000"], 0)
    check([e["cmd"] for e in json.loads(out)["result"]["entries"]] ==
          ["init", "canary", "rollout_start"], f"web's history {out[:400]}")
    for unpin in (False, True):  # a restart, then a reboot (journal alone)
        dm.restart(unpin=unpin)
        after = json.loads(dm.cli(["--json", "status"], 0)[0])["result"]
        for svc in ("web", "dns"):
            a = [s for s in after["services"] if s["state"]["name"] == svc][0]
            b = [s for s in before["services"] if s["state"]["name"] == svc][0]
            check(a["state"] == b["state"], f"{svc} after restart: {a['state']} != {b['state']}")
        web = [s for s in after["services"] if s["state"]["name"] == "web"][0]
        wb = [s for s in before["services"] if s["state"]["name"] == "web"][0]
        check(web["rollout"]["state"] == "running" and web["rollout"]["step"] == 0 and
              web["rollout"]["step_started_ms"] == wb["rollout"]["step_started_ms"],
              f"web's rollout after {'reboot' if unpin else 'restart'}: {web['rollout']}")
        if not unpin:
            # the undo histories came back whole: dns goes back two changes
            # (a reboot starts them again, as without rotation)
            dm.cli(["undo", "dns"], 0, out_has=("dns: canary 4.00 %",))
            dm.cli(["undo", "dns"], 0, out_has=("dns: canary 3.00 %",))
            before = json.loads(dm.cli(["--json", "status"], 0)[0])["result"]
    dm.cli(["rollout", "abort", "web"], 0)
    # a rotation that cannot be done (JOURNAL.2 a directory it cannot
    # remove): said once, not every second, and the journal goes on
    os.unlink(f"{dm.journal}.2")
    os.mkdir(f"{dm.journal}.2")
    with open(dm.journal) as f:
        n = sum(1 for _ in f)
    for i in range(101 - n):
        dm.cli(["canary", "dns", f"{(i % 9) + 1}%"], 0)
    time.sleep(3)
    with open(dm.log) as f:
        log = f.read()
    check(log.count("cannot rotate: cannot remove") == 1 and
          "Is a directory (the journal goes on in one file; tried again in 10 s)" in log,
          f"a failed rotation: {log[-1500:]}")
    dm.cli(["canary", "dns", "50%"], 0)
    out, _ = dm.cli(["--json", "history", "--limit", "3"], 0)
    check(json.loads(out)["result"]["entries"][-1]["after"]["share_bp"] == 5000, out)
    os.rmdir(f"{dm.journal}.2")


test_daemon_journal_rotation = daemon_test(rotation_test, extra="journal_rotate = 100\n"
                                           "journal_keep = 2")
test_daemon_journal_rotation.__name__ = "test_daemon_journal_rotation"

TESTS = [
    test_help, test_no_command, test_unknown_command, test_missing_service, test_bad_share,
    test_bad_steps, test_bad_plan, test_sticky_reset, test_unknown_option,
    test_nothing_sent_on_local_error, test_unreachable,
    test_peer_canary_acked, test_peer_reset_and_no_dataplane, test_peer_ack_timeout,
    test_peer_unpublished, test_peer_unchanged, test_peer_error_reply, test_peer_bad_reply,
    test_peer_json_as_is,
    test_peer_steps_sent_exactly, test_peer_weights_and_history_request, test_peer_status,
    test_daemon_canary, test_daemon_bad_state, test_daemon_json, test_daemon_status,
    test_daemon_history, test_daemon_rollout, test_daemon_rollout_plan_and_timer,
    test_daemon_acks, test_daemon_reload, test_daemon_misc,
    test_shadow_usage, test_daemon_shadow, test_daemon_shadow_attached,
    test_daemon_torn_journal, test_daemon_journal_rotation, test_daemon_abort_canary,
]


def main():
    global BUILD
    a = harness.parse(__doc__, TESTS, options=lambda ap: ap.add_argument(
        "--no-daemon", action="store_true", help="skip the tests that need the real sluiced"))
    BUILD = a.build
    todo = a.todo
    if a.no_daemon:
        todo = [t for t in todo if not getattr(t, "daemon", False)]
    if not os.access(cli_path(), os.X_OK):
        print(f"FAIL setup: {cli_path()} is not built (--build DIR names the build)")
        print(f"\n0 passed, {len(todo)} failed")
        return 1
    return harness.run(todo, "sluice-cli-", a.keep)


if __name__ == "__main__":
    sys.exit(main())
