"""kombu's filesystem transport, with messages published atomically.

kombu 5.7's ``filesystem`` ``Channel._put()`` creates ``<ms>_<uuid>.<queue>.msg``
under its final name, then flocks it, serializes the payload and writes it;
``Channel._get()`` lists the folder, moves the file away and reads it without
taking the lock. A consumer polling at the wrong moment reads an empty (or
partial) message, and the worker dies with ``Unrecoverable error:
JSONDecodeError('Expecting value: line 1 column 1 (char 0)')`` (seen with
several workers running at once on 2 busy cores; cf. celery/kombu#1551).

This transport writes the message to a dot-file first and renames it into
place, so a message is either absent or complete. It also takes a message with
one ``rename()`` into ``processed_folder`` (two consumers cannot both get it;
``shutil.move`` may copy) and, unless ``store_processed`` is set, deletes it
once read, so a long session does not pile up processed messages; and it
keeps kombu's in-process broker state per broker folder, not one for all
(see ``Transport``). Names, folders, the message format, fanout and the
locking of the exchange tables are kombu's.

Use it on both sides (client and worker) with the ``broker_transport`` setting::

    broker_url = "filesystem://"
    broker_transport = "taskview.control.atomic_fs:Transport"
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import threading
import uuid
from queue import Empty
from time import monotonic

from kombu.transport import filesystem, virtual
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

#: The value for Celery's ``broker_transport`` setting.
TRANSPORT = "taskview.control.atomic_fs:Transport"


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):  # type: ignore[override]  # kombu's own filesystem Channel differs from its base
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # "._tmp-..." never matches "<anything>.<queue>.msg" in _get()
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
            raise filesystem.ChannelError(f"Cannot add file {final!r} to directory") from exc

    def _get(self, queue, timeout=None):
        suffix = f"{queue}.msg"
        processed = self._taken_folder
        for filename in sorted(os.listdir(self.data_folder_in)):
            # only handle messages for the requested queue
            if filename.partition(".")[2] != suffix:
                continue
            source = os.path.join(self.data_folder_in, filename)
            taken = os.path.join(processed, filename)
            try:
                os.rename(source, taken)
            except FileNotFoundError as exc:
                if os.path.lexists(source):  # the folder is missing, not the message
                    raise filesystem.ChannelError(f"Cannot move {source!r} to {processed!r}") from exc
                continue  # another consumer took it
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    continue
                try:  # processed_folder on another filesystem: kombu's way
                    shutil.move(source, processed)
                except OSError:
                    continue
            try:
                with open(taken, "rb") as f:
                    payload = f.read()
                if not self.store_processed:
                    os.unlink(taken)
            except OSError as exc:
                raise filesystem.ChannelError(f"Cannot read file {taken!r} from queue.") from exc
            return loads(bytes_to_str(payload))
        raise Empty()

    @property
    def _taken_folder(self):
        # kombu: processed_folder when messages are kept, else the temp dir
        if self.store_processed or "processed_folder" in self.transport_options:
            return self.processed_folder
        return tempfile.gettempdir()


_STATES: dict[tuple[str, ...], virtual.BrokerState] = {}
_STATES_LOCK = threading.Lock()


class Transport(filesystem.Transport):
    """kombu's filesystem Transport keeps ONE broker state per process
    (declared exchanges, bindings), whatever the folders: once a queue was
    bound for one broker folder, binding it for another is skipped, the other
    control folder never learns it, and messages routed there are dropped
    (seen: a second connection with other folders in the same process). Here
    the state is shared per set of folders: per broker, as kombu meant it.
    """

    Channel = Channel

    def __init__(self, client, **kwargs):
        super().__init__(client, **kwargs)
        options = client.transport_options or {}
        key = tuple(
            os.path.abspath(str(options.get(name, default)))
            for name, default in (
                ("data_folder_in", "data_in"),
                ("data_folder_out", "data_out"),
                ("control_folder", "control"),
            )
        )
        with _STATES_LOCK:
            self.state = _STATES.setdefault(key, virtual.BrokerState())
