"""The push lock on a `gs://` serving dir: an object created only if it does not exist.

Cloud Storage has no file locks, but it has compare-and-set: a write with the precondition
`ifGenerationMatch=0` succeeds only when no object of that name exists, atomically, and a delete
with `ifGenerationMatch=<generation>` removes only the object that write created. So
`<serving-dir>/.push.lock` is taken by creating it that way, waited for while another push holds
it, and given back by deleting exactly our generation. A lock left by a killed push is broken
once it is older than `stale_seconds` (pushes copy one model: minutes at most).
"""
import contextlib
import json
import logging
import os
import socket
import time
from typing import Iterator, Tuple

LOCK_NAME = ".push.lock"


class LockTimeout(RuntimeError):
    """Another push held the lock for longer than we waited."""


def split_gs(path: str) -> Tuple[str, str]:
    """gs://bucket/a/b -> ("bucket", "a/b")."""
    bucket, _, prefix = path[len("gs://"):].partition("/")
    return bucket, prefix.strip("/")


@contextlib.contextmanager
def gcs_lock(serving_dir: str, wait_seconds: float = 600.0, stale_seconds: float = 3600.0,
             client=None) -> Iterator[None]:
    from google.api_core import exceptions
    from google.cloud import storage

    client = client or storage.Client()
    bucket_name, prefix = split_gs(serving_dir)
    name = f"{prefix}/{LOCK_NAME}" if prefix else LOCK_NAME
    bucket = client.bucket(bucket_name)
    owner = json.dumps({"host": socket.gethostname(), "pid": os.getpid(),
                        "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    deadline, pause = time.time() + wait_seconds, 0.5
    while True:
        blob = bucket.blob(name)
        try:
            blob.upload_from_string(owner, if_generation_match=0)
            break
        except exceptions.PreconditionFailed:
            held = bucket.get_blob(name)
            if held is not None and time.time() - held.updated.timestamp() > stale_seconds:
                logging.warning("Breaking the push lock %s/%s left since %s.", serving_dir,
                                LOCK_NAME, held.updated)
                with contextlib.suppress(exceptions.PreconditionFailed, exceptions.NotFound):
                    held.delete(if_generation_match=held.generation)
                continue
            if time.time() > deadline:
                holder = "?"
                with contextlib.suppress(exceptions.NotFound):
                    holder = held.download_as_text() if held is not None else holder
                raise LockTimeout(f"{serving_dir}/{LOCK_NAME} is held by another push "
                                  f"({holder}) for more than {wait_seconds:.0f} s") from None
            time.sleep(pause)
            pause = min(pause * 2, 10.0)
    try:
        yield
    finally:
        with contextlib.suppress(exceptions.PreconditionFailed, exceptions.NotFound):
            blob.delete(if_generation_match=blob.generation)
