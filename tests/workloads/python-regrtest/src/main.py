"""CPython's own regression tests, run with unittest (not libregrtest, which wants a writable
temporary directory and subprocesses), the same way in the guest and on the host
(tests/e2e/python-regrtest.test.ts compares the two).

    main.py [--path DIR] [--traceback-lines N] [--list-passes] [MODULE ...]

MODULE is a test module or package (`test_json`, `test_asyncio.test_tasks`; `test.` is added);
without any, the subset of issue 10 (MODULES). --path DIR is put first on sys.path (the host run
points it at a copy of the image's lib/python3.13; the guest has that on sys.path already).

Output, one line each, for a machine to read:

    regrtest-platform: guest=yes|no subprocess=.. fork=.. threads=.. unix_bind=.. tzset=..
        stdout=ENCODING python=VERSION                  first: what the tests may use
    regrtest-case: MODULE STATUS TEST_ID :: DETAIL      every test that did not pass
        STATUS: skip (DETAIL = the reason), fail, error (DETAIL = the exception's last line),
        xfail (an expected failure), xpass (an unexpected success), load (the module failed to
        import: DETAIL says why; a unittest.SkipTest at import is a skip of the whole module),
        pass (only with --list-passes). A test counts once, by its worst outcome (a failing or
        skipped subtest is its test's).
    regrtest-skips: MODULE count=N :: REASON            the skips grouped by reason
    regrtest: MODULE run=N passed=N failed=N errors=N skipped=N xfail=N xpass=N seconds=S
    regrtest-done: modules=N run=N passed=N status=S     last; S is the exit status

A failing test's traceback follows its case line, each line prefixed with "  | " (at most
--traceback-lines lines, 40 by default). The exit status is 0 when no test failed or errored and
every module loaded, else 1.

The tests run in a new temporary directory (tempfile.mkdtemp; in the guest under the POSIX
layer's in-memory /tmp), removed at the end. Like `python -m test` without -u, no optional test
resource (cpu, network, largefile, ...) is enabled, and test.support.verbose is 0, so both sides
run the same tests.
"""

import os
import shutil
import sys
import tempfile
import time
import traceback
import unittest

MODULES = (
    "test_json",
    "test_re",
    "test_collections",
    "test_itertools",
    "test_functools",
    "test_dataclasses",
    "test_datetime",
    "test_math",
    "test_struct",
    "test_zlib",
    "test_asyncio.test_tasks",
    "test_asyncio.test_queues",
    "test_asyncio.test_locks",
    "test_asyncio.test_timeouts",
    "test_asyncio.test_streams",
)
DETAIL_CHARS_MAX = 300
STATUS_ORDER = {"pass": 0, "xfail": 1, "skip": 2, "xpass": 3, "fail": 4, "error": 5}


