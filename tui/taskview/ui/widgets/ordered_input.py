"""An Input whose editing keys act in the order they were typed.

Textual's Input puts a printable key in as its own key handler sees it, but a key it binds
(backspace, delete, the arrows, ctrl+u...) acts only once the event has bubbled up to the
app, which runs the bindings of the focused widget and its ancestors. Keys that arrive
together, as they do over SSH, then act out of order: "cain", backspace and "s" in one read
gave "cain" (the "s" went in first, and the backspace took it out again). Textual's issue
#6605, its fix still open (#6631) with Textual 8.2. Here the Input's own bindings run as its
key arrives, as that fix does; keys it does not bind (escape, tab) go up as before.
"""

from __future__ import annotations

from textual import events
from textual.widgets import Input


class OrderedInput(Input):
    async def _on_key(self, event: events.Key) -> None:
        if not event.is_printable:
            for binding in self._bindings.key_to_bindings.get(event.key, ()):
                if not binding.priority and await self.app.run_action(binding.action, self):
                    event.prevent_default()
                    event.stop()  # done here: the app must not run it again
                    return
        await super()._on_key(event)
