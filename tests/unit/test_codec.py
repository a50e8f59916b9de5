"""The decoder on real worker files, on every way a file can be bad, and on any bytes at all."""

from __future__ import annotations

import bz2
import pickle
import pickletools
import re
import zlib

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from helpers.samples import SAMPLE_RESULTS, sample_file
from taskview.results.codec import (
    COMPRESSED_MAGIC,
    PICKLE_REFUSED,
    Decoded,
    _has_long_number,
    decode,
    sniff,
)
from taskview.results.problems import ProblemKind

EMPTY, TRUNCATED, INVALID = ProblemKind.EMPTY, ProblemKind.TRUNCATED, ProblemKind.INVALID
NOT_A_RESULT, TOO_LARGE, UNSUPPORTED = ProblemKind.NOT_A_RESULT, ProblemKind.TOO_LARGE, ProblemKind.UNSUPPORTED

REAL_FILES = sorted(p for p in SAMPLE_RESULTS.iterdir() if p.name.startswith("celery-"))


def test_sample_results_are_all_decodable():
    assert len(REAL_FILES) >= 15
    for path in REAL_FILES:
        decoded = decode(path.read_bytes())
        assert decoded.error is None, (path.name, decoded.error)
        assert decoded.serializer == "json"
        assert isinstance(decoded.meta, dict)


def test_kombu_type_tags_are_restored_like_kombu():
    from kombu.utils.json import loads as kombu_loads

    raw = sample_file("sampletasks.typed").read_bytes()
    assert b'"__type__"' in raw
    decoded = decode(raw)
    assert decoded.meta == kombu_loads(raw)
    assert not decoded.plain  # must not be re-encoded as plain JSON


def test_plain_json_is_flagged_plain():
    decoded = decode(sample_file("sampletasks.add").read_bytes())
    assert decoded.plain and decoded.error is None


# --- what in-between and bad files look like -------------------------------------------


def large_file() -> bytes:
    raw = sample_file("sampletasks.large_result").read_bytes()
    assert len(raw) > 131072
    return raw


@pytest.mark.parametrize(
    "data, kind, reason",
    [
        (b"", EMPTY, "empty (being written?)"),
        (large_file()[:8192], TRUNCATED, "truncated JSON at byte 8192"),
        (large_file()[:131072], TRUNCATED, "truncated JSON at byte 131072"),
        (b"\x00\x01\x02binary\xff\xfe", NOT_A_RESULT, "not a Celery result: unrecognised binary data"),
        (b"[1, 2, 3]", NOT_A_RESULT, "not a Celery result: json list, not a mapping"),
        (b'"just a string"\n', NOT_A_RESULT, "not a Celery result: yaml str, not a mapping"),
        (b'{"status": "SUCCESS", "result": "caf\xe9"}', INVALID, "invalid UTF-8 at byte 36"),
        (b'{"status": "SUCCESS" "result": 1}', INVALID, "invalid JSON at byte 21"),
        (COMPRESSED_MAGIC + b"application/x-gzip\x00not zlib at all", INVALID, "broken gzip compression"),
        (COMPRESSED_MAGIC + b"application/x-gzip", TRUNCATED, "compressed, but the compression header is cut"),
        (
            COMPRESSED_MAGIC + b"application/x-gzip\x00" + zlib.compress(b'{"status": "SUCCESS"}')[:10],
            TRUNCATED,
            "truncated gzip",
        ),
        (COMPRESSED_MAGIC + b"application/x-bz2\x00" + bz2.compress(b'{"a": 1}')[:-5], TRUNCATED, "truncated bzip2"),
        (
            COMPRESSED_MAGIC + b"application/x-made-up\x00xx",
            UNSUPPORTED,
            "compressed with unknown method 'application/x-made-up'",
        ),
        (b"\x86\xa6status\xa7SUCCESS\xa6result", TRUNCATED, "truncated msgpack"),
        (pickle.dumps({"status": "SUCCESS"}, protocol=4), ProblemKind.PICKLE_REFUSED, PICKLE_REFUSED.message),
        (pickle.dumps({"status": "SUCCESS"}, protocol=0), ProblemKind.PICKLE_REFUSED, PICKLE_REFUSED.message),
        (b"status: [unclosed\n", INVALID, "invalid YAML at line 2"),
        (b"status: SUCCESS\nresult: 4\ntask_id: ab", TRUNCATED, "truncated YAML at byte 37"),
        (
            COMPRESSED_MAGIC + b"application/x-gzip\x00" + zlib.compress(b"{" + b" " * 4096 + b"}"),
            TOO_LARGE,
            "too large to decode: over 1.0 KiB after gzip decompression",
        ),
    ],
    # the reason names each case: the bytes would make an id too long to pass as an argument (mutmut does)
    ids=lambda v: v if isinstance(v, str) else v.name if isinstance(v, ProblemKind) else "data",
)
def test_bad_content_gets_a_kind_and_a_short_reason(data: bytes, kind: ProblemKind, reason: str):
    decoded = decode(data, max_bytes=1024) if kind is TOO_LARGE else decode(data)
    assert decoded.meta is None
    assert decoded.error is not None and decoded.error.message.startswith(reason), decoded.error
    assert decoded.error.kind is kind
    assert decoded.error.partial == (kind in (EMPTY, TRUNCATED))


