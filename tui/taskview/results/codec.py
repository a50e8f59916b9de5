"""Bytes of one result file -> the task's meta, or a short reason why not.

Celery does not record the serializer in the file, so it is sniffed from the
first bytes (FORMAT.md). Nothing here raises on bad input: every failure comes
back as ``Decoded.error``, a ``Problem`` with its kind and a one-line message.
"""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

import orjson

from ..text import summary
from .problems import Problem, ProblemKind

EMPTY, TRUNCATED, INVALID = ProblemKind.EMPTY, ProblemKind.TRUNCATED, ProblemKind.INVALID
NOT_A_RESULT, TOO_LARGE, UNSUPPORTED = ProblemKind.NOT_A_RESULT, ProblemKind.TOO_LARGE, ProblemKind.UNSUPPORTED

#: Celery 5.7's in-band compression marker (celery.backends.base).
COMPRESSED_MAGIC = b"\x00celery-compressed\x00"

#: Largest payload we decode, before or after decompression: a bound on memory
#: for huge results and decompression bombs. Bigger files get a clear error.
DEFAULT_MAX_BYTES = 256 * 1024 * 1024

PICKLE_REFUSED = Problem(
    ProblemKind.PICKLE_REFUSED,
    "pickle",
    ": not loaded (unpickling can run code); pass --allow-pickle if you trust this directory",
)

SERIALIZERS = ("json", "msgpack", "yaml", "pickle")

# orjson turns integers beyond 64 bits into floats; Python's json keeps them.
# A run of 19 digits is where such integers start; translate + find spots one
# in a tenth of the time of a regex, on the hot path of every JSON file.
DIGITS_ONLY = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
NINETEEN_DIGITS = b"0" * 19


#: What can come before a JSON number (before its sign, if any): [ , : or space.
_BEFORE_A_NUMBER = frozenset(b"[,: \t\n\r\x0b\x0c")
#: The same test as one regex: for files with many runs that are text (ids in strings).
_NUMBER_OF_19_DIGITS = re.compile(rb"[\[,:\s]-?[0-9]{19}")


def _has_long_number(data: bytes) -> bool:
    """Whether a run of 19 digits or more starts where a JSON number can start.

    A run after anything else (a quote, a letter: "1234...5678" as a string, a
    uuid's hex) is text, which orjson keeps exactly. Each run is looked at from
    its first digit (a regex over the whole file took 4 µs, ten times this).
    """
    digits = data.translate(DIGITS_ONLY)
    start = digits.find(NINETEEN_DIGITS)
    runs = 0
    while start >= 0:
        runs += 1
        if runs > 16:  # many runs, all text so far: the rest in one C pass
            return _NUMBER_OF_19_DIGITS.search(data, max(0, start - 2)) is not None
        before = start - 1
        if before >= 0 and data[before] == 0x2D:  # a minus sign
            before -= 1
        if before >= 0 and data[before] in _BEFORE_A_NUMBER:
            return True
        end = digits.find(b" ", start)  # the run's end: DIGITS_ONLY makes every other byte a space
        if end < 0:
            return False
        start = digits.find(NINETEEN_DIGITS, end)
    return False


TYPE_TAG = b'"__type__"'
_NOT_TEXT = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Decoded(NamedTuple):
    meta: Any  # a dict for a usable file; anything else is an error
    serializer: str | None
    compression: str | None  # content type after the magic, e.g. "application/x-gzip"
    error: Problem | None
    #: The meta holds only JSON's own types (str, int within 64 bits, finite
    #: float, bool, None, list, dict), so it can be re-encoded as it is.
    plain: bool = False


class DecodeError(Exception):
    """Why a payload cannot be decoded: raised with a ``Problem`` or its (kind, reason, detail)."""

    def __init__(self, kind: ProblemKind | Problem, reason: str = "", detail: str = "") -> None:
        self.problem = kind if isinstance(kind, Problem) else Problem(kind, reason, detail)
        super().__init__(self.problem.message)


