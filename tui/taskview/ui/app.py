"""The Textual app: a thin shell that opens the inspector screen for a live directory or a replay.

Screens do the work (``screens/``): the live and replay inspectors share one
base; a new view is a screen of its own, pushed by a key. The app holds what
every screen shares: quitting, help, the stylesheet, logging a crash.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType

from .. import debug_log  # noqa: F401 - its NullHandler keeps warnings off the screen
from ..heap import keep_heap_compact
from .screens.help import HelpScreen
from .screens.inspector import InspectorScreen
from .screens.live import LiveScreen

if TYPE_CHECKING:
    from ..control.controller import Controller
    from ..replay.journal import Recorder
    from ..replay.timeline import Timeline
    from ..results.scan import ResultDirectory
    from ..sources.tail import DirectoryTail

log = logging.getLogger(__name__)


class TaskviewApp(App[None]):
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses elsewhere (bench/) find it too
    TITLE = "taskview"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="app.quit"),
        # Textual makes Ctrl+C copy; in a monitor like this one it means quit, as in htop or k9s.
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True, id="app.interrupt"),
        Binding("question_mark", "help", "Help", key_display="?", id="app.help"),
    ]

    def __init__(
        self,
        results: ResultDirectory | None = None,
        *,
        poll_interval: float | None = None,
        controller: Controller | None = None,
        clock: Callable[[], float] = time.time,
        recorder: Recorder | None = None,
        own_tasks: bool = False,
        inspector: InspectorScreen | None = None,
        cache_dir: str | None = None,
        workers_every: float = 5.0,
        tail: DirectoryTail | None = None,
    ) -> None:
        """The live inspector on ``results`` (or the ``inspector`` screen given); ``own_tasks``:
        ``n`` offers the controller's app's tasks (``-A``); ``cache_dir``: where a big directory's
        scan index is kept (``sources.scan_index``), None for none; ``workers_every``: seconds between
        two questions to the workers (0: never); ``tail``: the tail of ``results`` begun before the UI
        (``DirectoryTail.prepare``), which then says how to watch and where the index is kept."""
        super().__init__()
        keep_heap_compact()
        if inspector is None:
            if results is None:
                raise TypeError("TaskviewApp needs results or an inspector screen")
            inspector = LiveScreen(
                results,
                poll_interval=poll_interval,
                controller=controller,
                clock=clock,
                recorder=recorder,
                own_tasks=own_tasks,
                cache_dir=cache_dir,
                workers_every=workers_every,
                tail=tail,
            )
        #: The inspector screen, at the bottom of the stack whatever is pushed on it.
        self.inspector = inspector

    @classmethod
    def for_replay(cls, timeline: Timeline, *, from_end: bool = False) -> TaskviewApp:
        """The inspector playing ``timeline``; ``from_end``: start at its last state."""
        from .screens.replay import ReplayScreen

        return cls(inspector=ReplayScreen(timeline, from_end=from_end))

    def get_default_screen(self) -> InspectorScreen:
        return self.inspector

    def _handle_exception(self, error: Exception) -> None:
        log.critical("the inspector failed", exc_info=error)  # with --log, the traceback is kept
        super()._handle_exception(error)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.inspector.help_bindings()))
