import time; FIRST_LINE_NS = time.monotonic_ns()  # noqa: E702 — first, before anything else
"""bench/python's guest program (and the same file on the host python3.13). Its first line reads
the clock: in the guest CLOCK_MONOTONIC is the kernel's clock, ns since kernel entry, so
FIRST_LINE_NS is "kernel entry → first line of main.py".

    main.py startup                      first line, then `import asyncio`; prints both times
    main.py pyperf RUNS NAME=LOOPS...    pyperformance benchmarks (pyperformance/bm_NAME.py)
                                         through the pyperf stand-in (pyperf.py), in this
                                         process; LOOPS 0 calibrates
    main.py server PORT                  the asyncio HTTP server of server.py on 0.0.0.0:PORT
"""
import sys

HERE = __file__.rpartition("/")[0] or "."
# Arguments pyperformance gives each benchmark (its pyproject's extra_opts).
BENCH_ARGS = {"async_tree": ["none"]}


def pyperf_benches(runs, specs):
    import runpy

    if HERE not in sys.path:
        sys.path.insert(0, HERE)  # pyperf.py (the host runs this file with -I)
    for spec in specs:
        name, _, loops = spec.partition("=")
        sys.argv = [f"bm_{name}.py", *BENCH_ARGS.get(name, []), "--runs", runs, "--loops", loops or "0"]
        runpy.run_path(f"{HERE}/pyperformance/bm_{name}.py", run_name="__main__")


def main(argv):
    mode = argv[1] if len(argv) > 1 else "startup"
    if mode == "startup":
        import asyncio  # noqa: F401 — what is timed

        asyncio_ns = time.monotonic_ns()
        print(f"uk-bench startup first_line_ns={FIRST_LINE_NS} asyncio_ns={asyncio_ns}", flush=True)
    elif mode == "pyperf":
        pyperf_benches(argv[2], argv[3:])
    elif mode == "server":
        sys.path.insert(0, HERE)
        import server

        server.serve(int(argv[2]))
    else:
        print(f"unknown mode {mode}", file=sys.stderr)
        return 2
    return 0


sys.exit(main(sys.argv))