def decode(
    data: bytes, *, allow_pickle: bool = False, max_bytes: int = DEFAULT_MAX_BYTES, exact: bool = True
) -> Decoded:
    """Decode one result file's bytes. Never raises for any input bytes.

    ``exact=False`` is for callers that read only the status: JSON values are
    then left as parsed (kombu's type tags kept, integers beyond 64 bits as
    floats), which skips the two costliest steps of the hot path.
    """
    compression = serializer = None
    try:
        if not data:
            raise DecodeError(EMPTY, "empty (being written?)")
        if len(data) > max_bytes:
            raise DecodeError(TOO_LARGE, "too large to decode", f" ({_size(len(data))} > {_size(max_bytes)})")
        if data.startswith(COMPRESSED_MAGIC):
            compression, data = _decompress(data, max_bytes)
            if not data:
                raise DecodeError(EMPTY, f"empty after {_compression_name(compression)} decompression")
        serializer = sniff(data)
        if serializer is None:
            raise DecodeError(
                NOT_A_RESULT, "not a Celery result", f": unrecognised binary data ({data[:8].hex(' ')}...)"
            )
        if serializer == "json" and (not exact or (TYPE_TAG not in data and not _has_long_number(data))):
            meta, plain = _load_plain_json(data)
            plain = plain and exact
        else:
            meta, plain = _LOADERS[serializer](data, allow_pickle), False
        if not isinstance(meta, dict):
            raise DecodeError(
                NOT_A_RESULT, "not a Celery result", f": {serializer} {type(meta).__name__}, not a mapping"
            )
        return Decoded(meta, serializer, compression, None, plain)
    except DecodeError as exc:
        return Decoded(None, serializer, compression, exc.problem)
    except RecursionError:
        return Decoded(None, serializer, compression, Problem(INVALID, f"{serializer or 'data'} nested too deeply"))
    except Exception as exc:  # a decoder library's own failure on hostile bytes
        problem = Problem(INVALID, f"undecodable {serializer or 'data'}", f": {_one_line(exc)}")
        return Decoded(None, serializer, compression, problem)


def sniff(data: bytes) -> str | None:
    """Which serializer wrote ``data`` (already decompressed), from its first bytes."""
    first = data[0]
    if first == 0x7B:  # "{": Celery's default, first so the hot path asks one question
        return "json"
    if first == 0x80 and len(data) > 1 and 2 <= data[1] <= 5:
        return "pickle"  # PROTO opcode: msgpack never has bytes after an empty fixmap
    if 0x80 <= first <= 0x8F or first in (0xDE, 0xDF):
        return "msgpack"  # fixmap / map16 / map32: the meta is always a map
    head = data[:64].lstrip()
    if head[:1] in (b"{", b"["):
        return "json"
    if head[:3] == b"(dp" or head[:2] == b"}q" or head[:2] == b"}(":
        return "pickle"  # protocols 0 and 1 (PICKLE_PROTOCOL=0/1 in the worker's env)
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or data[:3] == b"\xef\xbb\xbf":
        return "yaml"  # PyYAML honours a BOM; JSON writers never add one
    if _NOT_TEXT.search(data, 0, 4096):
        return None  # YAML, like JSON, is text: control characters mean something else
    try:
        data[:4096].decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < 4092:  # not just a multi-byte character cut by the slice
            return None
    return "yaml"


# --- compression -----------------------------------------------------------

_COMPRESSION_NAMES = {
    "application/x-gzip": "gzip",
    "application/x-bz2": "bzip2",
    "application/x-lzma": "lzma",
    "application/x-brotli": "brotli",
    "application/zstd": "zstd",
}


def _compression_name(content_type: str | None) -> str:
    return _COMPRESSION_NAMES.get(content_type or "", content_type or "?")


def _decompress(data: bytes, max_bytes: int) -> tuple[str, bytes]:
    content_type, sep, body = data[len(COMPRESSED_MAGIC) :].partition(b"\x00")
    try:
        ctype = content_type.decode("ascii")
    except UnicodeDecodeError:
        ctype = ""
    if not sep or not ctype or len(ctype) > 100 or not ctype.isprintable():
        raise DecodeError(TRUNCATED, "compressed, but the compression header is cut or corrupt")
    name = _compression_name(ctype)
    try:
        out = _inflate(ctype, body, max_bytes)
    except DecodeError:
        raise
    except Exception as exc:
        raise DecodeError(INVALID, f"broken {name} compression", f": {_one_line(exc)}") from None
    if len(out) > max_bytes:
        raise DecodeError(TOO_LARGE, "too large to decode", f": over {_size(max_bytes)} after {name} decompression")
    return ctype, out


