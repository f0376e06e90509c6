#!/usr/bin/env python3
"""Observing a rollout: sluicectl status --watch, sluicectl note, and
sluice-replay --plot.

* watch: piped (not a terminal) it prints plain blocks after '== TIME =='
  lines, a new one only after a change, and ends by itself when the
  watched service's rollout ends; a daemon that goes away is tried again
  with one message and is shown again when it is back; under a pty it
  clears and homes the screen, redraws in place, wraps at a new width
  after SIGWINCH and gives the cursor back on SIGINT (exit 0); a bad
  --interval is refused naming the option;
* note: the text and --markdown forms name the live service's groups with
  their members, shares, plan steps, guards and the exact rollback command,
  and that command, run, really rolls back (status says so);
* plot: --plot out.svg is XML holding each service's name and, per
  service, a measured-share path with one point per interval that had new
  flows (report.json "intervals"); out.png has a PNG header and a real
  size; another extension is refused before anything runs, and a missing
  gnuplot is named with its package.

The daemon tests run the real sluiced through tests/cli.py's daemon_test.
Prints PASS/FAIL per test and "N passed, N failed".

Usage: tests/observe_cli.py [--build DIR] [--keep] [TEST...]
"""

import fcntl
import json
import math
import os
import re
import select
import shlex
import signal
import struct
import subprocess
import sys
import termios
import time
import xml.etree.ElementTree as ET

import cli
from harness import check
import harness

ROOT = cli.ROOT
BUILD = cli.BUILD
tests, test = harness.registry()

STAMP = re.compile(r"^== \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC ==$")

# a mac-mode challenger with two members and a guard for it, next to the
# daemon_test configuration's web and dns
API = """
[group canary-mac]
port = green
mode = mac
members = 02:00:00:00:0c:01, 02:00:00:00:0c:02

[service api]
proto = tcp
vip = 192.0.2.20
ports = 8443, 9000-9009
champion = blue
challenger = canary-mac
share = 0%

[guard api-rst]
service = api
signal = rst
min_flows = 50
alpha = 1%
on_fail = abort
"""


def ctl():
    return os.path.join(BUILD, "control", "sluicectl")


def replay_exe():
    return os.path.join(BUILD, "tools", "sluice-replay")


