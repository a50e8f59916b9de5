"""results/codec.py at its edges: every message in full, each compression, the bounds of sniffing,
kombu's type tags that do not restore, and the lean JSON read of --dump. Expected values by hand."""

from __future__ import annotations

import bz2
import lzma
import pickle
import zlib
from decimal import Decimal

import brotli
import kombu.compression
import msgpack
import pytest
from backports import zstd

from taskview.results.codec import (
    COMPRESSED_MAGIC,
    Decoded,
    _compression_name,
    _has_long_number,
    _size,
    decode,
    loads_plain_json,
    restore_type_tags,
    sniff,
)
from taskview.results.problems import Problem, ProblemKind

OK = b'{"status": "SUCCESS"}'


def compressed(ctype: bytes, body: bytes) -> bytes:
    return COMPRESSED_MAGIC + ctype + b"\x00" + body


def problem(data: bytes, **options) -> tuple[str, str]:
    decoded = decode(data, **options)
    assert decoded.meta is None and decoded.error is not None
    return decoded.error.kind.name, decoded.error.message


# --- sizes -------------------------------------------------------------------------------------


def test_sizes_are_said_in_the_unit_they_fit():
    assert _size(0) == "0 B"
    assert _size(1023) == "1023 B"
    assert _size(1024) == "1.0 KiB"
    assert _size(1536) == "1.5 KiB"
    assert _size(3 * 1024 * 1024) == "3.0 MiB"
    assert _size(5 * 1024**3) == "5.0 GiB"
    assert _size(3 * 1024**4) == "3072.0 GiB"  # no unit above GiB


def test_a_file_over_the_bound_is_not_decoded():
    assert problem(b'{"a": 1}', max_bytes=4) == ("TOO_LARGE", "too large to decode (8 B > 4 B)")
    assert problem(OK + b" " * 1004, max_bytes=1024) == ("TOO_LARGE", "too large to decode (1.0 KiB > 1.0 KiB)")
    at_the_bound = decode(OK + b" " * 1003, max_bytes=1024)  # 1024 bytes
    assert at_the_bound.error is None and at_the_bound.meta == {"status": "SUCCESS"}


