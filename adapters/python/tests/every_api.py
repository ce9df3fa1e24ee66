"""Uses every `import ukernel` API once and prints what it saw, one checkable line each.

Run by adapters/python/tests/host-test.sh (host, with the stand-in ABI table) and, as a
project's src/main.py, by tests/e2e/python-ukernel.test.ts (in the guest); both assert on the
"check:" lines and on the log and trace records. Exits 0 when every check holds, else 1.
"""

import asyncio
import contextlib
import sys

import ukernel

failures = []


def check(name: str, condition: bool, detail: object = "") -> None:
    print(f"check: {name} {'ok' if condition else 'FAILED'} {detail}".rstrip())
    if not condition:
        failures.append(name)


@ukernel.trace.span("py-decorated-sync")
def square(value: int) -> int:
    return value * value


@ukernel.trace.span("py-decorated-async")
async def slow_double(value: int, delay_s: float) -> int:
    await asyncio.sleep(delay_s)
    return value * 2


shared = ukernel.trace.span("py-shared")


async def interleaved(index: int, delay_s: float) -> int:
    # Two coroutines hold the same span object open at once and end in the opposite order.
    with shared:
        await asyncio.sleep(delay_s)
    return index


async def producer(channel: ukernel.Channel, count: int) -> None:
    for index in range(count):
        await channel.send(f"message {index}".encode())
    channel.close()


async def consumer(channel: ukernel.Channel) -> list:
    return [message async for message in channel]


async def main() -> int:
    check("available", ukernel.available())
    check("abi", ukernel.ABI_VERSION == ukernel.abi.ABI_VERSION, ukernel.ABI_VERSION)
    ukernel.log.debug("py-debug record", level="debug")
    ukernel.log.info("py-info record", job=7, ratio=1.5, text="a b")
    ukernel.log.warn("py-warn record", attempt=2)
    ukernel.log.error("py-error record", reason=ValueError("bad"))
    # Past what one events record holds (64 KiB in all): cut to fit, never dropped.
    ukernel.log.info("py-huge record " + "m" * 70000, big="v" * 70000)
    long_values = {f"f{i}": "é" * 40000 for i in range(ukernel.abi.LOG_FIELDS_MAX)}
    ukernel.log.info("py-huge fields", **long_values)
    try:
        ukernel.log.info("too many", **{f"k{i}": i for i in range(ukernel.abi.LOG_FIELDS_MAX + 1)})
        check("fields-limit", False)
    except ValueError as error:
        check("fields-limit", True, error)

    with ukernel.trace.span("py-outer"):
        check("sync-decorator", square(9) == 81)
        doubled = await slow_double(21, 0.01)
        check("async-decorator", doubled == 42)
        # The first coroutine's span begins first and ends first: out of the kernel's order.
        order = await asyncio.gather(interleaved(1, 0.01), interleaved(2, 0.04))
        check("interleaved-spans", order == [1, 2])
    ukernel.trace.event("py-event", 12345)
    # One more span than the kernel keeps open per task (16): the last is recorded as an event.
    deep = ukernel.trace.span("py-deep")
    depth = 17
    with contextlib.ExitStack() as stack:
        for _ in range(depth):
            stack.enter_context(deep)
    check("over-limit", True)
    try:
        ukernel.trace.span("x" * (ukernel.abi.NAME_BYTES_MAX + 1))
        check("name-limit", False)
    except ValueError:
        check("name-limit", True)

    begin = ukernel.now_ns()
    await asyncio.sleep(0.005)
    check("clock", ukernel.now_ns() - begin >= 5_000_000)

    channel = ukernel.Channel(capacity=2, message_bytes_max=64)
    try:
        channel.recv_nowait()
        check("recv-empty", False)
    except BlockingIOError:
        check("recv-empty", True)
    count = 10  # More than the capacity: the producer must wait for room.
    received, _ = await asyncio.wait_for(
        asyncio.gather(consumer(channel), producer(channel, count)), timeout=10
    )
    check("channel-round-trip", received == [f"message {i}".encode() for i in range(count)],
          len(received))
    try:
        channel.send_nowait(b"late")
        check("send-after-close", False)
    except ukernel.ChannelClosed:
        check("send-after-close", True)
    channel.close()  # The second close releases the handle and the fd.
    check("released", channel.closed)

    async with ukernel.Channel(capacity=4, message_bytes_max=16) as shared_channel:
        # Two coroutines wait on one channel (one selector registration): each gets a message.
        waiting = [asyncio.create_task(shared_channel.recv()) for _ in range(2)]
        await asyncio.sleep(0.01)
        shared_channel.send_nowait(b"first")
        shared_channel.send_nowait(b"second")
        got = await asyncio.wait_for(asyncio.gather(*waiting), timeout=10)
        check("two-receivers", sorted(got) == [b"first", b"second"], got)
        # A wait that times out leaves nothing registered; the channel still works after it.
        try:
            await asyncio.wait_for(shared_channel.recv(), timeout=0.01)
            check("recv-timeout", False)
        except TimeoutError:
            shared_channel.send_nowait(b"after")
            check("recv-timeout", await shared_channel.recv() == b"after")

    with ukernel.Channel(capacity=1, message_bytes_max=8) as small:
        small.send_nowait(b"12345678")
        try:
            small.send_nowait(b"x")
            check("send-full", False)
        except BlockingIOError:
            check("send-full", True)
        check("recv-nowait", small.recv_nowait() == b"12345678")

    print(f"every-api: {'ok' if not failures else 'FAILED ' + ' '.join(failures)}")
    return 1 if failures else 0


def fail_here() -> None:
    raise RuntimeError("every_api: raised on purpose")


if __name__ == "__main__":
    # `-- exit N`: sys.exit(N); `-- raise`: an uncaught exception (traceback, status 1);
    # `-- hash`: the str hash (fixed by PYTHONHASHSEED in etc/ukernel.env, else random).
    # `-- argv ARGS...`: the arguments as Python decoded them (UTF-8 mode), and sys.argv[0].
    if sys.argv[1:2] == ["argv"]:
        print(f"argv: {sys.argv[2:]!r} {sys.argv[0]} {sys.flags.utf8_mode}")
        sys.exit(0)
    if sys.argv[1:2] == ["hash"]:
        print(f"hash: {hash('ukernel')}")
        sys.exit(0)
    if sys.argv[1:2] == ["exit"]:
        sys.exit(int(sys.argv[2]))
    if sys.argv[1:2] == ["raise"]:
        fail_here()
    sys.exit(asyncio.run(main()))