class Reader:
    """The output of a running process, read as it comes (fd: a pipe or a
    pty master)."""

    def __init__(self, fd):
        self.fd = fd
        self.buf = b""

    def pump(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            r, _, _ = select.select([self.fd], [], [], 0.05)
            if r:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:  # the pty's other side closed
                    return
                if not chunk:
                    return
                self.buf += chunk

    def wait_for(self, pred, seconds, what):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if pred(self.text()):
                return
            self.pump(0.1)
        check(pred(self.text()), f"no {what} within {seconds} s; output:\n{self.text()[-3000:]}")

    def text(self):
        return self.buf.decode(errors="replace")


def blocks(text):
    """Piped watch output -> [block text] (the lines after each stamp)."""
    out = []
    for line in text.splitlines():
        if STAMP.match(line):
            out.append([])
        elif out:
            out[-1].append(line)
    return ["\n".join(b) for b in out]


def watch(dm, *args):
    p = subprocess.Popen([ctl(), "--socket", dm.sock, "status"] + list(args),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p, Reader(p.stdout.fileno())


def stop(p, sig=signal.SIGINT, wait=5):
    if p.poll() is None:
        p.send_signal(sig)
    try:
        return p.wait(wait)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise harness.Fail(f"sluicectl did not stop within {wait} s of {sig}")


# ---------------------------------------------------------------- watch

@test
@cli.daemon_test
def watch_piped_blocks_and_end(dm):
    p, out = watch(dm, "web", "--watch", "--interval", "200ms")
    try:
        out.wait_for(lambda t: len(blocks(t)) == 1 and "dataplane:" in t, 10, "first block")
        # ten reads without a change: no new block
        out.pump(2.0)
        b = blocks(out.text())
        check(len(b) == 1, f"{len(b)} blocks without a change:\n{out.text()}")
        check("strategy: steady" in b[0] and "  blue   champion " in b[0], f"block {b[0]!r}")
        dm.cli(["rollout", "start", "web", "--steps", "5%,100%", "--dwell", "1h"], 0)
        out.wait_for(lambda t: len(blocks(t)) == 2, 10, "a block after the rollout started")
        b = blocks(out.text())
        check("rollout: step 1/2 at 5.00 %, running" in b[1] and
              "green  challenger      5.00 %" in b[1], f"second block {b[1]!r}")
        dm.cli(["promote", "web"], 0)
        out.wait_for(lambda t: len(blocks(t)) == 3, 10, "a block after promote")
        check(p.poll() is None, "the watch ended before the rollout did")
        dm.cli(["promote", "web"], 0)  # the last step: the rollout completes
        check(p.wait(10) == 0, f"the watch exited {p.returncode} at the rollout's end")
        out.pump(0.5)
        text = out.text()
        b = blocks(text)
        check("completed after step 2/2 (green became champion)" in b[-1], f"last {b[-1]!r}")
        check(text.rstrip().endswith("web: the rollout completed (generation 4); the watch "
                                     "ends"), f"end of the output {text[-300:]!r}")
        check("\x1b" not in text, "escape sequences in piped output")
        check(all(STAMP.match(x) for x in text.splitlines() if x.startswith("==")),
              "a stamp line is malformed")
    finally:
        stop(p)


@test
@cli.daemon_test
def watch_json_lines(dm):
    p = subprocess.Popen([ctl(), "--socket", dm.sock, "--json", "status", "dns", "--watch",
                          "--interval", "200ms"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = Reader(p.stdout.fileno())
    try:
        out.wait_for(lambda t: t.count("\n") == 1, 10, "a first reply line")
        out.pump(1.0)
        check(out.text().count("\n") == 1, f"lines without a change: {out.text()!r}")
        dm.cli(["canary", "dns", "2%"], 0)
        out.wait_for(lambda t: t.count("\n") == 2, 10, "a reply line after the change")
        reps = [json.loads(x) for x in out.text().splitlines()]
        shares = [r["result"]["services"][0]["configured_share_bp"] for r in reps]
        check(shares == [0, 200] and all(r["ok"] for r in reps), f"replies {shares}")
        check(stop(p) == 0, f"SIGINT: exit {p.returncode}")
    finally:
        if p.poll() is None:
            stop(p)


@test
@cli.daemon_test
def watch_daemon_goes_away(dm):
    p, out = watch(dm, "--watch", "--interval", "200ms")
    err = Reader(p.stderr.fileno())
    try:
        out.wait_for(lambda t: len(blocks(t)) == 1, 10, "first block")
        bad = cli.terminate(dm.p, "sluiced", 10, dm.logtext)
        dm.p = None
        check(bad is None, bad)
        out.wait_for(lambda t: "unreachable" in t, 10, "the unreachable message")
        out.pump(1.0)  # five more tries: one message for the outage
        check(p.poll() is None, f"the watch exited {p.returncode} when the daemon went away")
        check(out.text().count("unreachable") == 1 and
              "trying again every 0.2 s" in out.text(), f"output {out.text()!r}")
        err.pump(0.2)
        check("sluicectl: unreachable: cannot connect to " + dm.sock in err.text(),
              f"stderr {err.text()!r}")
        dm.start()
        out.wait_for(lambda t: len(blocks(t)) == 3, 15, "a block once the daemon is back")
        err.pump(0.3)
        check("answers again" in err.text(), f"stderr {err.text()!r}")
        check(stop(p) == 0, f"SIGINT: exit {p.returncode}")
    finally:
        if p.poll() is None:
            stop(p)


@test
def watch_unreachable_at_start(d):
    path = os.path.join(d, "absent.sock")
    t0 = time.monotonic()
    cli.expect(["--socket", path, "status", "--watch"], 3,
               err_has=(f"sluicectl: unreachable: cannot connect to {path}",))
    check(time.monotonic() - t0 < 5, "a daemon never reached is not an outage to wait out")


@test
@cli.daemon_test
def watch_refused(dm):
    _, err = dm.cli(["status", "nosuch", "--watch"], 1,
                    err_has=("sluicectl: unknown_service: ",))
    check(len(err.splitlines()) == 1, f"stderr {err!r}")


@test
def watch_bad_interval(d):
    sock = ["--socket", os.path.join(d, "none.sock")]
    for v in ("0", "50ms", "2h", "abc", "-1", "1.5"):
        cli.expect(sock + ["status", "--watch", "--interval", v], 2,
                   err_has=(f"sluicectl: usage: --interval: '{v}' is not an interval of "
                            "100ms..1h",))
    cli.expect(sock + ["status", "--watch", "--interval"], 2,
               err_has=("--interval needs a value",))
    cli.expect(sock + ["status", "--interval", "2"], 2,
               err_has=("--interval is for status --watch",))
    cli.expect(sock + ["status", "--watch", "--interval=1", "--interval=2"], 2,
               err_has=("--interval given twice",))
    cli.expect(sock + ["status", "Bad!", "--watch"], 2, err_has=("SERVICE 'Bad!'",))
    out, _ = cli.expect(["--help"], 0)
    check("  status [SERVICE] --watch [--interval S]" in out.splitlines() and
          "  note SERVICE [--markdown]" in out.splitlines(), "--help lacks the new commands")


def pty_watch(dm, rows, cols, *args, term="xterm"):
    m, s = os.openpty()
    fcntl.ioctl(s, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    p = subprocess.Popen([ctl(), "--socket", dm.sock, "status"] + list(args),
                         stdin=s, stdout=s, stderr=s, env=dict(os.environ, TERM=term))
    os.close(s)
    return p, m, Reader(m)


def screens(raw):
    """The frames a redraw loop drew: the text after each cursor home."""
    return raw.split(b"\x1b[H")[1:]


@test
@cli.daemon_test
def watch_on_a_terminal(dm):
    p, m, out = pty_watch(dm, 40, 100, "--watch", "--interval", "200ms")
    try:
        out.wait_for(lambda t: t.count("\x1b[H") >= 2, 10, "two redraws")
        raw = out.buf
        check(raw.count(b"\x1b[2J") == 1 and raw.index(b"\x1b[H\x1b[2J") < 20,
              f"the screen is not cleared once at the start: {raw[:80]!r}")
        check(b"\x1b[?25l" in raw, "the cursor is not hidden while redrawing")
        dm.cli(["canary", "web", "5%"], 0)
        out.wait_for(lambda t: "green  challenger      5.00 %" in
                     t.split("\x1b[H")[-1], 10, "a redraw with the canary")
        # each frame ends by erasing the rest of the screen
        check(all(f.rstrip(b"\r\n").endswith(b"\x1b[J") for f in screens(out.buf)[:-1]),
              "a frame does not erase what is below it")
        # a narrow terminal: the sentences wrap at 40 columns, no line is wider
        fcntl.ioctl(m, termios.TIOCSWINSZ, struct.pack("HHHH", 12, 40, 0, 0))
        p.send_signal(signal.SIGWINCH)
        n = out.buf.count(b"\x1b[2J")
        out.wait_for(lambda t: t.count("\x1b[2J") > n and
                     t.split("\x1b[2J")[-1].count("\x1b[H") >= 1, 10, "a redraw after SIGWINCH")
        frame = out.buf.split(b"\x1b[2J")[-1].split(b"\x1b[H")[0].decode()
        lines = [re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", x) for x in frame.split("\r\n")]
        check(all(len(x) <= 40 for x in lines), f"lines wider than 40: {lines}")
        check(len([x for x in lines if x]) <= 12, f"more than 12 rows: {lines}")
        check(any("more lines" in x for x in lines), f"no note of the lines cut: {lines}")
        check(stop(p) == 0, f"SIGINT: exit {p.returncode}")
        out.pump(0.3)
        check(out.buf.rstrip(b"\r\n").endswith(b"\x1b[?25h"), "the cursor is not given back")
    finally:
        if p.poll() is None:
            stop(p)
        os.close(m)


@test
@cli.daemon_test
def watch_dumb_terminal(dm):
    p, m, out = pty_watch(dm, 24, 80, "dns", "--watch", "--interval", "200ms", term="dumb")
    try:
        out.wait_for(lambda t: len(blocks(t.replace("\r\n", "\n"))) == 1, 10, "a block")
        check("\x1b" not in out.text(), f"escapes for TERM=dumb: {out.text()[:200]!r}")
        check(stop(p) == 0, f"SIGINT: exit {p.returncode}")
    finally:
        os.close(m)


@test
@cli.daemon_test
def watch_sigterm_on_a_terminal(dm):
    p, m, out = pty_watch(dm, 30, 120, "web", "--watch", "--interval", "1")
    try:
        out.wait_for(lambda t: "\x1b[H" in t, 10, "a first frame")
        check(stop(p, signal.SIGTERM) == 0, f"SIGTERM: exit {p.returncode}")
        out.pump(0.3)
        check(out.buf.endswith(b"\x1b[?25h"), "the cursor is not given back on SIGTERM")
    finally:
        os.close(m)


# ---------------------------------------------------------------- note

def note(dm, *args):
    out, err = dm.cli(["note"] + list(args), 0)
    check(err == "", f"note wrote to stderr: {err!r}")
    return out


def rollback_command(text, marker="Roll back now"):
    """The command after the line that starts with marker (text or markdown)."""
    lines = text.splitlines()
    for i, x in enumerate(lines):
        if x.strip().startswith(marker):
            for y in lines[i + 1:]:
                y = y.strip()
                if y.startswith("sluicectl "):
                    return y
            break
    raise harness.Fail(f"no command after {marker!r} in:\n{text}")


def run_pasted(cmd):
    """A command as the note prints it, run as an operator would paste it."""
    words = shlex.split(cmd)
    check(words[0] == "sluicectl", f"not a sluicectl command: {cmd!r}")
    p = subprocess.run([ctl()] + words[1:], capture_output=True, text=True, timeout=30)
    check(p.returncode == 0, f"{cmd}: exit {p.returncode}: {p.stderr}")
    return p.stdout


def service_status(dm, name):
    out, _ = dm.cli(["--json", "status", name], 0)
    return json.loads(out)["result"]["services"][0]


def api_daemon(fn):
    """daemon_test with the api service (mac-mode challenger, a guard)."""
    return cli.daemon_test(fn, extra=API, name="obs")


@test
@api_daemon
def note_rollout_and_its_rollback(dm):
    dm.cli(["rollout", "start", "api", "--steps", "5%,20%,100%", "--dwell", "1h"], 0)
    text = note(dm, "api")
    for want in ("Release note: api", "Challenger output reaches users: yes, canary-mac "
                 "serves 5.00 % of new flows.", "Live on the challenger: 5.00 %",
                 "Rollback: abort sends 100 % of new flows to blue at once",
                 "tcp 192.0.2.20 port 8443,9000-9009, from the clients on port client",
                 "champion   blue: port blue, mode port; 95.00 % of new flows",
                 "challenger canary-mac: port green, mode mac, members 02:00:00:00:0c:01, "
                 "02:00:00:00:0c:02; 5.00 % of new flows",
                 "percentage rollout of canary-mac next to the champion blue",
                 "step 1: 5.00 % for 1 h (current)", "step 2: 20.00 % for 1 h",
                 "step 3: 100.00 % for 1 h",
                 "api-rst: signal rst on the whole service, min_flows 50 per group, margin 0, "
                 "alpha 0.01, on_fail abort", "now collecting (fails at log E >= 4.61)",
                 f"sluicectl --socket {dm.sock} abort api --reset", "rollout_start by uid 0"):
        check(want in text, f"note lacks {want!r}:\n{text}")
    path = service_status(dm, "api")["path"]
    check(path == {"proto": "tcp", "vip": "192.0.2.20", "ports": "8443,9000-9009",
                   "client_ports": ["client"],
                   "groups": [{"name": "blue", "role": "champion", "port": "blue",
                               "mode": "port", "members": []},
                              {"name": "canary-mac", "role": "challenger", "port": "green",
                               "mode": "mac", "members": ["02:00:00:00:0c:01",
                                                          "02:00:00:00:0c:02"]}]},
          f"status path {path}")
    gen = service_status(dm, "api")["gen"]
    check(f"generation {gen} (api last changed in generation {gen})" in text, text)
    md = note(dm, "api", "--markdown")
    for want in ("# Release note: api", "## The three statements", "## Traffic path",
                 "| group | role | port | mode | members | configured | measured |",
                 "| canary-mac | challenger | green | mac | 02:00:00:00:0c:01, "
                 "02:00:00:00:0c:02 | 5.00 % | - |", "| blue | champion | blue | port | - | "
                 "95.00 % | - |", "## Guards in force", "- api-rst: signal rst",
                 "  - step 2: 20.00 % for 1 h", "```sh\n" + f"sluicectl --socket {dm.sock} "
                 "abort api\n```"):
        check(want in md, f"--markdown lacks {want!r}:\n{md}")
    check("\n- " not in text and "##" not in text, "the text form has markdown in it")
    cmd = rollback_command(text)
    check(cmd == rollback_command(md) == f"sluicectl --socket {dm.sock} abort api",
          f"rollback command {cmd!r}")
    run_pasted(cmd)
    s = service_status(dm, "api")
    check(s["configured_share_bp"] == 0 and s["rollout"]["state"] == "aborted" and
          s["state"]["champion"] == "blue", f"after {cmd}: {s}")
    text = note(dm, "api")
    check("Challenger output reaches users: no" in text and
          "none is looking now: guards watch a running rollout only" in text and
          "last rollout: aborted at step 1/3" in text, f"note after the abort:\n{text}")


@test
@cli.daemon_test
def note_blue_green_and_canary(dm):
    dm.cli(["switch", "web", "green"], 0)
    text = note(dm, "web")
    check("blue-green: 100 % of new flows to green; blue stays configured for a switch back"
          in text, text)
    cmd = rollback_command(text)
    check(cmd == f"sluicectl --socket {dm.sock} switch web blue", f"command {cmd!r}")
    run_pasted(cmd)
    s = service_status(dm, "web")
    check(s["state"]["champion"] == "blue" and s["configured_share_bp"] == 0, f"{s}")
    # a plain canary: abort sends its share back too
    dm.cli(["canary", "dns", "7%"], 0)
    text = note(dm, "dns", "--markdown")
    cmd = rollback_command(text)
    check(cmd == f"sluicectl --socket {dm.sock} abort dns", f"command {cmd!r}")
    run_pasted(cmd)
    check(service_status(dm, "dns")["configured_share_bp"] == 0, "the canary is still live")
    # steady after that: nothing live, undo offered
    text = note(dm, "dns")
    check("nothing is live on the challenger green: there is nothing to roll back" in text and
          f"sluicectl --socket {dm.sock} undo dns" in text, text)


def mirror_daemon(fn):
    """daemon_test with a shadow port."""
    return cli.daemon_test(fn, mirror=True)


@test
@mirror_daemon
def note_shadow_phase(dm):
    dm.cli(["shadow", "add", "web-443", "--service", "web", "--filter", "tcp dst port 443",
            "--sample", "10%", "--port", "mirror"], 0)
    text = note(dm, "web")
    for want in ("Challenger output reaches users: no; the shadow port receives copies of "
                 "10.00 % of web's flows matching 'tcp dst port 443' (rule web-443)",
                 "shadow web-443: ", "shadow: every new flow to the champion blue",
                 f"sluicectl --socket {dm.sock} shadow remove web-443"):
        check(want in text, f"note lacks {want!r}:\n{text}")
    run_pasted(rollback_command(text, "To stop the copies of shadow rule web-443"))
    check("shadows" not in service_status(dm, "web"), "the shadow rule is still there")


@test
@cli.daemon_test
def note_errors(dm):
    _, err = dm.cli(["note", "nosuch"], 1, err_has=("sluicectl: unknown_service: ",))
    check(len(err.splitlines()) == 1, f"stderr {err!r}")
    dm.cli(["note"], 2, err_has=("missing SERVICE for 'note'",))
    dm.cli(["note", "web", "dns"], 2, err_has=("unexpected argument 'dns' for 'note'",))
    dm.cli(["note", "web", "--bogus"], 2, err_has=("unknown option '--bogus' for 'note'",))
    dm.cli(["note", "Web!"], 2, err_has=("SERVICE 'Web!' is not a valid name",))
    dm.cli(["--json", "note", "web"], 2, err_has=("note has no --json form",))
    # the instance form: the command names the same daemon as the note did
    out, _ = cli.expect(["--instance", dm.instance, "note", "web"], 3,
                        err_has=(f"/run/sluice/{dm.instance}.sock",))


# ---------------------------------------------------------------- plot

DEMO = os.path.join(ROOT, "pcap-fixtures", "demo.pcap")
DEMO_INI = os.path.join(ROOT, "conf", "demo.ini")
DEMO_SCHED = os.path.join(ROOT, "conf", "demo.sched")
GUARD_SCHED = """\
at 2s rollout start web --steps 5%,20%,100% --dwell 4s --guard web-checkout
at 3s evidence push web --group blue --signal checkout-errors --total 95000 --bad 1710
at 4s evidence push web --group green --signal checkout-errors --total 5000 --bad 230
"""


def replay(d, plot, extra=(), env=None, config=DEMO_INI, sched=DEMO_SCHED):
    out = os.path.join(d, "out")
    cmd = [replay_exe(), "-c", config, "-r", DEMO, "-o", out, "--schedule", sched,
           "--plot", plot] + list(extra)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    rep = None
    if os.path.exists(os.path.join(out, "report.json")):
        with open(os.path.join(out, "report.json")) as f:
            rep = json.load(f)
    return p.returncode, p.stdout, p.stderr, rep


def path_points(d):
    """Vertices of the longest polyline ('M x,y L x,y ...') of an SVG path's
    data (gnuplot draws the key's sample line in the same path)."""
    return max([len(re.findall(r"[ML]\s*-?[0-9.]+\s*,\s*-?[0-9.]+", "M" + sub))
                for sub in d.split("M")[1:]] + [0])


def measured_paths(svg):
    """Per panel (service order), the longest path of its second plot (the
    measured share): gnuplot names the plots gnuplot_plot_<n><panel>."""
    root = ET.parse(svg).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    panels = {}
    for g in root.iter(ns + "g"):
        m = re.fullmatch(r"gnuplot_plot_2([a-z])", g.get("id", ""))
        if m:
            pts = [path_points(p.get("d", "")) for p in g.iter(ns + "path")]
            panels[m.group(1)] = max([panels.get(m.group(1), 0)] + pts)
    return [panels[k] for k in sorted(panels)], root


def svg_text(root):
    return " ".join("".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text"))


@test
def plot_svg(d):
    svg = os.path.join(d, "shares.svg")
    rc, so, se, rep = replay(d, svg)
    check(rc == 0 and se == "", f"exit {rc}: {se}")
    check(f"plot: {svg}" in so, f"the summary does not name the plot: {so[-500:]}")
    iv = rep["intervals"]
    span = (rep["last_ns"] - rep["first_ns"]) / 1e9 if "last_ns" in rep else None
    n = len(iv["samples"])
    check(iv["interval_ms"] == 1000 and n == 30, f"{n} intervals of {iv['interval_ms']} ms "
          "over a 29.8 s capture, expected 30 of 1000 ms")
    if span is not None:
        check(n == math.ceil(span), f"{n} intervals over {span} s")
    counts, root = measured_paths(svg)
    names = ["web", "web6", "dns"]
    want = [sum(1 for s in iv["samples"] if s["services"][x]["measured_share_bp"] is not None)
            for x in names]
    check(counts == want, f"measured points per panel {counts}, intervals with new flows {want}")
    check(want[0] >= 25, f"too few measured intervals for web: {want}")
    text = svg_text(root)
    for x in names:
        check(f"{x}: the challenger's share of new flows" in text, f"no panel title for {x}")
    for label in ("canary web 10%", "step 2/3: 50.00% (dwell 4s)", "abort web --reset"):
        check(label in text, f"the action {label!r} is not marked: {text[:2000]}")
    # the per-interval figures follow the flows the report counted
    tot = sum(s["services"]["web"]["challenger_flows"] + s["services"]["web"]["champion_flows"]
              for s in iv["samples"])
    flows = sum(sl["services"]["web"]["new_flows"] for sl in rep["slices"])
    check(tot == flows, f"intervals count {tot} new web flows, the slices {flows}")
    # a finer interval: more points
    svg2 = os.path.join(d, "fine.svg")
    rc, _, se, rep2 = replay(d, svg2, extra=["--interval", "500ms"])
    check(rc == 0, f"--interval 500ms: exit {rc}: {se}")
    counts2, _ = measured_paths(svg2)
    want2 = [sum(1 for s in rep2["intervals"]["samples"]
                 if s["services"][x]["measured_share_bp"] is not None) for x in names]
    check(len(rep2["intervals"]["samples"]) == 60 and counts2 == want2 and
          counts2[0] > counts[0], f"500 ms: {len(rep2['intervals']['samples'])} intervals, "
          f"points {counts2}, want {want2}")


@test
def plot_guard_verdicts(d):
    sched = os.path.join(d, "guard.sched")
    with open(sched, "w") as f:
        f.write(GUARD_SCHED)
    svg = os.path.join(d, "guard.svg")
    rc, _, se, rep = replay(d, svg, config=os.path.join(ROOT, "conf", "guards.ini"), sched=sched)
    check(rc == 0, f"exit {rc}: {se}")
    _, root = measured_paths(svg)
    text = svg_text(root)
    check("guard web-checkout -> abort" in text and "web-checkout: failed" in text,
          f"the guard's action and verdict are not marked: {text[:2000]}")


@test
def plot_png(d):
    png = os.path.join(d, "shares.png")
    rc, _, se, rep = replay(d, png, extra=["--quiet"])
    check(rc == 0, f"exit {rc}: {se}")
    with open(png, "rb") as f:
        data = f.read()
    check(data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"header {data[:16]!r}")
    w, h = struct.unpack(">II", data[16:24])
    check(w == 1000 and h == 900, f"{w}x{h}, expected 1000x900 (three panels)")
    check(len(data) > 20000, f"{len(data)} bytes: an empty drawing?")
    check(not os.path.exists(png + ".part"), "the partial file is left")


@test
def plot_refused(d):
    for name in ("shares.pdf", "shares", "shares.SVG", "shares.svg.gz"):
        bad = os.path.join(d, name)
        rc, so, se, rep = replay(d, bad)
        check(rc == 2 and f"--plot: '{bad}': expected a file name ending in .svg" in se,
              f"--plot {name}: exit {rc}: {se}")
        check(not os.path.exists(bad) and rep is None and
              not os.path.exists(os.path.join(d, "out")), f"--plot {name}: something written")
    rc, _, se, _ = replay(d, os.path.join(d, "x.svg"), extra=["--interval", "5ms"])
    check(rc == 2 and "--interval: '5ms': expected 10ms..1h" in se, f"exit {rc}: {se}")
    # no gnuplot on PATH: the package is named, nothing is replayed or drawn
    env = dict(os.environ, PATH="/nonexistent")
    svg = os.path.join(d, "none.svg")
    rc, _, se, rep = replay(d, svg, env=env)
    check(rc == 1 and "gnuplot is not installed" in se and "gnuplot-nox" in se,
          f"without gnuplot: exit {rc}: {se}")
    check(not os.path.exists(svg) and rep is None, "without gnuplot: something written")


def main():
    global BUILD
    a = harness.parse(__doc__, tests)
    BUILD = cli.BUILD = a.build
    for exe in (ctl(), replay_exe()):
        if not os.access(exe, os.X_OK):
            print(f"FAIL setup: {exe} is not built (--build DIR names the build)")
            print(f"\n0 passed, {len(a.todo)} failed")
            return 1
    return harness.run(a.todo, "sluice-observe-", a.keep)


if __name__ == "__main__":
    sys.exit(main())
