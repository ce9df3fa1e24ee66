"""`import ukernel`: the ukernel ABI for Python workers.

    import ukernel

    ukernel.log.info("job done", job=7, ms=1.5)          # a log record (ukernel logs)
    with ukernel.trace.span("stage"):                     # a trace span (ukernel trace, perf)
        ...
    @ukernel.trace.span("fetch")                          # a span per call; async def too
    async def fetch(url): ...
    ukernel.trace.event("queue_depth", 12)                # an instant event with a value
    channel = ukernel.Channel(capacity=16)                # a bounded message channel
    await channel.send(b"job")                            # awaitable in asyncio (io.poll)
    message = await channel.recv()

Pure Python over the adapter's built-in `_ukernel` module (adapters/python/_ukernel.c); the
constants and error codes are generated from the ABI definition (`ukernel._abi`). Off the
kernel (a host CPython) the package imports and every call raises `ukernel.Unavailable`.
Full guide: docs/python.md, "import ukernel".
"""

from . import _abi, log, trace
from ._core import ChannelClosed, Error, Unavailable, available
from .channel import Channel

# Tracebacks name them as users spell them: ukernel.ChannelClosed, not ukernel._core.ChannelClosed.
for _class in (Error, ChannelClosed, Unavailable, Channel):
    _class.__module__ = "ukernel"
del _class

abi = _abi
ABI_VERSION = _abi.ABI_VERSION
now_ns = trace.now_ns

__all__ = ["log", "trace", "Channel", "Error", "ChannelClosed", "Unavailable", "available",
           "abi", "ABI_VERSION", "now_ns"]