def one_line(text, limit=DETAIL_CHARS_MAX):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class RecordingResult(unittest.TestResult):
    """Each test's worst outcome by id (a failing subtest fails its test), with the detail."""

    def __init__(self, module, traceback_lines):
        super().__init__()
        self.module = module
        self.traceback_lines = traceback_lines
        self.outcomes = {}  # test id -> (status, detail)
        self.order = []

    def _record(self, test, status, detail, err=None):
        test_id = test.id()
        if test_id not in self.outcomes:
            self.order.append(test_id)
        old = self.outcomes.get(test_id)
        if old is None or STATUS_ORDER[status] > STATUS_ORDER[old[0]]:
            self.outcomes[test_id] = (status, one_line(detail))
        if err is not None:
            self._print(test_id, status, detail, err)

    def _print(self, test_id, status, detail, err):
        print(f"regrtest-case: {self.module} {status} {test_id} :: {one_line(detail)}")
        lines = "".join(traceback.format_exception(*err)).rstrip("\n").split("\n")
        for line in lines[-self.traceback_lines :]:
            print(f"  | {line}")

    @staticmethod
    def _last_line(err):
        return traceback.format_exception_only(err[0], err[1])[-1].strip()

    def addSuccess(self, test):
        super().addSuccess(test)
        self._record(test, "pass", "")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._record(test, "fail", self._last_line(err), err)

    def addError(self, test, err):
        super().addError(test, err)
        self._record(test, "error", self._last_line(err), err)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        # A skipped subtest (skipTest inside `with self.subTest(...)`) counts for its test.
        self._record(getattr(test, "test_case", test), "skip", reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._record(test, "xfail", self._last_line(err))

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._record(test, "xpass", "unexpected success")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is None:
            return
        status = "fail" if issubclass(err[0], test.failureException) else "error"
        self._record(test, status, f"{subtest._subDescription()} {self._last_line(err)}", err)

    def counts(self):
        statuses = [self.outcomes[test_id][0] for test_id in self.order]
        return {status: statuses.count(status) for status in STATUS_ORDER}


def run_module(name, traceback_lines, list_passes=False):
    """Runs one module; prints its lines; returns (counts, ok)."""
    full = name if name.startswith("test.") else f"test.{name}"
    short = full[len("test.") :]
    started = time.monotonic()
    try:
        suite = unittest.defaultTestLoader.loadTestsFromName(full)
    except unittest.SkipTest as skip:
        print(f"regrtest-case: {short} skip {full} :: {one_line(skip)}")
        print(f"regrtest-skips: {short} count=1 :: {one_line(skip)}")
        counts = dict.fromkeys(STATUS_ORDER, 0)
        counts["skip"] = 1
        print_counts(short, counts, 1, time.monotonic() - started)
        return counts, True
    except Exception as error:  # an import that fails is the module's failure, not the run's
        print(f"regrtest-case: {short} load {full} :: {one_line(repr(error))}")
        for line in traceback.format_exc().rstrip("\n").split("\n")[-traceback_lines:]:
            print(f"  | {line}")
        counts = dict.fromkeys(STATUS_ORDER, 0)
        counts["error"] = 1
        print_counts(short, counts, 1, time.monotonic() - started)
        return counts, False
    result = RecordingResult(short, traceback_lines)
    suite.run(result)
    counts = result.counts()
    reasons = {}
    for test_id in result.order:
        status, detail = result.outcomes[test_id]
        if status in ("skip", "xfail", "xpass") or (status == "pass" and list_passes):
            print(f"regrtest-case: {short} {status} {test_id} :: {detail}")
        if status == "skip":
            reasons[detail] = reasons.get(detail, 0) + 1
    for reason, count in sorted(reasons.items(), key=lambda item: (-item[1], item[0])):
        print(f"regrtest-skips: {short} count={count} :: {reason}")
    print_counts(short, counts, len(result.order), time.monotonic() - started)
    return counts, counts["fail"] == 0 and counts["error"] == 0


def print_counts(short, counts, run, seconds):
    print(
        f"regrtest: {short} run={run} passed={counts['pass']} failed={counts['fail']} "
        f"errors={counts['error']} skipped={counts['skip']} xfail={counts['xfail']} "
        f"xpass={counts['xpass']} seconds={seconds:.1f}"
    )


def in_guest():
    try:
        import ukernel
    except ImportError:
        return False
    return ukernel.available()


def describe_platform(support):
    """In the guest, tell test.support what the platform lacks, the way it is told for WASI and
    Emscripten, so the tests that need it are skipped with test.support's own reasons ("requires
    subprocess support", "requires threading support", "requires working os.fork()") rather than
    failing: the POSIX layer refuses clone/fork/execve (docs/posix-layer.md), and AF_UNIX
    sockets other than socketpair(). Must run before the test modules are imported (their
    decorators read these flags). Prints what it set."""
    import socket

    from test.support import socket_helper, threading_helper

    guest = in_guest()
    if guest:
        support.has_subprocess_support = False
        support.has_fork_support = False
        threading_helper.can_start_thread = False
    try:
        socket.socket(socket.AF_UNIX).close()
    except OSError as error:
        # socket_helper.skip_unless_bind_unix_socket catches a failing bind() but not a failing
        # socket(): record the failure the way it records one, so those tests are skipped
        # ("Requires a functional unix bind(): ...") instead of breaking the module's import.
        socket_helper._bind_nix_socket_error = error
    print(
        f"regrtest-platform: guest={'yes' if guest else 'no'} "
        f"subprocess={'yes' if support.has_subprocess_support else 'no'} "
        f"fork={'yes' if support.has_fork_support else 'no'} "
        f"threads={'yes' if threading_helper.can_start_thread else 'no'} "
        f"unix_bind={'no' if socket_helper._bind_nix_socket_error else 'yes'} "
        f"tzset={'yes' if hasattr(time, 'tzset') else 'no'} "
        f"stdout={sys.stdout.encoding} python={sys.version.split()[0]}"
    )


def main(argv):
    traceback_lines = 40
    list_passes = False
    modules = []
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--path" and args:
            sys.path.insert(0, args.pop(0))
        elif arg == "--list-passes":
            list_passes = True
        elif arg == "--traceback-lines" and args:
            traceback_lines = int(args.pop(0))
        elif arg.startswith("-"):
            print(__doc__, file=sys.stderr)
            return 2
        else:
            modules.append(arg)
    sys.stdout.reconfigure(errors="backslashreplace")
    # Like libregrtest, run in a fresh temporary directory: the tests create their files (TESTFN)
    # in the working directory. In the guest that is the POSIX layer's /tmp, in memory (the
    # image is read-only).
    work_dir = tempfile.mkdtemp(prefix="regrtest-")
    os.chdir(work_dir)
    from test import support

    support.verbose = 0
    support.use_resources = []
    describe_platform(support)
    total_run = total_passed = 0
    ok = True
    for name in modules or MODULES:
        counts, module_ok = run_module(name, traceback_lines, list_passes)
        total_run += sum(counts.values())
        total_passed += counts["pass"]
        ok = ok and module_ok
    status = 0 if ok else 1
    os.chdir("/")
    shutil.rmtree(work_dir, ignore_errors=True)
    print(
        f"regrtest-done: modules={len(modules or MODULES)} run={total_run} "
        f"passed={total_passed} status={status}"
    )
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
