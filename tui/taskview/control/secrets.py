"""Broker passwords never shown: masked in URLs and in any text that may echo them.

Used wherever a URL or an exception's text reaches a person: the status bar,
error messages, the --log file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, unquote

MASK = "****"


def _userinfo_span(part: str) -> tuple[int, int] | None:
    """(start, end) of the password in one URL (no ';'), or None."""
    scheme_end = part.find("://")
    start = scheme_end + 3 if scheme_end >= 0 else 0
    end = len(part)
    for ch in "/?#":
        i = part.find(ch, start)
        if i != -1:
            end = min(end, i)
    at = part.rfind("@", start, end)
    if at == -1:
        # A password with an unencoded '/', '?' or '#' ends the netloc early
        # (kombu would misparse it too). Mask conservatively: up to the last
        # '@', when the text before the first ':' looks like a user name.
        at = part.rfind("@", start)  # even past a '?' or ';' that belongs to the password
        if at == -1:
            return None
        colon = part.find(":", start, at)
        if colon == -1 or any(c in part[start:colon] for c in "/?#"):
            return None
        return (colon + 1, at) if at > colon + 1 else None
    colon = part.find(":", start, at)
    if colon == -1 or colon + 1 == at:
        return None  # no password (user only, or "user:@")
    return colon + 1, at


_QUERY_SECRET = re.compile(r"([?&](?:password|passwd|pass|sentinel_password)=)[^&#;\s]*", re.IGNORECASE)


def _mask_part(part: str) -> str:
    span = _userinfo_span(part)
    if span is not None:
        part = part[: span[0]] + MASK + part[span[1] :]
    return _QUERY_SECRET.sub(lambda m: m.group(1) + MASK, part)


def mask_url(url: str) -> str:
    """``url`` with its password(s) replaced by ``****``; several hosts may be separated by ';'.

    >>> mask_url("amqp://guest:guest@localhost:5672//")
    'amqp://guest:****@localhost:5672//'
    """
    if not url:
        return url
    return ";".join(_mask_part(part) for part in _hosts(url))


#: where a second URL starts in "url1;url2" (a ';' inside a password is not followed by "scheme://")
_NEXT_URL = re.compile(r";(?=[A-Za-z][A-Za-z0-9+.\-]*://)")


def _hosts(url: str) -> list[str]:
    return _NEXT_URL.split(url)


def _passwords(url: str) -> set[str]:
    found: set[str] = set()
    for part in _hosts(url):
        span = _userinfo_span(part)
        if span is not None:
            found.add(part[span[0] : span[1]])
        for m in _QUERY_SECRET.finditer(part):
            value = part[m.end(1) : m.end()]
            if value:
                found.add(value)
    secrets: set[str] = set()
    for pw in found:
        secrets.update({pw, unquote(pw), quote(unquote(pw), safe="")})
    return {s for s in secrets if s}


#: any "scheme://user:password@" in a message, whatever URL it belongs to
_ANY_USERINFO = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@;]*:)(?P<pw>[^\s@;]+)(?P<at>@)")


def mask_text(text: str, urls: Iterable[str | None] = ()) -> str:
    """``text`` with every password of ``urls`` (and of any URL written in it) masked.

    Exceptions from kombu/redis/amqp may echo the URL, or only its password.
    """
    if not text:
        return text
    present = [u for u in urls if u]
    # 1. the URLs themselves, kept readable: placeholders while masking the rest
    # (the masked forms too: a user name equal to the password stays readable there)
    placeholders: list[str] = []
    forms = {f for u in present for p in (u, *u.split(";")) if p for f in (p, mask_url(p))}
    for url in sorted(forms, key=len, reverse=True):
        if url in text:
            token = f"\x00{len(placeholders)}\x00"
            placeholders.append(mask_url(url))
            text = text.replace(url, token)
    # 2. any other URL with a password
    text = _ANY_USERINFO.sub(lambda m: m.group("head") + MASK + m.group("at"), text)
    text = _QUERY_SECRET.sub(lambda m: m.group(1) + MASK, text)
    # 3. bare passwords (short ones only as whole words, not inside other words)
    for secret in sorted({s for u in present for s in _passwords(u)}, key=len, reverse=True):
        if secret == MASK:
            continue
        if len(secret) >= 4:
            text = text.replace(secret, MASK)
        else:
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", MASK, text)
    for i, masked in enumerate(placeholders):
        text = text.replace(f"\x00{i}\x00", masked)
    return text