def test_partial_writes_are_recognised_as_partial():
    assert decode(b"").error.partial
    assert decode(large_file()[:8192]).error.partial
    assert decode(b"status: SUCCESS\nresu").error.partial
    assert not decode(b"[1]").error.partial


def test_decompression_bomb_is_bounded():
    bomb = COMPRESSED_MAGIC + b"application/x-gzip\x00" + zlib.compress(b"{" + b" " * (8 * 1024 * 1024) + b"}")
    decoded = decode(bomb, max_bytes=1024 * 1024)
    assert decoded.error is not None and decoded.error.message.startswith("too large to decode")


def test_json_that_orjson_would_mangle_is_read_like_python():
    # Python's json (and so Celery) writes these; orjson alone would turn the int into a float.
    decoded = decode(b'{"status": "SUCCESS", "result": [123456789012345678901234567890, NaN]}')
    assert decoded.error is None
    big, nan = decoded.meta["result"]
    assert big == 123456789012345678901234567890 and isinstance(big, int)
    assert nan != nan
    assert not decoded.plain


def test_sniffing_picks_each_serializer_from_its_first_bytes():
    assert sniff(b'{"a": 1}') == "json"
    assert sniff(b"\x86\xa6status") == "msgpack"
    assert sniff(b"\xde\x00\x10") == "msgpack"
    assert sniff(pickle.dumps({}, protocol=2)) == "pickle"
    assert sniff(pickle.dumps({}, protocol=5)) == "pickle"
    # protocols 0 and 1: "(dp" and "}q" as pickle writes them; "}(" once its unused memo
    # puts are taken out (pickletools.optimize)
    assert sniff(pickle.dumps({"status": "SUCCESS"}, protocol=0)) == "pickle"
    assert sniff(pickle.dumps({"status": "SUCCESS"}, protocol=1)) == "pickle"
    meta = {"status": "SUCCESS", "result": 1}  # two keys and more: a MARK, then SETITEMS
    assert sniff(pickletools.optimize(pickle.dumps(meta, protocol=1))) == "pickle"
    assert sniff(b"children: []\nstatus: SUCCESS\n") == "yaml"
    assert sniff(b"\x00\x00\x00") is None


# --- pickle ---------------------------------------------------------------------------------