# --- compression ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ctype, compress, name",
    [
        (b"application/x-gzip", zlib.compress, "gzip"),
        (b"application/x-bz2", bz2.compress, "bzip2"),
        (b"application/x-lzma", lzma.compress, "lzma"),
        (b"application/x-brotli", brotli.compress, "brotli"),
        (b"application/zstd", zstd.compress, "zstd"),
    ],
)
def test_each_compression_is_read_cut_and_bounded(ctype: bytes, compress, name: str):
    whole = decode(compressed(ctype, compress(OK)))
    assert whole == Decoded({"status": "SUCCESS"}, "json", ctype.decode(), None, True)
    body = compress(OK)
    cut = body[: len(body) // 2]
    assert problem(compressed(ctype, cut)) == ("TRUNCATED", f"truncated {name} stream (being written?)")
    assert problem(compressed(ctype, compress(b""))) == ("EMPTY", f"empty after {name} decompression")
    big = compress(b"{" + b" " * 5000 + b"}")
    assert problem(compressed(ctype, big), max_bytes=1024) == (
        "TOO_LARGE",
        f"too large to decode: over 1.0 KiB after {name} decompression",
    )
    # exactly the bound after decompression: read
    exact = decode(compressed(ctype, compress(b"{" + b" " * 1022 + b"}")), max_bytes=1024)
    assert exact.error is None and exact.meta == {}


def test_a_compression_header_that_is_cut_or_corrupt():
    corrupt = ("TRUNCATED", "compressed, but the compression header is cut or corrupt")
    assert problem(COMPRESSED_MAGIC + b"application/x-gzip") == corrupt  # no NUL after the type
    assert problem(COMPRESSED_MAGIC + b"\x00" + zlib.compress(OK)) == corrupt  # no type
    assert problem(compressed(b"\xff\xfe", b"x")) == corrupt  # not ASCII
    assert problem(compressed(b"a\tb", b"x")) == corrupt  # not printable
    assert problem(compressed(b"a" * 101, b"x")) == corrupt  # longer than any content type
    hundred = "a" * 100
    assert problem(compressed(hundred.encode(), b"x")) == ("UNSUPPORTED", f"compressed with unknown method {hundred!r}")


def test_broken_compression_says_what_its_library_said():
    kind, message = problem(compressed(b"application/x-gzip", b"not zlib at all"))
    assert kind == "INVALID"
    assert message == "broken gzip compression: Error -3 while decompressing data: incorrect header check"


def test_a_compression_a_kombu_plugin_registered_is_used(monkeypatch):
    monkeypatch.setitem(kombu.compression._decoders, "application/x-reversed", lambda body: body[::-1])
    decoded = decode(compressed(b"application/x-reversed", OK[::-1]))
    assert decoded == Decoded({"status": "SUCCESS"}, "json", "application/x-reversed", None, True)
    assert problem(compressed(b"application/x-reversed", b"")) == (
        "EMPTY",
        "empty after application/x-reversed decompression",
    )


def test_a_plugins_decoder_that_gives_no_bytes_is_undecodable_data_not_a_crash(monkeypatch):
    monkeypatch.setitem(kombu.compression._decoders, "application/x-nothing", lambda body: None)
    assert problem(compressed(b"application/x-nothing", b"body")) == (
        "INVALID",
        "undecodable data: object of type 'NoneType' has no len()",
    )


def test_compression_names():
    assert _compression_name("application/x-gzip") == "gzip"
    assert _compression_name("application/x-bz2") == "bzip2"
    assert _compression_name("application/x-lzma") == "lzma"
    assert _compression_name("application/x-brotli") == "brotli"
    assert _compression_name("application/zstd") == "zstd"
    assert _compression_name("application/x-other") == "application/x-other"
    assert _compression_name(None) == "?"
    assert _compression_name("") == "?"


# --- every serializer's messages in full ---------------------------------------------------------


def test_each_serializers_messages_in_full():
    assert problem(b"\x00\x01\x02binary\xff\xfe") == (
        "NOT_A_RESULT",
        "not a Celery result: unrecognised binary data (00 01 02 62 69 6e 61 72...)",
    )
    assert problem(b"[1, 2, 3]") == ("NOT_A_RESULT", "not a Celery result: json list, not a mapping")
    assert problem(b"- 1\n") == ("NOT_A_RESULT", "not a Celery result: yaml list, not a mapping")
    assert problem(b"\x86\xa6status\xa7SUCCESS\xa6result") == ("TRUNCATED", "truncated msgpack at byte 23")
    assert problem(msgpack.packb({"a": 1}) + b"\x01") == ("INVALID", "invalid msgpack: extra bytes after the data")
    assert problem(msgpack.packb({(1, 2): 1})) == (
        "INVALID",
        "invalid msgpack: list is not allowed for map key when strict_map_key=True",
    )
    assert problem(b"a: b: c\n") == (
        "INVALID",
        "invalid YAML at line 1: mapping values are not allowed in this context",
    )
    assert problem(b"status: SUCCESS\nresult: 4\ntask_id: ab") == ("TRUNCATED", "truncated YAML at byte 37")
    # what the YAML library raises that is no YAMLError: the decoder's own failure, in one line
    assert problem(b"status: 2001-13-14\n") == ("INVALID", "undecodable yaml: month must be in 1..12")


def test_json_messages_in_full():
    assert problem(b'{"status": "SUCCESS" "result": 1}') == (
        "INVALID",
        "invalid JSON at byte 21: Expecting ',' delimiter",
    )
    assert problem(b'{"status": "SUCCESS", "result": "abc') == ("TRUNCATED", "truncated JSON at byte 36")
    assert problem(b'{"status": "SUCCESS", "result": 1') == ("TRUNCATED", "truncated JSON at byte 33")
    # after what Python's json reads and orjson does not (NaN), the offset of the fault in bytes
    assert problem('{"r": NaN, "é": 1,}'.encode()) == (
        "INVALID",
        "invalid JSON at byte 19: Expecting property name enclosed in double quotes",
    )
    assert problem(b'{"status": "SUCCESS", "result": "caf\xe9"}') == ("INVALID", "invalid UTF-8 at byte 36")


def test_nesting_deeper_than_any_parser_goes_is_a_problem_not_a_crash():
    deep = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert problem(deep) == ("INVALID", "json nested too deeply")
    assert decode(deep).serializer == "json"
    zipped = decode(COMPRESSED_MAGIC + b"application/x-gzip\x00" + zlib.compress(deep))
    assert zipped.compression == "application/x-gzip" and zipped.error is not None
    assert zipped.error.message == "json nested too deeply"


def test_pickle_faults_with_allow_pickle():
    data = pickle.dumps({"status": "SUCCESS"}, protocol=4)
    assert problem(data[:-3], allow_pickle=True) == ("TRUNCATED", f"truncated pickle at byte {len(data) - 3}")
    assert problem(b"\x80\x04K", allow_pickle=True) == ("TRUNCATED", "truncated pickle at byte 3")
    invalid = ("INVALID", "invalid pickle: invalid load key, '\\xff'.")
    assert problem(b"\x80\x04\xff\xff\xff", allow_pickle=True) == invalid
    assert decode(b"(dp0\nS'a'\np1\nI1\ns.", allow_pickle=True).meta == {"a": 1}  # protocol 0
    assert decode(b"}q\x00.", allow_pickle=True).meta == {}  # protocol 1


# --- exact or not --------------------------------------------------------------------------------


def test_exact_false_leaves_json_as_orjson_parsed_it():
    big = b'{"status": "SUCCESS", "result": 12345678901234567890123}'
    assert decode(big).meta["result"] == 12345678901234567890123
    assert decode(big, exact=False).meta["result"] == 1.2345678901234568e22
    tagged = b'{"status": "SUCCESS", "result": {"__type__": "decimal", "__value__": "1.5"}}'
    assert decode(tagged).meta["result"] == Decimal("1.5")
    assert decode(tagged, exact=False).meta["result"] == {"__type__": "decimal", "__value__": "1.5"}
    # plain only when exact: --stats's quick parse is never re-encoded as it is
    assert decode(OK).plain is True
    assert decode(OK, exact=False) == Decoded({"status": "SUCCESS"}, "json", None, None, False)
    assert decode(big, exact=False).plain is False and decode(big).plain is False


# --- sniffing at its bounds ----------------------------------------------------------------------


def test_sniffing_at_its_bounds():
    assert sniff(b"\x80\x02}q\x00.") == "pickle"
    assert sniff(b"\x80\x05") == "pickle"
    assert sniff(b"\x80\x01") == "msgpack"  # an empty fixmap followed by a byte
    assert sniff(b"\x80\x06") == "msgpack"
    assert sniff(b"\x80") == "msgpack"
    assert sniff(b"\x8f") == "msgpack"
    assert sniff(b"\xde\x00\x01") == "msgpack" and sniff(b"\xdf\x00") == "msgpack"
    assert sniff(b"\x90") is None and sniff(b"\xdd\x00") is None  # arrays: no meta
    assert sniff(b" \n\t{}") == "json" and sniff(b"  [1]") == "json"
    assert sniff(b" " * 63 + b"{}") == "json"
    assert sniff(b" " * 64 + b"{}") == "yaml"  # only the first 64 bytes are looked at
    assert sniff(b"(dp0\n") == "pickle" and sniff(b"}q\x00") == "pickle" and sniff(b"}(") == "pickle"
    assert sniff(b"  (dp0\n") == "pickle"
    assert sniff(b"\xff\xfea\x00") == "yaml" and sniff(b"\xfe\xff\x00a") == "yaml"
    assert sniff(b"\xef\xbb\xbfa: 1\n") == "yaml"
    assert sniff(b"a: 1\n\x01") is None and sniff(b"a: 1\n\x7f") is None
    assert sniff(b"a: 1\r\n\tb: 2\n") == "yaml"  # tab, CR and LF are text
    assert sniff(b"a: 1\x0c\n") is None and sniff(b"a: 1\x0b\n") is None
    # control characters and bad UTF-8 are looked for in the first 4096 bytes
    assert sniff(b"a" * 4095 + b"\x01") is None
    assert sniff(b"a" * 4096 + b"\x01") == "yaml"
    assert sniff(b"a" * 4091 + b"\xff") is None
    assert sniff(b"a" * 4092 + b"\xff") == "yaml"  # perhaps a character cut by the slice
    assert sniff(b"a" * 4094 + "€".encode()) == "yaml"


def test_a_long_number_is_one_where_json_can_have_a_number():
    n19 = b"1234567890123456789"
    assert _has_long_number(b"[" + n19 + b"]")
    assert _has_long_number(b"[-" + n19 + b"]")
    assert _has_long_number(b'{"a":' + n19 + b"}") and _has_long_number(b'{"a": ' + n19 + b"}")
    assert _has_long_number(b"[1,\n" + n19 + b"]") and _has_long_number(b"[1,\t" + n19 + b"]")
    assert not _has_long_number(b"[" + n19[:-1] + b"]")  # 18 digits: orjson keeps it
    assert not _has_long_number(b'["' + n19 + b'"]')
    assert not _has_long_number(b'["x-' + n19 + b'"]')
    assert not _has_long_number(n19)  # nothing before it
    assert not _has_long_number(b"-" + n19)
    text_runs = b'"x' + n19 + b'", '
    assert not _has_long_number(b"[" + text_runs * 17 + b"1]")
    assert _has_long_number(b"[" + text_runs * 17 + n19 + b"]")  # after 16 runs of text: the regex
    assert _has_long_number(b"[" + text_runs * 15 + n19 + b"]")
    assert _has_long_number(b"[" + text_runs * 16 + n19 + b"]")
    assert not _has_long_number(b"[" + text_runs * 16 + b'"x' + n19 + b'"]')


# --- kombu's type tags ---------------------------------------------------------------------------


def test_tags_that_do_not_restore_stay_as_they_are():
    bad = {"__type__": "decimal", "__value__": "not a number"}
    assert restore_type_tags({"a": bad}) == {"a": {"__type__": "decimal", "__value__": "not a number"}}
    unknown = {"__type__": "mine", "__value__": 1}
    assert restore_type_tags([unknown]) == [{"__type__": "mine", "__value__": 1}]
    assert restore_type_tags({"__type__": 1, "__value__": 2}) == {"__type__": 1, "__value__": 2}
    three = {"__type__": "decimal", "__value__": "1", "x": 0}
    assert restore_type_tags(three) == {"__type__": "decimal", "__value__": "1", "x": 0}
    assert restore_type_tags({"__type__": "decimal"}) == {"__type__": "decimal"}


def test_tags_are_restored_in_lists_and_dicts_at_any_depth():
    value = [1, [{"__type__": "bytes", "__value__": "ab"}], {"k": [{"__type__": "decimal", "__value__": "2"}]}]
    assert restore_type_tags(value) == [1, [b"ab"], {"k": [Decimal("2")]}]
    assert restore_type_tags({"__type__": "base64", "__value__": "aGk="}) == b"hi"
    assert restore_type_tags("text") == "text"


def test_the_lean_json_read_of_dump():
    assert loads_plain_json(OK) == {"status": "SUCCESS"}
    assert loads_plain_json(b'{"r": 12345678901234567890}') is None
    assert loads_plain_json(b'{"r": 1') is None
    assert loads_plain_json(b"[1]") is None
    tagged = b'{"r": [{"__type__": "decimal", "__value__": "1.5"}], "b": {"__type__": "bytes", "__value__": "x"}}'
    assert loads_plain_json(tagged) is None
    assert loads_plain_json(tagged, tags_as_repr=True) == {"r": ["Decimal('1.5')"], "b": "b'x'"}
    assert loads_plain_json(OK, tags_as_repr=True) == {"status": "SUCCESS"}


def test_a_decode_error_is_a_problem():
    assert decode(b"").error == Problem(ProblemKind.EMPTY, "empty (being written?)")
    assert decode(b"").serializer is None and decode(b"").compression is None


# --- the paths after orjson gives up, and the libraries' odd failures ----------------------------


def test_json_that_only_pythons_json_reads_still_gets_its_tags_restored_and_its_cut_said():
    long = b'{"r": 12345678901234567890123, "t": {"__type__": "decimal", "__value__": "1.5"}}'
    assert decode(long).meta == {"r": 12345678901234567890123, "t": Decimal("1.5")}
    nan = decode(b'{"r": NaN, "t": {"__type__": "decimal", "__value__": "1.5"}}').meta
    assert nan["t"] == Decimal("1.5") and nan["r"] != nan["r"]
    # cut inside a string, or at the end, on each path: truncated, at the file's length
    for cut in (
        b'{"r": 12345678901234567890123, "s": "ab',
        b'{"r": 12345678901234567890123, "s": 1',
        b'{"r": NaN, "s": "ab',
        b'{"t": {"__type__": "decimal", "__value__": "1',
        b'{"t": {"__type__": "decimal", "__value__": "1"',
    ):
        assert problem(cut) == ("TRUNCATED", f"truncated JSON at byte {len(cut)}"), cut


def test_msgpack_strings_are_text_and_its_odd_failures_are_named():
    assert decode(msgpack.packb({"status": "SUCCESS", "result": [1, "a"]})).meta == {
        "status": "SUCCESS",
        "result": [1, "a"],
    }
    assert problem(b"\x81\xa1a\xc1") == ("INVALID", "invalid msgpack: FormatError")  # 0xc1: never used
    assert problem(b"\x81\xa1a" + b"\x91" * 100_000) == ("INVALID", "invalid msgpack: StackError")


def test_a_yaml_error_without_a_place_or_a_problem():
    # libyaml's reader refuses a control character (after the 4096 bytes sniffing looks at)
    assert problem(b"a: " + b"x" * 5000 + b"\x01\n") == ("INVALID", "invalid YAML: syntax error")


def test_a_decoders_long_message_is_cut_to_one_short_line(monkeypatch):
    def refuse(body: bytes) -> bytes:
        raise ValueError("x" * 300 + "\nsecond line")

    monkeypatch.setitem(kombu.compression._decoders, "application/x-refused", refuse)
    kind, message = problem(compressed(b"application/x-refused", b"body"))
    assert kind == "INVALID"
    assert message == "broken application/x-refused compression: " + "x" * 119 + "…"


def test_a_stream_cut_after_more_than_the_bound_is_too_large_not_truncated():
    body = zlib.compress(b"{" + b" " * 1023 + b"}")[:-4]  # 1025 bytes out, the checksum cut off
    assert problem(compressed(b"application/x-gzip", body), max_bytes=1024) == (
        "TOO_LARGE",
        "too large to decode: over 1.0 KiB after gzip decompression",
    )


@pytest.mark.parametrize(
    "ctype, compress",
    [
        (b"application/x-gzip", zlib.compress),
        (b"application/x-bz2", bz2.compress),
        (b"application/x-lzma", lambda data: lzma.compress(data, preset=0)),  # a 256 KiB dictionary
        (b"application/zstd", zstd.compress),
    ],
)
def test_a_decompression_bomb_never_comes_out_whole(ctype: bytes, compress):
    import tracemalloc

    bomb = compressed(ctype, compress(b"{" + b" " * (8 << 20) + b"}"))  # 8 MiB out
    tracemalloc.start()
    try:
        kind, _ = problem(bomb, max_bytes=64 << 10)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert kind == "TOO_LARGE" and peak < 2 << 20  # at most the bound (and some), never the 8 MiB


def test_without_the_optional_decompressors_the_message_says_what_to_install(monkeypatch):
    import sys

    import backports

    monkeypatch.setitem(sys.modules, "brotli", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "backports.zstd", None)
    monkeypatch.setitem(sys.modules, "compression", None)
    monkeypatch.delattr(backports, "zstd", raising=False)
    assert problem(compressed(b"application/x-brotli", b"x")) == (
        "UNSUPPORTED",
        "compressed with brotli: pip install brotli to read it",
    )
    assert problem(compressed(b"application/zstd", b"x")) == (
        "UNSUPPORTED",
        "compressed with zstd: pip install backports.zstd to read it",
    )


def test_a_tag_written_with_escaped_keys_reads_alike_with_or_without_a_long_number():
    # Its key is "__type__" once parsed, but the bytes do not say so: whichever parser reads the
    # file (orjson, or Python's json for the long number), the tag is treated the same way.
    tag = rb'{"\u005f_type__": "decimal", "__value__": "1.5"}'
    short = decode(b'{"status": "SUCCESS", "result": ' + tag + b"}")
    long = decode(b'{"status": "SUCCESS", "result": ' + tag + b', "args": [12345678901234567890123]}')
    assert short.error is None and long.error is None
    assert long.meta["args"] == [12345678901234567890123]
    assert long.meta["result"] == short.meta["result"] == {"__type__": "decimal", "__value__": "1.5"}


def test_json_cut_inside_a_literal_or_a_number_is_truncated_not_invalid():
    # orjson says "unexpected end of data"; Python's json would call a cut "tru" no value at all
    for cut in (b'{"status": "SUCCESS", "result": tru', b'{"status": "SUCCESS", "result": nul', b'{"status": -'):
        decoded = decode(cut)
        assert decoded.error is not None and decoded.error.message == f"truncated JSON at byte {len(cut)}", cut


def test_a_type_tag_that_is_not_text_stays_a_dict():
    raw = b'{"status": "SUCCESS", "result": {"__type__": ["decimal"], "__value__": "1.5"}, "n": 1}'
    decoded = decode(raw)
    assert decoded.error is None
    assert decoded.meta["result"] == {"__type__": ["decimal"], "__value__": "1.5"}


def test_text_starting_with_a_bar_is_yaml_not_json():
    # "|" opens a YAML block of text: only "{" (or "[" after spaces) is JSON
    decoded = decode(b"|\n  a block of text\n")
    assert decoded.serializer == "yaml"
    assert decoded.error is not None and decoded.error.message == "not a Celery result: yaml str, not a mapping"


def test_a_control_character_first_is_binary_and_a_utf_8_bom_says_text_whatever_follows():
    first = decode(b"\x05 hello\n")
    assert first.serializer is None and first.error is not None
    assert first.error.message == "not a Celery result: unrecognised binary data (05 20 68 65 6c 6c 6f 0a...)"
    # after a UTF-8 BOM, bytes that are not UTF-8 or a control character: YAML that does not parse
    for bom_text in (b"\xef\xbb\xbfstatus: SUCCESS\nresult: \xff\n", b"\xef\xbb\xbfstatus: SUCCESS\x01\n"):
        decoded = decode(bom_text)
        assert decoded.serializer == "yaml" and decoded.error is not None, bom_text
        assert decoded.error.message == "invalid YAML: syntax error", bom_text


def test_a_compressed_file_that_fails_to_decode_still_says_its_compression():
    cut = COMPRESSED_MAGIC + b"application/x-gzip\x00" + zlib.compress(b'{"status": "SUC')
    decoded = decode(cut)
    assert decoded.compression == "application/x-gzip" and decoded.serializer == "json"
    assert decoded.error is not None and decoded.error.message == "truncated JSON at byte 15"


def test_a_compressed_yaml_file_with_a_date_no_calendar_holds_is_undecodable_and_says_its_compression():
    # PyYAML raises ValueError (not a YAMLError) for a timestamp like 2001-13-45
    data = b"status: SUCCESS\ndate_done: 2001-13-45\n"
    decoded = decode(COMPRESSED_MAGIC + b"application/x-gzip\x00" + zlib.compress(data))
    assert decoded.serializer == "yaml" and decoded.compression == "application/x-gzip"
    assert decoded.error is not None and decoded.error.message == "undecodable yaml: month must be in 1..12"
