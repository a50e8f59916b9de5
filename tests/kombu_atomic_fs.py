"""kombu's filesystem transport, with messages published atomically.

kombu 5.7's ``filesystem`` Channel._put() creates ``<ms>_<uuid>.<queue>.msg``
under its final name, then flocks it, serializes the payload and writes it;
Channel._get() lists the folder, moves the file away and reads it without
taking the lock. A consumer polling at the wrong moment reads an empty (or
partial) message, and the worker dies with ``Unrecoverable error:
JSONDecodeError('Expecting value: line 1 column 1 (char 0)')`` (seen with
several workers running at once on 2 busy cores; cf. celery/kombu#1551).

This subclass writes the message to a dot-file first and renames it into
place, so a message is either absent or complete. Everything else (names,
folders, message format, fanout, locking of the exchange tables) is kombu's.
Used by the test harness on both sides (client and worker) through the
``broker_transport`` setting: ``"kombu_atomic_fs:Transport"``.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic

from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = "{}_{}.{}.msg".format(int(round(monotonic() * 1000)),
                                     uuid.uuid4(), queue)
        final = os.path.join(self.data_folder_out, name)
        # "._tmp..." never matches "<anything>.<queue>.msg" in _get()
        tmp = os.path.join(self.data_folder_out, f"._tmp-{uuid.uuid4()}")
        try:
            with open(tmp, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.rename(tmp, final)
        except OSError as exc:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise filesystem.ChannelError(
                f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
