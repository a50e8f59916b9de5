"""taskview: a terminal inspector for Celery's file-system result backend."""

import logging as _logging

# Without --log, taskview's warnings go nowhere: Python's last-resort handler
# would print them on stderr, across the inspector's screen.
_logging.getLogger(__name__).addHandler(_logging.NullHandler())
