"""Faults that must end cleanly, with the right status, run by tests/e2e/python-faults.test.ts.

    ukernel run --memory 48 -- memory            allocate 1 MiB blocks until MemoryError,
                                                 catch it, free them; the same with small
                                                 objects; allocate again, exit 0
    ukernel run --memory 48 -- memory-uncaught   the same, not caught: traceback, exit 1
    ukernel run -- recursion                     RecursionError from Python recursion and from
                                                 C recursion (json, repr, pickle, ==, of a
                                                 100,000-deep list; a __repr__ calling repr
                                                 under a raised recursion limit), each
                                                 caught: exit 0
    ukernel run -- recursion-uncaught            Python recursion, not caught: exit 1
    ukernel run -- c-recursion-uncaught          json.dumps of the deep list, not caught: exit 1
    ukernel run -- unserved                      os.getpriority twice: a system call the POSIX
                                                 layer does not serve (ENOSYS, one log record)
    ukernel run -- executor                      asyncio.to_thread and run_in_executor raise
                                                 RuntimeError (no threads), caught; then
                                                 asyncio.run returns 0 (its shutdown of the
                                                 default executor needs no thread): exit 0
"""

import errno
import json
import os
import pickle
import sys


def allocate_until_exhausted():
    blocks = []
    while True:
        blocks.append(bytearray(1 << 20))  # zeroed, so every page is touched


def allocate_small_until_exhausted():
    objects = []
    while True:
        objects.append((len(objects), str(len(objects))))  # pymalloc's arenas


def memory():
    for name, allocate in (("1 MiB blocks", allocate_until_exhausted),
                           ("small objects", allocate_small_until_exhausted)):
        try:
            allocate()
        except MemoryError:
            # What was allocated was freed when the frame unwound: there is room again.
            print(f"memory: {name}: MemoryError caught")
    total = sum(len(bytearray(1 << 20)) for _ in range(8))
    print(f"memory: allocated {total >> 20} MiB again after it")
    return 0


def recurse(depth):
    return recurse(depth + 1) + 1


def deep_list(depth):
    deep = []
    for _ in range(depth):
        deep = [deep]
    return deep


class Nested:
    """repr() recurses through C and Python frames in turn: the C recursion limit
    (Py_C_RECURSION_LIMIT, 10000) must stop it before the 8 MiB stack ends."""

    def __init__(self, inner):
        self.inner = inner

    def __repr__(self):
        return f"Nested({self.inner!r})"


def deep_nested(depth):
    nested = None
    for _ in range(depth):
        nested = Nested(nested)
    return nested


def deep_repr(nested):
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1_000_000)  # only the C limit is left to stop it
    try:
        return repr(nested)
    finally:
        sys.setrecursionlimit(limit)


def recursion():
    try:
        recurse(0)
        print("recursion: python: no error")
    except RecursionError as error:
        print(f"recursion: python: RecursionError caught ({error})")
    deep = deep_list(100_000)
    other = deep_list(100_000)
    cases = [("json.dumps", lambda: json.dumps(deep)), ("repr", lambda: repr(deep)),
             ("pickle.dumps", lambda: pickle.dumps(deep)), ("==", lambda: deep == other),
             ("json.loads", lambda: json.loads("[" * 100_000 + "]" * 100_000)),
             ("__repr__", lambda: deep_repr(deep_nested(100_000)))]
    failed = 0
    for name, case in cases:
        try:
            case()
            print(f"recursion: {name}: no error")
            failed += 1
        except RecursionError as error:
            print(f"recursion: {name}: RecursionError caught ({error})")
    return 1 if failed else 0


def unserved():
    for attempt in (1, 2):
        try:
            os.getpriority(os.PRIO_PROCESS, 0)
            print(f"unserved: getpriority {attempt}: no error")
        except OSError as error:
            name = errno.errorcode.get(error.errno, error.errno)
            print(f"unserved: getpriority {attempt}: OSError {name}")
    return 0


async def executor_caught():
    import asyncio

    loop = asyncio.get_running_loop()
    for name, start in (("to_thread", lambda: asyncio.to_thread(sum, [1, 2])),
                        ("run_in_executor", lambda: loop.run_in_executor(None, sum, [1, 2]))):
        try:
            await start()
            print(f"executor: {name}: no error")
        except RuntimeError as error:
            print(f"executor: {name}: RuntimeError caught ({error})")
    return 0


def executor():
    import asyncio

    status = asyncio.run(executor_caught())
    print(f"executor: asyncio.run returned {status}")
    return status


def main(argv):
    mode = argv[1] if len(argv) > 1 else ""
    if mode == "memory":
        return memory()
    if mode == "memory-uncaught":
        allocate_until_exhausted()
    if mode == "recursion":
        return recursion()
    if mode == "recursion-uncaught":
        recurse(0)
    if mode == "c-recursion-uncaught":
        json.dumps(deep_list(100_000))
    if mode == "unserved":
        return unserved()
    if mode == "executor":
        return executor()
    print(f"unknown mode {mode!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
