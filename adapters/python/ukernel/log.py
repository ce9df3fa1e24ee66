"""Log records: `ukernel.log.info("message", key=value, ...)`.

Each call writes one record with the ABI's log.write: a level, a message and up to
LOG_FIELDS_MAX (16) key/value fields. `ukernel logs` shows it as
`+12.345ms info  [task 0] message key=value` (`--level`, `--json`: docs/observability.md).

Values (and the message) are passed through str(); text is UTF-8, with characters UTF-8 cannot
carry (lone surrogates) written as backslash escapes. One record holds at most
_RECORD_BYTES_MAX (64 KiB) in all: the message, then the values in order, are cut (at a
character boundary) to what is left of it rather than refused, so a log call never fails on
its data (the kernel accepts a longer record but cannot store it: it is dropped). Raises
ValueError for more than 16 fields or a key longer than 255 bytes, ukernel.Unavailable off the
kernel.
"""

from . import _abi, _core

__all__ = ["debug", "info", "warn", "warning", "error", "write"]

_native = _core.native
_key_bytes_max = getattr(_native, "LOG_KEY_BYTES_MAX", 255)
_value_bytes_max = getattr(_native, "LOG_VALUE_BYTES_MAX", 65535)
# The kernel's events buffer, which one record must fit (kernel/src/constants.zig
# events_buffer_bytes; kernel/src/observe/events.zig reserve() drops a larger one), and a log
# record's layout there (docs/observability.md): a 20-byte header and 8 bytes, the message, then
# per field 4 bytes, the key and the value.
_RECORD_BYTES_MAX = 64 * 1024
_RECORD_FIXED_BYTES = 20 + 8
_FIELD_FIXED_BYTES = 4


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
    keys = []
    for key in fields:
        key_bytes = str(key).encode("utf-8", "backslashreplace")
        if len(key_bytes) > _key_bytes_max:
            raise ValueError(f"ukernel.log: field name longer than {_key_bytes_max} bytes")
        keys.append(key_bytes)
    # What the message and the values may take: the record less its fixed parts and the keys.
    left = _RECORD_BYTES_MAX - _RECORD_FIXED_BYTES - sum(_FIELD_FIXED_BYTES + len(k) for k in keys)
    text = message if message.__class__ is str else str(message)
    message_bytes = _encoded(text, min(_abi.WRITE_BYTES_MAX, left))
    left -= len(message_bytes)
    flat = []
    for key_bytes, value in zip(keys, fields.values()):
        value_bytes = _encoded(value if value.__class__ is str else str(value),
                               min(_value_bytes_max, left))
        left -= len(value_bytes)
        flat.append(key_bytes)
        flat.append(value_bytes)
    _core.check("log.write", _native.log_write(level, message_bytes, flat))


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