def _inflate(ctype: str, body: bytes, max_bytes: int) -> bytes:
    """Decompress with a bound on output size; unknown types go to kombu's registry."""
    limit = max_bytes + 1
    if ctype == "application/x-gzip":  # kombu's "gzip" is a bare zlib stream
        import zlib

        d = zlib.decompressobj()
        out = d.decompress(body, limit)
        return _whole(out, d.eof, limit, "gzip")
    if ctype == "application/x-bz2":
        import bz2

        d2 = bz2.BZ2Decompressor()
        return _whole(d2.decompress(body, max_length=limit), d2.eof, limit, "bzip2")
    if ctype == "application/x-lzma":
        import lzma

        d3 = lzma.LZMADecompressor()
        return _whole(d3.decompress(body, max_length=limit), d3.eof, limit, "lzma")
    if ctype == "application/zstd":
        try:
            from compression import zstd  # Python 3.14+
        except ImportError:
            try:
                from backports import zstd  # the same module before 3.14
            except ImportError:
                raise DecodeError(
                    UNSUPPORTED, "compressed with zstd", ": pip install backports.zstd to read it"
                ) from None
        d4 = zstd.ZstdDecompressor()
        return _whole(d4.decompress(body, max_length=limit), d4.eof, limit, "zstd")
    if ctype == "application/x-brotli":
        try:
            import brotli
        except ImportError:
            raise DecodeError(UNSUPPORTED, "compressed with brotli", ": pip install brotli to read it") from None
        d5 = brotli.Decompressor()
        out = d5.process(body)
        return _whole(out, d5.is_finished(), limit, "brotli")
    # Anything else a kombu plugin may have registered.
    try:
        from kombu.compression import get_decoder

        decoder = get_decoder(ctype)
    except Exception:
        raise DecodeError(UNSUPPORTED, "compressed with unknown method", f" {ctype!r}") from None
    return decoder(body)


def _whole(out: bytes, eof: bool, limit: int, name: str) -> bytes:
    if len(out) >= limit:
        return out  # the caller reports "too large"
    if not eof:
        raise DecodeError(TRUNCATED, f"truncated {name} stream (being written?)")
    return out


# --- serializers -----------------------------------------------------------


def _load_plain_json(data: bytes) -> tuple[Any, bool]:
    """The hot path: JSON without type tags or integers orjson would turn into floats."""
    try:
        return orjson.loads(data), True
    except orjson.JSONDecodeError as exc:
        return _json_fallback(data, exc), False


def _load_json(data: bytes, _allow_pickle: bool) -> Any:
    if _has_long_number(data):
        return _load_json_stdlib(data)
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        return _json_fallback(data, exc)
    return restore_type_tags(value) if TYPE_TAG in data else value


def _json_fallback(data: bytes, exc: orjson.JSONDecodeError) -> Any:
    if exc.msg.startswith("unexpected end of data"):
        raise DecodeError(TRUNCATED, "truncated JSON", f" at byte {len(data)}") from None
    # Python's json reads what orjson refuses (NaN and Infinity, which Python
    # writes) and its errors give exact byte offsets for bad UTF-8.
    return _load_json_stdlib(data)


def _load_json_stdlib(data: bytes) -> Any:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(INVALID, "invalid UTF-8", f" at byte {exc.start}") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        rest = text[exc.pos :].strip()
        if not rest or exc.msg.startswith("Unterminated string"):
            raise DecodeError(TRUNCATED, "truncated JSON", f" at byte {len(data)}") from None
        byte = len(text[: exc.pos].encode("utf-8"))
        raise DecodeError(INVALID, "invalid JSON", f" at byte {byte}: {exc.msg}") from None
    return restore_type_tags(value) if TYPE_TAG in data else value


def _load_msgpack(data: bytes, _allow_pickle: bool) -> Any:
    import msgpack

    try:
        return msgpack.unpackb(data, raw=False)  # as kombu reads it
    except msgpack.ExtraData:
        raise DecodeError(INVALID, "invalid msgpack", ": extra bytes after the data") from None
    except ValueError as exc:
        if "incomplete" in str(exc) or "Unpack failed" in str(exc):
            raise DecodeError(TRUNCATED, "truncated msgpack", f" at byte {len(data)}") from None
        raise DecodeError(INVALID, "invalid msgpack", f": {_one_line(exc)}") from None


