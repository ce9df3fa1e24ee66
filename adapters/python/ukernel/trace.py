"""Trace spans and events: `with ukernel.trace.span("stage"):`, `@ukernel.trace.span("stage")`,
`ukernel.trace.event("name", value)`.

`ukernel trace` (tables, `--export chrome`) and `ukernel perf` read them as they read a native
workload's (docs/observability.md).

How spans map to the kernel, and why asyncio needs care (docs/python.md "import ukernel"):
the kernel keeps a stack of open spans per ukernel TASK (at most 16, `task_spans_open_max` in
kernel/src/constants.zig), and a new span's parent is the innermost span open in the task. A
Python program is one ukernel task however many asyncio tasks it runs, so coroutines that
interleave also interleave their spans: they do not end in the order they began. The kernel
allows that: trace.span_end takes any open span's id and removes it from the stack wherever it
is (kernel/src/abi/calls.zig trace_span_end). So each span here is the kernel span it began,
ended by its id, and:
  - durations are exact whatever the interleaving;
  - a span's recorded parent is the span innermost in the task when it began, which under
    asyncio may be another coroutine's span (not necessarily the one lexically around it);
  - which span to end is kept per asyncio task (a context variable), so a span object shared by
    concurrent coroutines (a module-level `stage = span("stage")`) ends each one's own span;
  - past the kernel's 16 open spans per task (limit_reached), a span is recorded instead as an
    event of the same name whose value is its duration in ns (one warn record says so, once).
"""

import contextvars as _contextvars

from . import _abi, _core

__all__ = ["span", "event", "now_ns"]

_native = _core.native

# Code-object flags (CPython Include/cpython/code.h), read from __code__ instead of importing
# inspect (which would import dis, ast, enum... at start-up).
_CO_GENERATOR = 0x0020
_CO_COROUTINE = 0x0080
_CO_ASYNC_GENERATOR = 0x0200

# The spans open in this context (asyncio task), innermost last: (span object, kernel span id
# or 0 when recorded as an event, begin time in ns for those).
_open = _contextvars.ContextVar("ukernel.trace.open", default=())
_over_limit_reported = False


def _name_bytes(kind: str, name: object) -> bytes:
    if not isinstance(name, str):
        raise TypeError(f"ukernel.trace.{kind}: the name must be a str, not {type(name).__name__}")
    data = name.encode("utf-8", "backslashreplace")
    if not data or len(data) > _abi.NAME_BYTES_MAX:
        raise ValueError(
            f"ukernel.trace.{kind}: the name must be 1 to {_abi.NAME_BYTES_MAX} bytes of UTF-8, "
            f"got {len(data)}: {name[:80]!r}"
        )
    return data


def _report_over_limit(name: bytes) -> None:
    global _over_limit_reported
    if _over_limit_reported:
        return
    _over_limit_reported = True
    from . import log

    log.warn(
        "ukernel.trace: too many spans open at once in this task (the kernel's limit, "
        "task_spans_open_max); spans beyond it are recorded as events whose value is the "
        "duration in ns",
        span=name.decode("utf-8", "replace"),
    )


class span:
    """A trace span named `name` (1 to NAME_BYTES_MAX = 64 bytes of UTF-8).

    As a context manager, `with span("stage"):` covers the block; as a decorator,
    `@span("stage")` covers each call of a function, or, for an `async def` function, the whole
    awaited body of each call (suspensions included). Generator functions are refused
    (TypeError): the span would cover only the creation of the generator.

    One span object may be entered many times, nested or by concurrent coroutines: each entry
    opens its own kernel span and the matching exit ends that one. Entering returns the object.
    Raises TypeError/ValueError for a bad name, ukernel.Unavailable off the kernel; ending never
    raises (a span the kernel no longer knows is skipped).
    """

    __slots__ = ("name", "_name")

    def __init__(self, name: str) -> None:
        self._name = _name_bytes("span", name)
        self.name = name

    def __repr__(self) -> str:
        return f"ukernel.trace.span({self.name!r})"

    def __enter__(self) -> "span":
        result = _native.span_begin(self._name)
        if result > 0:
            opened = (self, result, 0)
        elif result == -_abi.E_LIMIT_REACHED:
            _report_over_limit(self._name)
            opened = (self, 0, _native.clock_now_ns())
        else:
            _core.check("trace.span_begin", result)
            raise _core.Error("trace.span_begin", 0, f"span id {result}")
        _open.set(_open.get() + (opened,))
        return self

    def __exit__(self, kind, value, traceback) -> bool:
        stack = _open.get()
        index = len(stack) - 1
        while index >= 0 and stack[index][0] is not self:
            index -= 1
        if index < 0:
            raise RuntimeError(f"{self!r} exited in a context where it was not entered")
        _open.set(stack[:index] + stack[index + 1 :])
        _, span_id, begin_ns = stack[index]
        if span_id:
            _native.span_end(span_id)  # out_of_range: already ended; nothing to do
        else:
            duration_ns = max(0, _native.clock_now_ns() - begin_ns)
            _native.event(self._name, duration_ns)
        return False

    def __call__(self, function):
        code = getattr(function, "__code__", None)
        flags = code.co_flags if code is not None else 0
        if flags & (_CO_GENERATOR | _CO_ASYNC_GENERATOR):
            raise TypeError(
                f"ukernel.trace.span: cannot decorate the generator function "
                f"{getattr(function, '__qualname__', function)!r}; use `with span(...)` inside it"
            )
        if flags & _CO_COROUTINE or hasattr(function, "_is_coroutine_marker"):

            async def traced(*args, **kwargs):
                with self:
                    return await function(*args, **kwargs)

        else:

            def traced(*args, **kwargs):
                with self:
                    return function(*args, **kwargs)

        for attribute in ("__module__", "__name__", "__qualname__", "__doc__"):
            try:
                setattr(traced, attribute, getattr(function, attribute))
            except AttributeError:
                pass
        traced.__dict__.update(getattr(function, "__dict__", {}))
        traced.__wrapped__ = function
        return traced


def event(name: str, value: int = 0) -> None:
    """An instant trace event `name` (1 to 64 bytes of UTF-8) with an integer `value` from 0 to
    2**64 - 1; `ukernel trace` shows count, min, max and last value per name. Raises
    TypeError/ValueError for a bad name or value, ukernel.Unavailable off the kernel."""
    data = _name_bytes("event", name)
    if not isinstance(value, int):
        raise TypeError(f"ukernel.trace.event: value must be an int, not {type(value).__name__}")
    if value < 0 or value >= 1 << 64:
        raise ValueError(f"ukernel.trace.event: value must be 0 to 2**64 - 1, got {value}")
    _core.check("trace.event", _native.event(data, value))


def now_ns() -> int:
    """The kernel's monotonic clock: nanoseconds since kernel entry (the clock of every log and
    trace record's t_ns)."""
    return _native.clock_now_ns()
