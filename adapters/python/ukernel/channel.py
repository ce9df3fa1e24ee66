"""`ukernel.Channel`: the kernel's bounded message channels (ipc.*), awaitable in asyncio.

A channel holds up to `capacity` messages of at most `message_bytes_max` bytes each. Sending to
a full channel waits (backpressure); receiving from an empty one waits. `send_nowait` and
`recv_nowait` never wait: they raise BlockingIOError instead. `await send(...)` and
`await recv()` wait without blocking the event loop: the channel's handle is given an fd by the
POSIX layer (uk_posix_adopt), asyncio's selector watches it (poll(2), served by io.poll, which
reports a channel readable when a message waits and writable when there is room), and the call
is retried when the fd turns ready.

Closing follows io.close (docs/abi.md): the first `close()` stops the channel: sends fail with
ChannelClosed at once, receivers get the messages left, then ChannelClosed. The second `close()`
releases the handle and its fd. Leaving an `async with` / `with` block, or dropping the last
reference, releases it too (the kernel has at most 64 channels).
"""

import os as _os

from . import _abi, _core

__all__ = ["Channel"]

_native = _core.native

_CAPACITY_DEFAULT = 64
_MESSAGE_BYTES_DEFAULT = 4096

_OPEN, _STOPPED, _RELEASED = 0, 1, 2


