"""Frozen time for screens: TZ=UTC for a test (with a fixed clock, every run draws the same)."""

from __future__ import annotations

import os
import time

import pytest


@pytest.fixture
def utc():
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()
