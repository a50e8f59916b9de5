"""The enqueue form's fields as typed: what sends, and the one-line reason when a field does not read."""

from __future__ import annotations

import pytest

from taskview.view.enqueue import EnqueueRequest, FieldError, as_field, parse_request


def test_fields_that_read_make_a_request_with_only_the_options_given():
    request = parse_request("shop.charge", "[1, \"a\"]", '{"n": 2}', " reports ", "30")
    assert request == EnqueueRequest("shop.charge", [1, "a"], {"n": 2}, "reports", 30.0)
    assert request.options == {"queue": "reports", "countdown": 30.0}
    plain = parse_request("shop.charge", "", "", "", "")  # empty: no arguments, the app's route, now
    assert plain == EnqueueRequest("shop.charge") and plain.options == {}


@pytest.mark.parametrize(
    "fields, field, says",
    [
        (("[1,", "{}", "", ""), "args", "args: not JSON"),
        (('{"a": 1}', "{}", "", ""), "args", "args must be a JSON list"),
        (("[]", "[1]", "", ""), "kwargs", "kwargs must be a JSON object"),
        (("[]", "null", "", ""), "kwargs", "this is a null"),
        (("[]", "{}", "two words", ""), "queue", "no spaces"),
        (("[]", "{}", "", "soon"), "countdown", "number of seconds"),
        (("[]", "{}", "", "-1"), "countdown", "0 or more"),
        (("[]", "{}", "", "nan"), "countdown", "0 or more"),
    ],
)
def test_a_field_that_does_not_read_is_named_with_why(fields, field, says):
    with pytest.raises(FieldError) as caught:
        parse_request("t", *fields)
    assert caught.value.field == field and says in str(caught.value) and "\n" not in str(caught.value)


def test_stored_values_show_as_json_on_one_line():
    assert as_field([1, "ü", {"a": None}]) == '[1, "ü", {"a": null}]'
    assert as_field({}) == "{}"


def test_stored_values_that_could_act_on_a_terminal_show_as_json_escapes_and_read_back_the_same():
    hostile = ["\x1b]52;c;AAAA\x07", "name\u202egpj.exe", "zero\u200bwidth", {"k\x9b": "v"}]
    shown = as_field(hostile)
    assert not any(ch in shown for ch in "\x1b\x07\u202e\u200b\x9b")
    assert "\\u001b" in shown and "\\u202e" in shown
    assert parse_request("t", shown, "{}", "", "").args == hostile  # what is sent is what was stored
