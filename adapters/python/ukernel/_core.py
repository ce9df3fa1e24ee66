"""The link between the `ukernel` package and the built-in `_ukernel` module: error mapping.

`_ukernel` (adapters/python/_ukernel.c) returns each ABI call's raw result: a non-negative value
or -code. `check` turns a negative one into the exception this package documents, with the
error's name from the ABI definition (`_abi.ERROR_NAMES`, generated from abi/ukernel.abi.json).

Where `_ukernel` is missing (a host CPython) or has no ABI table (not running on the kernel),
`native` is a stand-in whose every call raises `Unavailable`: `import ukernel` works anywhere,
and a call says why it cannot.
"""

import errno as _errno

from . import _abi

__all__ = ["Error", "ChannelClosed", "Unavailable", "check", "native", "available"]


class Error(Exception):
    """A ukernel ABI call failed.

    Attributes: `call` (the ABI call, e.g. "ipc.channel_create"), `code` (the ABI error code,
    docs/abi.md "Errors") and `name` (its name, e.g. "out_of_range").
    """

    def __init__(self, call: str, code: int, detail: str = "") -> None:
        self.call = call
        self.code = code
        self.name = _abi.ERROR_NAMES.get(code, f"error {code}")
        text = f"{call}: {self.name} (ABI error {code})"
        super().__init__(f"{text}: {detail}" if detail else text)


class ChannelClosed(Error):
    """The channel is closed: sending after close(), or receiving once it is closed and drained."""


class Unavailable(Error):
    """Not running on the ukernel kernel: this Python has no `_ukernel` ABI table."""

    def __init__(self, call: str, reason: str) -> None:
        Exception.__init__(self, f"{call}: {reason}")
        self.call = call
        self.code = 0
        self.name = "unavailable"
        self.reason = reason


def check(call: str, result: int) -> int:
    """`result` when it is not negative; else raises the ABI error -result as an exception:
    BlockingIOError (EAGAIN) for would_block, ChannelClosed for closed, Error otherwise."""
    if result >= 0:
        return result
    code = -result
    if code == _abi.E_WOULD_BLOCK:
        raise BlockingIOError(_errno.EAGAIN, f"{call}: would_block (the operation would wait)")
    if code == _abi.E_CLOSED:
        raise ChannelClosed(call, code)
    raise Error(call, code)


class _Missing:
    """Stands in for `_ukernel` when there is no kernel: every call raises Unavailable."""

    def __init__(self, reason: str) -> None:
        self._reason = reason

    def available(self) -> bool:
        return False

    def __getattr__(self, name: str):
        if not name.islower() or name.startswith("_"):
            raise AttributeError(name)  # Constants (LOG_KEY_BYTES_MAX): the caller's default.
        reason = self._reason

        def unavailable(*args, **kwargs):
            raise Unavailable(f"_ukernel.{name}", reason)

        return unavailable


def _load():
    try:
        import _ukernel
    except ImportError:
        return _Missing(
            "this Python has no _ukernel module: `import ukernel` works only inside a ukernel "
            "image built with `ukernel build` (language = \"python\")"
        )
    if getattr(_ukernel, "ABI_VERSION", None) != _abi.ABI_VERSION:
        return _Missing(
            f"_ukernel was built for ABI {getattr(_ukernel, 'ABI_VERSION', '?')} but this ukernel "
            f"package for ABI {_abi.ABI_VERSION}: rebuild the image"
        )
    if not _ukernel.available():
        return _Missing(
            "no ukernel ABI table: this Python is not running on the ukernel kernel"
        )
    return _ukernel


native = _load()


def available() -> bool:
    """Whether ukernel calls work here (running on the kernel, inside a ukernel image)."""
    return bool(native.available())
