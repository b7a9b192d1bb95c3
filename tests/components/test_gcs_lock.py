"""The push lock on gs:// serving dirs (components/gcs_lock.py), against a stand-in for Cloud
Storage's JSON API that keeps its generation preconditions (tests/support/gcs_standin.py)."""
import threading
import time

import pytest

from components.gcs_lock import LockTimeout, gcs_lock
from components.pusher import PushError, serving_dir_lock
from tests.support.gcs_standin import GcsStandin

LOCK = ("bucket", "serving/.push.lock")


@pytest.fixture
def gcs(monkeypatch):
    standin = GcsStandin()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", standin.host)
    yield standin
    standin.stop()


def test_two_pushes_never_hold_the_lock_at_once(gcs):
    spans = []

    def push(name):
        with serving_dir_lock("gs://bucket/serving"):
            start = time.monotonic()
            time.sleep(0.4)
            spans.append((start, time.monotonic(), name))

    threads = [threading.Thread(target=push, args=(n,)) for n in ("a", "b", "c")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    spans.sort()
    assert len(spans) == 3
    assert all(earlier[1] <= later[0] for earlier, later in zip(spans, spans[1:])), spans
    assert LOCK not in gcs.objects  # Given back.


def test_a_push_that_waits_too_long_is_refused_naming_the_holder(gcs):
    with gcs_lock("gs://bucket/serving"):
        with pytest.raises(LockTimeout, match=r"held by another push \(\{\"host\""):
            with gcs_lock("gs://bucket/serving", wait_seconds=0.3):
                pass
        with pytest.raises(PushError, match=r"not pushed: .* held by another push.*rerun"):
            with serving_dir_lock("gs://bucket/serving", wait_seconds=0.3):
                pass
        assert LOCK in gcs.objects


def test_a_lock_left_by_a_killed_push_is_broken_once_stale(gcs):
    status, _ = gcs.create(*LOCK, b'{"pid": 1}', {})  # Its owner died holding it.
    assert status == 200
    with pytest.raises(LockTimeout):
        with gcs_lock("gs://bucket/serving", wait_seconds=0.2, stale_seconds=60):
            pass
    time.sleep(1.1)  # The stand-in's times have whole seconds, as GCS's `updated` may.
    with gcs_lock("gs://bucket/serving", stale_seconds=1):
        assert gcs.objects[LOCK]["data"] != b'{"pid": 1}'
    assert LOCK not in gcs.objects


def test_releasing_deletes_only_our_own_lock(gcs):
    """If our lock was broken as stale and another push took it, leaving must not free
    theirs: the delete is conditional on our generation."""
    with gcs_lock("gs://bucket/serving"):
        gcs.delete(*LOCK, {})
        gcs.create(*LOCK, b"theirs", {"ifGenerationMatch": "0"})
    assert gcs.objects[LOCK]["data"] == b"theirs"
