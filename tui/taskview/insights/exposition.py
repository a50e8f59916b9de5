"""``--stats --format prometheus``: the stats in Prometheus' text exposition format.

Made with prometheus_client's own metric families and writer (its escaping, its
``# HELP``/``# TYPE`` lines), for node_exporter's textfile collector: gauges only,
no sample timestamps (the collector refuses them); times are gauges of epoch seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


class _Stats(Collector):
    def __init__(self, stats: dict[str, Any]) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        stats = self.stats
        tasks = GaugeMetricFamily(
            "taskview_tasks", "Task result files per task name and state.", labels=["name", "state"]
        )
        for name, figures in stats["by_name"].items():
            for state, count in figures["by_status"].items():
                tasks.add_metric([name, state], count)
        yield tasks
        failures = GaugeMetricFamily(
            "taskview_error_group_failures",
            "FAILURE results per error group (exception type and message, numbers and ids taken out).",
            labels=["group", "exception"],
        )
        last_seen = GaugeMetricFamily(
            "taskview_error_group_last_seen_timestamp_seconds",
            "When the latest failure of an error group finished (Unix time).",
            labels=["group", "exception"],
        )
        first_seen = GaugeMetricFamily(
            "taskview_error_group_first_seen_timestamp_seconds",
            "When the first failure of an error group finished (Unix time).",
            labels=["group", "exception"],
        )
        for group in stats["errors"]:
            labels = [group["group"], group["exception"]]
            failures.add_metric(labels, group["count"])
            last_seen.add_metric(labels, group["last_seen"])
            first_seen.add_metric(labels, group["first_seen"])
        yield failures
        yield first_seen
        yield last_seen
        yield GaugeMetricFamily(
            "taskview_result_files", "Result files read (tasks, groups, unreadable).", stats["total"]
        )
        yield GaugeMetricFamily("taskview_group_result_files", "Group (taskset) result files.", stats["groups"])
        unreadable = GaugeMetricFamily(
            "taskview_unreadable_files", "Files taskview could not read, per reason.", labels=["reason"]
        )
        for reason, count in stats["unreadable_by_reason"].items():
            unreadable.add_metric([reason], count)
        yield unreadable
        newest = stats.get("newest_date_done")
        if newest is not None:
            yield GaugeMetricFamily(
                "taskview_newest_date_done_timestamp_seconds", "The newest date_done of any result (Unix time).", newest
            )
        checks = stats.get("checks")
        if checks:
            crossed = GaugeMetricFamily(
                "taskview_check_tasks", "Tasks each --fail-on query keeps, with its limit.", labels=["check", "limit"]
            )
            for check in checks:
                crossed.add_metric([check["query"], str(check["limit"])], check["count"])
            yield crossed


def exposition(stats: dict[str, Any]) -> str:
    """``stats`` (``headless.compute_stats``) as the text exposition format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Stats(stats))
    return generate_latest(registry).decode("utf-8")


__all__ = ["exposition"]
