"""Finished and failed tasks over time, as bars (plotext, in a Textual widget)."""

from __future__ import annotations

import time

from textual_plotext import PlotextPlot

from ...insights.aggregates import Buckets

_UNIT = {10: "10 seconds", 30: "30 seconds", 60: "minute", 300: "5 minutes", 3600: "hour", 86400: "day", 604800: "week"}


class FinishChart(PlotextPlot):
    """Bars of the tasks finished per bucket, their failures in red on top of the rest."""

    def show(self, buckets: Buckets) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        if not buckets.done:
            plt.title("nothing finished yet")
            self.refresh()
            return
        xs = list(range(len(buckets.done)))
        fine = [d - f for d, f in zip(buckets.done, buckets.failed, strict=True)]
        # plotext takes a colour per series (its stubs say one colour only).
        plt.stacked_bar(xs, [fine, buckets.failed], color=["green", "red"], width=1)  # type: ignore[arg-type]
        plt.title(f"tasks finished per {_UNIT.get(buckets.size, f'{buckets.size}s')}: FAILURE red, the rest green")
        top = max(buckets.done)
        plt.yticks([0.0, float(top // 2), float(top)] if top > 1 else [0.0, float(top)])
        step = max(1, len(xs) // 4)
        ticks = xs[::step]
        plt.xticks([float(x) for x in ticks], [_label(buckets.start + at * buckets.size, buckets.size) for at in ticks])
        self.refresh()


def _label(epoch: float, size: int) -> str:
    moment = time.localtime(epoch)
    if size < 86400:
        if size < 60:
            return time.strftime("%H:%M:%S", moment)
        return time.strftime("%H:%M", moment) if size < 3600 else time.strftime("%d %H:00", moment)
    return time.strftime("%b %d", moment)
