"""One local run at a time per ML Metadata store.

Two BeamDagRunner runs on one output dir would both pick up the same cached inputs, race on
SQLite ML Metadata ("database is locked") and push versions in an order nobody chose. The run
holds an exclusive `flock` on a file beside the store instead; a second run is refused at once
with the first one's pid and start time. The kernel drops the lock when its process dies, even
by SIGKILL, so a crashed run never leaves a stale lock behind.
"""
import contextlib
import fcntl
import json
import os
import time
from typing import Iterator

from contract.errors import UserError


class RunLockedError(UserError, RuntimeError):
    """Another run is using this output dir."""


def lock_path(metadata_path: str) -> str:
    return metadata_path + ".lock"


@contextlib.contextmanager
def exclusive_run(metadata_path: str) -> Iterator[None]:
    """Holds the output dir's run lock for the duration of the block."""
    path = lock_path(metadata_path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "{}"
            raise RunLockedError(
                f"another run is using {os.path.dirname(os.path.abspath(metadata_path))} "
                f"({_describe(holder)}); wait for it to finish, or use another --output-dir"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "started": time.strftime(
            "%Y-%m-%d %H:%M:%S %Z")}))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


def _describe(holder: str) -> str:
    try:
        info = json.loads(holder)
        return f"pid {info['pid']}, started {info['started']}"
    except (ValueError, KeyError, TypeError):
        return "holder unknown"
