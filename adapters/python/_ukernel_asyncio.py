"""asyncio without threads for name resolution (docs/python.md, "asyncio, sockets and faults").

Imported by the adapter's main (adapters/python/main.c) before the entry script; it lives in
the image's stdlib zip as a precompiled module (`ukernel build` adds it), so start-up compiles
nothing.

asyncio's BaseEventLoop.getaddrinfo and getnameinfo run socket.getaddrinfo/getnameinfo in the
loop's default executor, a thread pool: for every host that is not an IP literal ("localhost",
"" and None included), so for most create_connection, open_connection, create_server and
start_server calls. The guest has one thread: the executor fails with "can't start new
thread", and once it exists asyncio.run() fails at shutdown too. The POSIX layer answers both
calls without a thread (net.resolve: adapters/posix/src/netdb.zig), so the loop may call them
in place. A meta path finder waits for the first import of asyncio.base_events (a script that
never imports asyncio pays one call per import), lets the normal finders load it, gives
BaseEventLoop versions that call the socket functions directly, and removes itself. The
standard library is unchanged.

What does need a thread (loop.run_in_executor, asyncio.to_thread) raises RuntimeError "can't
start new thread", which the program may catch; but the default executor then exists, and
asyncio.run()'s shutdown_default_executor would start a thread to wait for its (never started)
threads: the program failed at exit even though it caught the error. When the executor has no
thread, shutting it down needs none: BaseEventLoop gets a shutdown_default_executor that does
that in place and leaves an executor with threads (a host CPython) to the original.
"""

import sys

MODULE = "asyncio.base_events"


async def getaddrinfo(self, host, port, *, family=0, type=0, proto=0, flags=0):
    import socket

    resolve = self._getaddrinfo_debug if self._debug else socket.getaddrinfo
    return resolve(host, port, family, type, proto, flags)


async def getnameinfo(self, sockaddr, flags=0):
    import socket

    return socket.getnameinfo(sockaddr, flags)


def _shutdown_default_executor(original):
    async def shutdown_default_executor(self, timeout=None):
        executor = self._default_executor
        if executor is None or getattr(executor, "_threads", None):
            return await original(self, timeout)
        # No thread ever started (each start raised): nothing to wait for, no thread needed.
        self._executor_shutdown_called = True
        executor.shutdown(wait=False)

    return shutdown_default_executor


def _patch(module):
    loop_class = module.BaseEventLoop
    if not getattr(loop_class.shutdown_default_executor, "_ukernel", False):
        shutdown = _shutdown_default_executor(loop_class.shutdown_default_executor)
        shutdown._ukernel = True
        loop_class.shutdown_default_executor = shutdown
    for function in (getaddrinfo, getnameinfo, loop_class.shutdown_default_executor):
        function.__module__ = module.__name__
        function.__qualname__ = "BaseEventLoop." + function.__name__
        setattr(loop_class, function.__name__, function)


class _Loader:
    """Runs the real loader, then patches the module; the module keeps the real loader."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        _patch(module)


class _Finder:
    def find_spec(self, name, path=None, target=None):
        if name != MODULE:
            return None
        sys.meta_path.remove(self)
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec = find(name, path, target) if find is not None else None
            if spec is not None:
                spec.loader = _Loader(spec.loader)
                return spec
        return None


def install():
    """Installs the finder, unless asyncio.base_events is already imported (then patches it)."""
    loaded = sys.modules.get(MODULE)
    if loaded is not None:
        _patch(loaded)
        return
    if not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Finder())


install()
