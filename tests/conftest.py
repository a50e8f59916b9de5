"""Fixtures every layer's tests use. Shared helpers live in tests/helpers, not here."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from helpers.samples import SAMPLE_RESULTS

LAYERS = ("unit", "app", "integration")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test is marked with its folder's layer: `pytest -m unit` runs the fast ones."""
    for item in items:
        for layer in LAYERS:
            if f"/tests/{layer}/" in str(item.path):
                item.add_marker(layer)


@pytest.fixture
def samples(tmp_path: Path) -> Path:
    """A private copy of sample_results, safe to add bad files to."""
    target = tmp_path / "results"
    shutil.copytree(SAMPLE_RESULTS, target)
    return target
