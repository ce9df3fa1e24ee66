"""A worker pipeline on ukernel, in Python: a producer puts jobs on an asyncio.Queue, N workers
take them (awaiting simulated I/O with asyncio.sleep) and send results over a ukernel.Channel
(a kernel IPC channel, awaitable in asyncio), and the aggregator prints them. Every stage opens
a trace span and each result is a trace event (`ukernel trace` shows them); log records go to
`ukernel logs`.

    ukernel run -- [jobs] [workers]      (defaults: 24 jobs, 3 workers)

asyncio runs unchanged: its event loop waits in the kernel's io.poll, which also tells it when
the channel has a message or room for one.
"""

import asyncio
import struct
import sys
import time

import ukernel

PROJECT = "PROJECT_NAME"
JOBS_DEFAULT = 24
WORKERS_DEFAULT = 3
# The kernel keeps 16 spans open per task (task_spans_open_max): pipeline, producer, aggregator
# and one per worker must fit, or the extra ones become events (docs/python.md, spans).
WORKERS_MAX = 13
QUEUE_SLOTS = 8
RESULT = struct.Struct("<QQQ")  # job id, output, worker: one channel message


def work(value: int) -> int:
    """The job's computation: the sum of the squares below `value` (cheap, checkable)."""
    return sum(i * i for i in range(value))


async def producer(jobs: asyncio.Queue, count: int, workers: int) -> None:
    with ukernel.trace.span("producer"):
        for job_id in range(count):
            await jobs.put((job_id, 100 + job_id * 7))
        for _ in range(workers):
            await jobs.put(None)  # one stop marker per worker
    ukernel.log.info("producer done", jobs=count)


async def worker(index: int, jobs: asyncio.Queue, results: ukernel.Channel) -> None:
    done = 0
    with ukernel.trace.span(f"worker-{index}"):
        while (job := await jobs.get()) is not None:
            job_id, value = job
            await asyncio.sleep(0.002 * (1 + job_id % 3))  # the simulated I/O wait
            await results.send(RESULT.pack(job_id, work(value), index))
            done += 1
    ukernel.log.info("worker done", worker=index, jobs=done)


@ukernel.trace.span("aggregator")  # a span around every call of the coroutine
async def aggregator(results: ukernel.Channel, count: int) -> int:
    total = 0
    for _ in range(count):
        job_id, output, index = RESULT.unpack(await results.recv())
        ukernel.trace.event("result", job_id)
        print(f"job {job_id:3d} -> {output:9d} (worker {index})")
        total += output
    return total


async def main(argv: list[str]) -> int:
    count = int(argv[1]) if len(argv) > 1 else JOBS_DEFAULT
    workers = max(1, min(int(argv[2]) if len(argv) > 2 else WORKERS_DEFAULT, WORKERS_MAX))
    print(f"hello from {PROJECT}: {count} jobs, {workers} workers")
    ukernel.log.info("pipeline start", jobs=count, workers=workers)
    started = time.monotonic()
    with ukernel.trace.span("pipeline"):
        jobs: asyncio.Queue = asyncio.Queue(QUEUE_SLOTS)
        async with ukernel.Channel(QUEUE_SLOTS, RESULT.size) as results:
            tasks = [asyncio.create_task(worker(i, jobs, results)) for i in range(workers)]
            tasks.append(asyncio.create_task(producer(jobs, count, workers)))
            total = await aggregator(results, count)
            await asyncio.gather(*tasks)
    expected = sum(work(100 + job_id * 7) for job_id in range(count))
    elapsed_ms = (time.monotonic() - started) * 1000
    ukernel.log.info("pipeline done", jobs=count, total=total, elapsed_ms=round(elapsed_ms, 1))
    print(f"pipeline done: {count} results, total {total}")
    if total != expected:
        ukernel.log.error("wrong total", total=total, expected=expected)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv)))