def _load_yaml(data: bytes, _allow_pickle: bool) -> Any:
    import yaml

    if not data.endswith(b"\n"):
        # PyYAML's dump always ends with a newline; without it the file was cut,
        # and a cut YAML file can still parse, into a dict missing its last keys.
        raise DecodeError(TRUNCATED, "truncated YAML", f" at byte {len(data)}")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(data, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise DecodeError(INVALID, "invalid YAML", f"{where}: {problem}") from None


def _load_pickle(data: bytes, allow_pickle: bool) -> Any:
    if not allow_pickle:
        raise DecodeError(PICKLE_REFUSED)
    import pickle

    from .pickled import loads_trusted

    try:
        return loads_trusted(data)
    except (EOFError, pickle.UnpicklingError) as exc:
        if isinstance(exc, EOFError) or "truncated" in str(exc):
            raise DecodeError(TRUNCATED, "truncated pickle", f" at byte {len(data)}") from None
        raise DecodeError(INVALID, "invalid pickle", f": {_one_line(exc)}") from None


_LOADERS = {"json": _load_json, "msgpack": _load_msgpack, "yaml": _load_yaml, "pickle": _load_pickle}


# --- kombu's JSON type tags ------------------------------------------------


def loads_plain_json(data: bytes, *, tags_as_repr: bool = False) -> dict | None:
    """The meta of a JSON file that needs none of ``decode``'s care, else None.

    The lean path of ``--dump``: a JSON object without integers beyond 64 bits
    (and, unless ``tags_as_repr``, without kombu's type tags), parsed by orjson
    into JSON's own types only. None sends the caller to ``decode``, which
    handles (and explains) everything else.
    """
    if _has_long_number(data):
        return None
    try:
        meta = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if type(meta) is not dict:
        return None
    if TYPE_TAG in data:
        if not tags_as_repr:
            return None
        restore_type_tags(meta, _TAG_REPRS)
    return meta


def restore_type_tags(value: Any, decoders: dict[str, Any] | None = None) -> Any:
    """Undo kombu's ``{"__type__": t, "__value__": v}`` envelopes, bottom-up.

    Unknown tags (a user's own ``register_type``) stay as plain dicts, where
    kombu would refuse the whole file: showing the data beats an error.
    Containers are changed in place (they were just parsed) and scalars are
    not visited: this runs on every tagged file of a scan. ``decoders`` maps
    tags to functions of ``__value__`` (default: back to Python objects).
    """
    if decoders is None:
        decoders = _TAG_DECODERS
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            if type(item) in _CONTAINERS:
                value[key] = restore_type_tags(item, decoders)
        if len(value) == 2 and "__type__" in value and "__value__" in value:
            decoder = decoders.get(value["__type__"]) if isinstance(value["__type__"], str) else None
            if decoder is not None:
                try:
                    return decoder(value["__value__"])
                except Exception:
                    return value
        return value
    if kind is list:
        for index, item in enumerate(value):
            if type(item) in _CONTAINERS:
                value[index] = restore_type_tags(item, decoders)
    return value


_CONTAINERS = (dict, list)


def _tag_decoders() -> dict[str, Any]:
    import base64
    import uuid
    from datetime import datetime, time
    from decimal import Decimal

    return {
        "datetime": datetime.fromisoformat,
        "date": lambda v: datetime.fromisoformat(v).date(),
        "time": time.fromisoformat,
        "decimal": Decimal,
        "uuid": lambda v: uuid.UUID(**v),
        "bytes": lambda v: v.encode("utf-8"),
        "base64": lambda v: base64.b64decode(v.encode("utf-8")),
    }


_TAG_DECODERS = _tag_decoders()
#: The same values as their repr, which is how --dump writes what JSON cannot hold
#: (headless.jsonable): restored straight to text, the meta stays plain JSON.
_TAG_REPRS = {tag: (lambda v, restore=restore: repr(restore(v))) for tag, restore in _TAG_DECODERS.items()}


# --- small helpers ---------------------------------------------------------


def _one_line(exc: BaseException) -> str:
    return summary(exc, 120) or type(exc).__name__


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"
