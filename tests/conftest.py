"""Fixtures every layer's tests use, and the no-skip rule of CI. Shared helpers live in tests/helpers, not here."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from helpers.samples import SAMPLE_RESULTS

LAYERS = ("unit", "app", "integration")

# With TASKVIEW_NO_SKIPS=1 (.ci/run sets it) a skip, or an xfail, is a failure: in CI nothing a
# test could not check may pass unseen. TASKVIEW_REQUIRE_BROKERS=1, its older and narrower name
# (it made a missing broker fail), means the same. Each skip keeps its own reason, which says
# what a developer's machine lacks; without the variable the test is skipped with that reason.
NO_SKIPS = "TASKVIEW_NO_SKIPS"
NO_SKIPS_MARK = f"{NO_SKIPS}=1 turns this skip into a failure"
turned_into_failures: list[str] = []


def no_skips() -> bool:
    return os.environ.get(NO_SKIPS) == "1" or os.environ.get("TASKVIEW_REQUIRE_BROKERS") == "1"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test is marked with its folder's layer: `pytest -m unit` runs the fast ones."""
    for item in items:
        for layer in LAYERS:
            if f"/tests/{layer}/" in str(item.path):
                item.add_marker(layer)


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    if hasattr(report, "wasxfail"):
        return f"xfail ({report.wasxfail or 'no reason given'})"
    if isinstance(report.longrepr, tuple):  # (path, line, "Skipped: reason")
        path, line, reason = report.longrepr
        return f"{reason.removeprefix('Skipped: ')} (skipped at {path}:{line})"
    return str(report.longrepr)


@pytest.hookimpl(wrapper=True, tryfirst=True)  # outermost: sees the report after the skipping plugin
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if not (report.skipped and no_skips()):
        return report
    message = f"{NO_SKIPS_MARK}: {_skip_reason(report)}"
    turned_into_failures.append(f"{report.nodeid}: {message}")
    failed = pytest.TestReport.from_item_and_call(
        item, pytest.CallInfo.from_call(lambda: pytest.fail(message, pytrace=False), when=report.when)
    )
    failed.duration, failed.start, failed.stop = report.duration, report.start, report.stop
    return failed


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_make_collect_report(collector: pytest.Collector):
    """A module-level skip or importorskip: made an error, it would stop the whole run
    (pytest stops on collection errors), so it stays a skip here and fails the run at its end."""
    report = yield
    if report.skipped and no_skips():
        turned_into_failures.append(f"{report.nodeid}: {NO_SKIPS_MARK}: {_skip_reason(report)}")
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if turned_into_failures and exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter) -> None:
    if turned_into_failures:
        terminalreporter.section(f"{len(turned_into_failures)} skip(s) turned into failures ({NO_SKIPS}=1)")
        for line in turned_into_failures:
            terminalreporter.line(line)


@pytest.fixture
def samples(tmp_path: Path) -> Path:
    """A private copy of sample_results, safe to add bad files to."""
    target = tmp_path / "results"
    shutil.copytree(SAMPLE_RESULTS, target)
    return target


@pytest.fixture(autouse=True, scope="session")
def _private_cache_home(tmp_path_factory: pytest.TempPathFactory):
    """The inspector keeps a big directory's scan index in $XDG_CACHE_HOME/taskview: the
    inspectors the tests start (in this process and as commands) keep theirs here, not in
    the developer's ~/.cache."""
    saved = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache-home"))
    yield
    if saved is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = saved