class Channel:
    """A bounded message channel.

    `Channel(capacity=64, message_bytes_max=4096)`: capacity 1 to the kernel's channel depth
    (1024), message_bytes_max 1 to 65536 (the kernel's message limit and WRITE_BYTES_MAX).
    Raises ValueError for values outside those, ukernel.Error (limit_reached, no_memory) when
    the kernel has no room, ukernel.Unavailable off the kernel.

    Messages are bytes: `send*` takes any bytes-like object of at most message_bytes_max bytes
    (longer: ukernel.Error too_large), `recv*` returns bytes. `async for message in channel`
    receives until the channel is closed and drained.
    """

    def __init__(self, capacity: int = _CAPACITY_DEFAULT,
                 message_bytes_max: int = _MESSAGE_BYTES_DEFAULT) -> None:
        self._state = _RELEASED  # Until the handle and fd exist, __del__ has nothing to do.
        for name, value, top in (("capacity", capacity, None),
                                 ("message_bytes_max", message_bytes_max, _abi.WRITE_BYTES_MAX)):
            if not isinstance(value, int) or value < 1 or (top is not None and value > top):
                limit = f"1 to {top}" if top else "a positive int"
                raise ValueError(f"ukernel.Channel: {name} must be {limit}, got {value!r}")
        result = _native.channel_create(capacity, message_bytes_max)
        if result == -_abi.E_OUT_OF_RANGE:
            raise ValueError(
                f"ukernel.Channel: capacity {capacity} or message_bytes_max {message_bytes_max} "
                "is beyond the kernel's channel limits (kernel/src/constants.zig channel_*)"
            )
        handle = _core.check("ipc.channel_create", result)
        fd = _native.adopt(handle)
        if fd < 0:
            _native.close(handle)
            _native.close(handle)
            raise OSError(-fd, f"ukernel.Channel: no fd for the channel: {_os.strerror(-fd)}")
        self._handle = handle
        self._fd = fd
        self._capacity = capacity
        self._message_bytes_max = message_bytes_max
        self._readers = []
        self._writers = []
        self._loop = None
        self._state = _OPEN

    def __repr__(self) -> str:
        state = ("open", "closed", "released")[self._state]
        return (f"<ukernel.Channel handle={getattr(self, '_handle', None)} "
                f"fd={getattr(self, '_fd', None)} {state}>")

    @property
    def capacity(self) -> int:
        """Messages the channel holds."""
        return self._capacity

    @property
    def message_bytes_max(self) -> int:
        """Largest message, in bytes."""
        return self._message_bytes_max

    @property
    def closed(self) -> bool:
        """True once close() has been called (or the channel released)."""
        return self._state != _OPEN

    def fileno(self) -> int:
        """The fd io.poll watches for this channel (readable: a message waits or the channel is
        closed; writable: there is room)."""
        self._live("fileno")
        return self._fd

    def _live(self, call: str) -> None:
        if self._state == _RELEASED:
            raise _core.ChannelClosed(call, _abi.E_CLOSED, "the channel was released")

    def send_nowait(self, message) -> None:
        """Sends one message without waiting. Raises BlockingIOError when the channel is full,
        ChannelClosed once it is closed, ukernel.Error too_large past message_bytes_max."""
        self._live("ipc.send")
        _core.check("ipc.send", _native.channel_send(self._handle, message,
                                                     _abi.FLAG_NONBLOCKING))

    def recv_nowait(self) -> bytes:
        """Receives one message without waiting. Raises BlockingIOError when the channel is
        empty, ChannelClosed once it is closed and drained."""
        self._live("ipc.recv")
        result = _native.channel_recv(self._handle, self._message_bytes_max,
                                      _abi.FLAG_NONBLOCKING)
        if result.__class__ is bytes:
            return result
        _core.check("ipc.recv", result)
        raise _core.Error("ipc.recv", 0, f"unexpected result {result!r}")

    async def send(self, message) -> None:
        """Sends one message, waiting (in the event loop) while the channel is full."""
        while True:
            try:
                return self.send_nowait(message)
            except BlockingIOError:
                await self._ready(self._writers)

    async def recv(self) -> bytes:
        """Receives one message, waiting (in the event loop) while the channel is empty. Raises
        ChannelClosed once the channel is closed and drained."""
        while True:
            try:
                return self.recv_nowait()
            except BlockingIOError:
                await self._ready(self._readers)

    def __aiter__(self) -> "Channel":
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self.recv()
        except _core.ChannelClosed:
            raise StopAsyncIteration from None

    async def _ready(self, waiters: list) -> None:
        """Waits until the fd is ready for `waiters`' direction (one selector registration per
        direction, shared by every coroutine waiting on it: asyncio keeps one per fd)."""
        import asyncio

        loop = asyncio.get_running_loop()
        if self._loop is not None and self._loop is not loop and (self._readers or self._writers):
            raise RuntimeError("ukernel.Channel: awaited from two event loops at once")
        self._loop = loop
        future = loop.create_future()
        if not waiters:
            if waiters is self._readers:
                loop.add_reader(self._fd, self._wake, waiters)
            else:
                loop.add_writer(self._fd, self._wake, waiters)
        waiters.append(future)
        try:
            await future
        finally:
            if future in waiters:
                waiters.remove(future)
                if not waiters:
                    self._unregister(waiters)

    def _unregister(self, waiters: list) -> None:
        if self._loop is None or self._loop.is_closed():
            return
        if waiters is self._readers:
            self._loop.remove_reader(self._fd)
        else:
            self._loop.remove_writer(self._fd)

    def _wake(self, waiters: list) -> None:
        """The fd is ready: every waiter retries (those that find nothing wait again)."""
        self._unregister(waiters)
        pending = waiters[:]
        waiters.clear()
        for future in pending:
            if not future.done():
                future.set_result(None)

    def close(self) -> None:
        """First call: stops the channel (io.close): sends raise ChannelClosed, receivers get
        what is left, then ChannelClosed; waiting coroutines wake. Second call: releases the
        handle and the fd. Later calls do nothing."""
        if self._state == _OPEN:
            self._state = _STOPPED
            _native.close(self._handle)
            for waiters in (self._readers, self._writers):
                if waiters:
                    self._wake(waiters)
        elif self._state == _STOPPED:
            self._release()

    def _release(self) -> None:
        if self._state == _RELEASED:
            return
        stopped = self._state == _STOPPED
        self._state = _RELEASED
        for waiters in (self._readers, self._writers):
            if waiters:
                self._wake(waiters)
        try:
            _os.close(self._fd)
        finally:
            if not stopped:
                _native.close(self._handle)
            _native.close(self._handle)

    def __enter__(self) -> "Channel":
        return self

    def __exit__(self, *exc_info) -> bool:
        self._release()
        return False

    async def __aenter__(self) -> "Channel":
        return self

    async def __aexit__(self, *exc_info) -> bool:
        self._release()
        return False

    def __del__(self) -> None:
        if getattr(self, "_state", _RELEASED) != _RELEASED:
            try:
                self._release()
            except Exception:
                pass
