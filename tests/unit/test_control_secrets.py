"""Broker URLs and error texts shown without their passwords, in every form a password can take."""

from __future__ import annotations

import pytest

from taskview.control.secrets import mask_text, mask_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("amqp://guest:guest@127.0.0.1:5672//", "amqp://guest:****@127.0.0.1:5672//"),
        ("redis://:s3cret@redis.example:6379/0", "redis://:****@redis.example:6379/0"),
        ("rediss://user:p%40ss%2Fw@host/1?ssl_cert_reqs=required", "rediss://user:****@host/1?ssl_cert_reqs=required"),
        ("amqp://u:p1@h1:5672//;amqp://u:p2@h2:5672//", "amqp://u:****@h1:5672//;amqp://u:****@h2:5672//"),
        ("amqp://guest@localhost//", "amqp://guest@localhost//"),  # no password
        ("amqp://guest:@localhost//", "amqp://guest:@localhost//"),  # empty password
        ("redis://localhost:6379/0", "redis://localhost:6379/0"),
        ("filesystem://", "filesystem://"),
        ("memory://", "memory://"),
        ("sqs://AKIA123:secret+key/with/slashes@", "sqs://AKIA123:****@"),  # '/' in the password
        ("redis://h:6379/0?password=topsecret&db=1", "redis://h:6379/0?password=****&db=1"),
        ("", ""),
    ],
)
def test_mask_url(url: str, shown: str):
    assert mask_url(url) == shown


def test_mask_text_hides_every_form_of_the_password():
    url = "amqp://alice:p%40ss-w0rd@mq.example:5672/prod"
    text = (
        f"[Errno 111] Connection refused while connecting to {url}; "
        "login alice/p@ss-w0rd refused; retrying amqp://alice:p%40ss-w0rd@mq.example:5672/prod"
    )
    masked = mask_text(text, [url])
    assert "p@ss-w0rd" not in masked and "p%40ss-w0rd" not in masked
    assert "amqp://alice:****@mq.example:5672/prod" in masked
    assert masked.count("****") == 3


def test_mask_text_keeps_a_user_name_equal_to_the_password_readable_in_the_url():
    url = "amqp://guest:guest@127.0.0.1:5672//"
    masked = mask_text(f"broker unreachable: {mask_url(url)}: password guest refused", [url])
    assert masked == "broker unreachable: amqp://guest:****@127.0.0.1:5672//: password **** refused"


def test_mask_text_masks_urls_it_was_not_told_about_and_short_passwords_as_words():
    assert mask_text("connect redis://:abc@other:6379/0 failed", []) == "connect redis://:****@other:6379/0 failed"
    # a 2-character password is masked as a word, not inside other words
    masked = mask_text("pw is xy, not xyz", ["redis://:xy@h/0"])
    assert masked == "pw is ****, not xyz"


def test_passwords_with_unencoded_question_marks_and_semicolons_are_masked():
    for url, shown in [
        ("redis://:pa?ss@host:6379/0", "redis://:****@host:6379/0"),
        ("amqp://user:pa;ss@host//", "amqp://user:****@host//"),
        ("amqp://u:a;b@h1//;amqp://u:c?d@h2//", "amqp://u:****@h1//;amqp://u:****@h2//"),
    ]:
        assert mask_url(url) == shown
        assert mask_text(f"cannot connect to {url}", [url]) == f"cannot connect to {shown}"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        # Only the first "://" starts the netloc: a URL in the query is the query's.
        ("redis://:pw@h/0?next=http://x", "redis://:****@h/0?next=http://x"),
        # Without a scheme the whole text is the netloc, from its first character.
        ("u:pw12@host", "u:****@host"),
        (":pw@h", ":****@h"),
        ("u:p/w@h", "u:****@h"),
        ("://u:pw@h", "://u:****@h"),
        # An '@' in the path is not the end of the password; two in the netloc, the last is.
        ("amqp://u:pw@h/x@y", "amqp://u:****@h/x@y"),
        ("amqp://X:pw@h/x@y", "amqp://X:****@h/x@y"),
        ("amqp://u:pw@h/a@b/c", "amqp://u:****@h/a@b/c"),
        ("amqp://u:p@ss@h//", "amqp://u:****@h//"),
        # A colon in the password: the user name ends at the first one.
        ("amqp://u:p:w@h//", "amqp://u:****@h//"),
        ("amqp://u:p:a/ss@h", "amqp://u:****@h"),
        # A user without a password, and a port: nothing to mask.
        ("amqp://guest@localhost:5672//", "amqp://guest@localhost:5672//"),
        # Unencoded '/', '?' in the password: masked up to the last '@'.
        ("redis://:pa?s@s@host/0", "redis://:****@host/0"),
        ("amqp://X:p/w@h", "amqp://X:****@h"),
        ("amqp://u:/@h", "amqp://u:****@h"),
        ("a@b://u:p/ss@h", "a@b://u:****@h"),
        # An '@' after a path and a query is no user info at all.
        ("amqp://host/path?next=u:v@w", "amqp://host/path?next=u:v@w"),
    ],
)
def test_mask_url_finds_the_password_in_odd_urls(url: str, shown: str):
    assert mask_url(url) == shown


def test_mask_text_masks_a_password_given_as_a_query_parameter():
    url = "redis://h:6379/0?password=topsecret&db=1"
    assert mask_text("auth failed for topsecret", [url]) == "auth failed for ****"
    assert mask_text("GET redis://h/0?password=hunter2&db=1", []) == "GET redis://h/0?password=****&db=1"


def test_mask_text_masks_a_password_with_a_slash_in_its_encoded_form():
    assert mask_text("retry with p%2Fwd1 failed", ["sqs://AK:p/wd1@"]) == "retry with **** failed"


def test_mask_text_keeps_each_of_several_urls_readable_on_its_own():
    urls = ["amqp://guest:guest@h1//;amqp://guest:guest@h2//"]
    assert mask_text("cannot reach amqp://guest:guest@h2//", urls) == "cannot reach amqp://guest:****@h2//"


def test_mask_text_masks_the_longest_password_first():
    urls = ["redis://:secret@h1/0", "redis://:asecret@h2/0"]
    assert mask_text("tried asecret and secret", urls) == "tried **** and ****"


def test_mask_text_goes_on_past_a_password_that_looks_like_the_mask():
    assert mask_text("pw ab", ["redis://:****@h/0", "redis://:ab@h2/0"]) == "pw ****"


def test_mask_text_masks_four_characters_even_inside_a_word():
    assert mask_text("xpassx", ["redis://:pass@h/0"]) == "x****x"
    assert mask_text("xpasx", ["redis://:pas@h/0"]) == "xpasx"  # three: only as a word
