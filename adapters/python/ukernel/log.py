"""Log records: `ukernel.log.info("message", key=value, ...)`.

Each call writes one record with the ABI's log.write: a level, a message and up to
LOG_FIELDS_MAX (16) key/value fields. `ukernel logs` shows it as
`+12.345ms info  [task 0] message key=value` (`--level`, `--json`: docs/observability.md).

Values (and the message) are passed through str(); text is UTF-8, with characters UTF-8 cannot
carry (lone surrogates) written as backslash escapes. A message longer than WRITE_BYTES_MAX
(64 KiB) or a value longer than the events record's 65535 bytes is cut to it (at a character
boundary) rather than refused, so a log call never fails on its data. Raises ValueError for
more than 16 fields or a key longer than 255 bytes, ukernel.Unavailable off the kernel.
"""

from . import _abi, _core

__all__ = ["debug", "info", "warn", "warning", "error", "write"]

_native = _core.native
_key_bytes_max = getattr(_native, "LOG_KEY_BYTES_MAX", 255)
_value_bytes_max = getattr(_native, "LOG_VALUE_BYTES_MAX", 65535)


def _encoded(text: str, bytes_max: int) -> bytes:
    data = text.encode("utf-8", "backslashreplace")
    if len(data) <= bytes_max:
        return data
    # Cut, then drop a character the cut split (its leading bytes would be invalid UTF-8).
    return data[:bytes_max].decode("utf-8", "ignore").encode("utf-8")


def write(level: int, message: object, fields: dict) -> None:
    """One log record at `level` (LOG_LEVEL_DEBUG 0 to LOG_LEVEL_ERROR 3) with `fields`."""
    if len(fields) > _abi.LOG_FIELDS_MAX:
        raise ValueError(
            f"ukernel.log: {len(fields)} fields, at most {_abi.LOG_FIELDS_MAX} per record"
        )
    flat = []
    for key, value in fields.items():
        key_bytes = str(key).encode("utf-8", "backslashreplace")
        if len(key_bytes) > _key_bytes_max:
            raise ValueError(f"ukernel.log: field name longer than {_key_bytes_max} bytes")
        flat.append(key_bytes)
        flat.append(_encoded(value if value.__class__ is str else str(value), _value_bytes_max))
    text = message if message.__class__ is str else str(message)
    _core.check(
        "log.write", _native.log_write(level, _encoded(text, _abi.WRITE_BYTES_MAX), flat)
    )


def debug(message: object, /, **fields: object) -> None:
    """A debug record: `ukernel.log.debug("cache miss", key=k)`."""
    write(_abi.LOG_LEVEL_DEBUG, message, fields)


def info(message: object, /, **fields: object) -> None:
    """An info record: `ukernel.log.info("job done", job=7, ms=1.5)`."""
    write(_abi.LOG_LEVEL_INFO, message, fields)


def warn(message: object, /, **fields: object) -> None:
    """A warn record: `ukernel.log.warn("retrying", attempt=2)`."""
    write(_abi.LOG_LEVEL_WARN, message, fields)


warning = warn


def error(message: object, /, **fields: object) -> None:
    """An error record: `ukernel.log.error("job failed", job=7, reason=exc)`."""
    write(_abi.LOG_LEVEL_ERROR, message, fields)
