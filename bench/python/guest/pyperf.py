"""A minimal stand-in for pyperf's Runner, enough to run pyperformance's run_benchmark.py files
unchanged (pyperformance/bm_*.py, MIT; bench/python/run.mjs takes them from pyperformance's PyPI wheel) in ONE process: pyperf itself
spawns worker processes, which the guest cannot (no fork/exec). The timing is pyperf's: a
function timed over `loops` outer loops with time.perf_counter, divided by loops × inner_loops;
a warm-up run first, then `runs` timed runs, all in this process.

Options (on sys.argv, after the benchmark's own): --loops N (0: calibrate, doubling from 1
until one run takes at least 0.1 s, as pyperf's --min-time), --runs N, --warmups N.

Prints one line per benchmark: `uk-bench pyperf {"name", "loops", "inner_loops",
"seconds": [per inner loop, one per run]}` (JSON).
"""

import argparse
import asyncio
import json
import sys
import time

perf_counter = time.perf_counter
MIN_TIME_S = 0.1
LOOPS_MAX = 1 << 20


class Runner:
    def __init__(self, add_cmdline_args=None, **_ignored):
        self.metadata = {}
        self.argparser = argparse.ArgumentParser()
        self.argparser.add_argument("--loops", type=int, default=0)
        self.argparser.add_argument("--runs", type=int, default=5)
        self.argparser.add_argument("--warmups", type=int, default=1)
        self.args = None

    def parse_args(self, args=None):
        if self.args is None:
            self.args = self.argparser.parse_args(args)
        return self.args

    def bench_time_func(self, name, time_func, *args, inner_loops=None, **_ignored):
        """time_func(loops, *args) returns the seconds it took for `loops` loops."""
        self._bench(name, lambda loops: time_func(loops, *args), inner_loops)

    def bench_func(self, name, func, *args, inner_loops=None, **_ignored):
        def timed(loops):
            t0 = perf_counter()
            for _ in range(loops):
                func(*args)
            return perf_counter() - t0

        self._bench(name, timed, inner_loops)

    def bench_async_func(self, name, func, *args, inner_loops=None, **_ignored):
        async def main(loops):
            t0 = perf_counter()
            for _ in range(loops):
                await func(*args)
            return perf_counter() - t0

        self._bench(name, lambda loops: asyncio.run(main(loops)), inner_loops)

    def _bench(self, name, timed, inner_loops):
        options = self.parse_args()
        loops = options.loops
        if loops <= 0:
            loops = 1
            while timed(loops) < MIN_TIME_S and loops < LOOPS_MAX:
                loops *= 2
        for _ in range(options.warmups):
            timed(loops)
        per = loops * (inner_loops or 1)
        seconds = [timed(loops) / per for _ in range(options.runs)]
        result = {"name": name, "loops": loops, "inner_loops": inner_loops or 1, "seconds": seconds}
        print("uk-bench pyperf " + json.dumps(result), flush=True)