class _Boom:
    """Unpickling this would create a file: the canary for "never unpickled"."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_pickle_is_never_loaded_without_allow_pickle(tmp_path):
    canary = tmp_path / "created-by-unpickling"
    payload = pickle.dumps({"status": "SUCCESS", "result": _Boom(str(canary))})
    decoded = decode(payload)
    assert decoded.error == PICKLE_REFUSED and decoded.serializer == "pickle"
    assert not canary.exists()
    # The canary is a real one: with the opt-in, loading it does create the file.
    decode(payload, allow_pickle=True)
    assert canary.exists()


def test_pickled_exception_of_an_unimportable_class_keeps_its_name_and_message():
    # A pickle as a worker writes it for `raise billing.errors.CardDeclined("card 4242 declined")`,
    # whose module this process cannot import.
    payload = (
        b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x06status\x94\x8c\x07FAILURE\x94"
        b"\x8c\x06result\x94\x8c\x0ebilling.errors\x94\x8c\x0cCardDeclined\x94\x93\x94"
        b"\x8c\x12card 4242 declined\x94\x85\x94R\x94u."
    )
    decoded = decode(payload, allow_pickle=True)
    assert decoded.error is None, decoded.error
    exc = decoded.meta["result"]
    assert type(exc).__name__ == "CardDeclined"
    assert type(exc).__module__ == "billing.errors"
    assert exc.args == ("card 4242 declined",)
    assert repr(exc) == "CardDeclined('card 4242 declined')"


# --- fuzzing: any bytes in, a meta dict or a clear error out -----------------------------------


def _check(decoded: Decoded) -> None:
    assert isinstance(decoded, Decoded)
    if decoded.error is None:
        assert isinstance(decoded.meta, dict)
    else:
        assert decoded.meta is None
        message = decoded.error.message
        assert isinstance(decoded.error.kind, ProblemKind)
        assert isinstance(message, str) and message and "\n" not in message
        assert len(message) < 300


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_fuzz_any_bytes(data: bytes):
    # Never with allow_pickle=True: random bytes may name any importable callable.
    _check(decode(data))


_REAL_BYTES = [p.read_bytes() for p in REAL_FILES if p.stat().st_size < 20000]


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(_REAL_BYTES),
    st.integers(min_value=0, max_value=4000),
    st.binary(min_size=0, max_size=8),
    st.sampled_from(["cut", "flip", "insert"]),
)
def test_fuzz_mutated_real_files(base: bytes, at: int, junk: bytes, how: str):
    at = at % (len(base) + 1)
    if how == "cut":
        data = base[:at]
    elif how == "flip":
        data = base[:at] + junk + base[at + len(junk) :]
    else:
        data = base[:at] + junk + base[at:]
    _check(decode(data))


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(_REAL_BYTES),
    st.sampled_from(
        ["application/x-gzip", "application/x-bz2", "application/x-lzma", "application/x-brotli", "application/zstd"]
    ),
)
def test_fuzz_compressed_then_cut(base: bytes, ctype: str):
    import lzma

    import brotli

    try:
        from compression import zstd  # Python 3.14+
    except ImportError:
        from backports import zstd

    compress = {
        "application/x-gzip": zlib.compress,
        "application/x-bz2": bz2.compress,
        "application/x-lzma": lzma.compress,
        "application/x-brotli": brotli.compress,
        "application/zstd": zstd.compress,
    }[ctype]
    whole = COMPRESSED_MAGIC + ctype.encode() + b"\x00" + compress(base)
    assert decode(whole).meta == decode(base).meta
    for cut in range(len(COMPRESSED_MAGIC), len(whole), max(1, len(whole) // 7)):
        decoded = decode(whole[:cut])
        _check(decoded)
        # A cut stream is a write in progress: the last good row must stay.
        assert decoded.error.partial, decoded.error


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
        max_leaves=20,
    )
)
def test_fuzz_json_values_roundtrip_like_python(value):
    import json

    data = json.dumps({"status": "SUCCESS", "result": value}).encode()
    decoded = decode(data)
    assert decoded.error is None
    assert decoded.meta == json.loads(data)


# The definition the fast check must keep: a run of 19 digits after [ , : or
# whitespace, maybe signed (the regex it replaced on the hot path).
_LONG_NUMBER = re.compile(rb"[\[,:\s]-?[0-9]{19}")


@settings(max_examples=500)
@example(b"[-1234567890123456789")
@example(b"x-1234567890123456789")
@example(b"\x0b12345678901234567890")
@given(
    st.lists(
        st.one_of(
            st.sampled_from([b"[", b",", b":", b" ", b"\n", b"\t", b"\x0b", b"-", b"--", b'"', b"a", b".", b"e", b"{"]),
            st.integers(1, 30).map(lambda n: (b"9876543210" * 3)[:n]),
            st.binary(max_size=6),
        ),
        max_size=12,
    ).map(b"".join)
)
def test_the_long_number_check_is_the_regex_it_replaced(data: bytes):
    assert _has_long_number(data) == (_LONG_NUMBER.search(data) is not None)


def test_long_numbers_in_text_are_not_numbers():
    uuid_hex = b'{"uuid": {"__type__": "uuid", "__value__": {"hex": "12345678123456781234567812345678"}}}'
    assert not _has_long_number(uuid_hex)
    assert _has_long_number(b'{"a": [1, -12345678901234567890]}')
    assert _has_long_number(b'{"a":1234567890123456789}') and not _has_long_number(b'{"a":123456789012345678}')
    assert not _has_long_number(b'{"a": 1.12345678901234567890}')  # a fraction's digits: a float anyway
    # Many ids in strings (snowflakes), then a number: past the runs looked at one by one.
    ids = b", ".join(b'"%d"' % (1234567890123456789 + n) for n in range(40))
    assert not _has_long_number(b'{"ids": [' + ids + b"]}")
    assert _has_long_number(b'{"ids": [' + ids + b", 12345678901234567890]}")
    assert _has_long_number(b'{"ids": [' + ids + b", -12345678901234567890]}")


def test_every_kombu_type_tag_is_restored_as_kombu_restores_it():
    """kombu's own encoder writes each tag; the decoders are built here, in the test (the
    module builds its table once, at import)."""
    import datetime
    import decimal
    import uuid

    import orjson
    from kombu.utils.json import dumps as kombu_dumps
    from kombu.utils.json import loads as kombu_loads

    from taskview.results.codec import _tag_decoders, restore_type_tags

    values = {
        "datetime": datetime.datetime(2026, 12, 1, 10, 0, 0, tzinfo=datetime.timezone.utc),
        "date": datetime.date(2026, 12, 1),
        "time": datetime.time(10, 1, 2),
        "decimal": decimal.Decimal("1.10"),
        "uuid": uuid.UUID(int=12345),
        "bytes": b"abc",  # valid UTF-8: tagged "bytes"
        "base64": b"abc\xff",  # not: tagged "base64"
    }
    data = kombu_dumps(values).encode()
    for tag in values:
        assert f'"__type__": "{tag}"'.encode() in data
    restored = restore_type_tags(orjson.loads(data), _tag_decoders())
    assert restored == kombu_loads(data) == values
    assert all(type(restored[k]) is type(v) for k, v in values.items())
    assert decode(data).meta == values
