"""The test runner the Python test files share.

* Fail and check: a failed expectation (its message is the test's FAIL line);
* registry(): a list of tests and the @test decorator that fills it;
* parse() and run(): the command line (--build, --keep, TEST... with unknown
  names refused) and the loop that runs each test in a temporary directory
  of its own and prints "PASS name (x s)" or "FAIL name: why" per test and a
  final "N passed, N failed" line, which tools/test.sh reads;
* Tally: the same counts for the namespace tests, which report their own
  PASS/FAIL lines;
* restore_dmac: the mac-mode rewrite of the fixtures' green group undone.
"""

import argparse
import os
import shutil
import tempfile
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# the green group's members in the fixtures' configurations (mac mode)
GREEN_MACS = {bytes.fromhex(m) for m in
              ("020000000c01", "020000000c02", "020000000c03")}
ROUTER_MAC = bytes.fromhex("020000000002")  # dst MAC of frames from clients


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def restore_dmac(frame):
    """Undo the mac-mode rewrite so the frame compares with its input."""
    if frame[:6] in GREEN_MACS:
        return ROUTER_MAC + frame[6:]
    return frame


def registry():
    """(tests, test): a list and the decorator that appends to it."""
    tests = []

    def test(fn):
        tests.append(fn)
        return fn
    return tests, test


def parse(doc, tests, explicit=(), options=None):
    """Parses --build DIR, --keep and TEST... (plus what options(parser)
    adds).  A name that is no test is a usage error (exit 2): a typo must not
    pass as "0 passed, 0 failed".  Returns the arguments with build made
    absolute and todo: the named tests (explicit ones only by name), or
    every test of tests."""
    ap = argparse.ArgumentParser(description=doc,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--keep", action="store_true", help="keep temporary directories")
    if options:
        options(ap)
    ap.add_argument("tests", nargs="*")
    a = ap.parse_args()
    a.build = os.path.abspath(a.build)
    named = {t.__name__: t for t in list(tests) + list(explicit)}
    unknown = [n for n in a.tests if n not in named]
    if unknown:
        ap.error("no test named " + ", ".join(unknown))
    a.todo = [named[n] for n in a.tests] if a.tests else list(tests)
    return a


def run(todo, prefix, keep=False):
    """Runs each test fn(tmp) in a new directory prefix + name + '-...';
    prints the PASS/FAIL lines and the summary; returns the exit status."""
    passed = failed = 0
    for t in todo:
        tmp = tempfile.mkdtemp(prefix=f"{prefix}{t.__name__}-")
        t0 = time.monotonic()
        try:
            t(tmp)
            passed += 1
            print(f"PASS {t.__name__} ({time.monotonic() - t0:.1f} s)", flush=True)
        except Fail as e:
            failed += 1
            print(f"FAIL {t.__name__}: {e}", flush=True)
        except Exception:
            failed += 1
            print(f"FAIL {t.__name__}: unexpected error\n{traceback.format_exc()}", flush=True)
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"     kept {tmp}")
    print(f"\n{passed} passed, {failed} failed")
    return 1 if failed else 0


class Tally:
    """PASS/FAIL lines with a detail, counted (the namespace tests)."""

    passed = failed = 0

    def report(self, name, ok, detail):
        print("%s %s%s" % ("PASS" if ok else "FAIL", name, (": " + detail) if detail else ""),
              flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed += 1
