"""Publishing to a TF Serving base path: saved_model.pb last, all or nothing, and retention."""
import os

import pytest
import tensorflow as tf

from components import pusher
from contract.settings import PusherSettings
from contract.signatures import WARMUP_FILE

FILES = ("saved_model.pb", "variables/variables.index", "variables/variables.data-00000-of-00001",
         WARMUP_FILE, "fingerprint.pb")


def _fake_model(root) -> str:
    for name in FILES:
        path = os.path.join(root, "model", name)
        tf.io.gfile.makedirs(os.path.dirname(path))
        with tf.io.gfile.GFile(path, "w") as out:
            out.write(name)
    return os.path.join(root, "model")


@pytest.mark.parametrize("remote", [False, True])
def test_saved_model_pb_arrives_last_and_nothing_numeric_exists_before_it(tmp_path, monkeypatch,
                                                                          remote):
    """TF Serving loads a numeric dir once saved_model.pb is there: everything else, the warmup
    file included, must already be in place; on a local disk the numeric dir appears only by
    the final rename. ram:// stands in for a remote store (gs://), where renames are copies."""
    model = _fake_model(str(tmp_path))
    serving = "ram://serving_remote" if remote else str(tmp_path / "serving")
    seen = {}
    copy_file = pusher.io_utils.copy_file

    def recording_copy(src, dst, *args, **kwargs):
        if os.path.basename(dst) == "saved_model.pb":
            staging = os.path.dirname(dst)
            seen["others_present"] = all(tf.io.gfile.exists(os.path.join(staging, name))
                                         for name in FILES if name != "saved_model.pb")
            seen["numeric_dirs"] = pusher.version_dirs(serving)
        return copy_file(src, dst, *args, **kwargs)

    monkeypatch.setattr(pusher.io_utils, "copy_file", recording_copy)
    final = pusher.publish(model, serving, 1700000000)
    assert seen["others_present"] is True
    assert seen["numeric_dirs"] == ([1700000000] if remote else [])
    assert final == os.path.join(serving, "1700000000")
    for name in FILES:
        assert tf.io.gfile.exists(os.path.join(final, name)), name
    assert [n for n in tf.io.gfile.listdir(serving)] in (["1700000000"], ["1700000000/"])


def test_a_copy_that_fails_midway_leaves_no_version_and_no_staging_dir(tmp_path, monkeypatch):
    model = _fake_model(str(tmp_path))
    serving = tmp_path / "serving"
    serving.mkdir()
    (serving / "100").mkdir()  # An earlier version stays untouched.

    def disk_full(src, dst, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pusher.io_utils, "copy_file", disk_full)
    with pytest.raises(pusher.PushError, match="No space left on device"):
        pusher.publish(model, str(serving), 200)
    assert sorted(os.listdir(serving)) == ["100"]


def test_an_unwritable_serving_dir_fails_loudly(tmp_path):
    model = _fake_model(str(tmp_path))
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    with pytest.raises(pusher.PushError, match="could not publish"):
        pusher.publish(model, str(blocker / "serving"), 1)
    assert blocker.read_text() == "not a directory"


def test_versions_only_grow(tmp_path):
    (tmp_path / "9999999999").mkdir()  # A version "from the future" (clock skew, manual copy).
    (tmp_path / "notes").mkdir()
    assert pusher.version_dirs(str(tmp_path)) == [9999999999]
    assert pusher.next_version(str(tmp_path)) == 10000000000
    assert pusher.version_dirs(str(tmp_path / "missing")) == []


def test_retention_keeps_the_newest_and_every_labelled_version(tmp_path):
    for version in (1, 2, 3, 4, 5):
        (tmp_path / str(version)).mkdir()
    (tmp_path / ".incoming-6").mkdir()  # Not a version: never touched.
    removed = pusher.prune(str(tmp_path), keep=2, protected={1})
    assert removed == [2, 3]
    assert sorted(os.listdir(tmp_path)) == [".incoming-6", "1", "4", "5"]
    assert pusher.prune(str(tmp_path), keep=0, protected=set()) == []  # 0 = keep all.


def test_retention_reads_the_stable_label_from_models_config(tmp_path):
    from serving.deploy import write_deployment_files

    serving = tmp_path / "serving"
    for version in (10, 20, 30, 40):
        (serving / str(version)).mkdir(parents=True)
    out = tmp_path / "serving_config"
    write_deployment_files(str(out), str(serving), "imdb", stable_version=10, canary_version=40)
    settings = PusherSettings(keep_versions=1, models_config=str(out / "models.config"),
                                     model_name="imdb")
    assert pusher.protected_versions(settings) == {10, 40}
    pusher.prune(str(serving), settings.keep_versions, pusher.protected_versions(settings))
    assert sorted(os.listdir(serving)) == ["10", "40"]
    missing = PusherSettings(1, str(tmp_path / "none.config"), "imdb")
    assert pusher.protected_versions(missing) == set()


def _push_with_executor(tmp_path, model_uri, serving):
    """VersionedPusherExecutor.Do as the Pusher runs it, on a blessed `model_uri`."""
    from tfx.proto import pusher_pb2
    from tfx.types import standard_artifacts
    from tfx.utils import json_utils, proto_utils

    model = standard_artifacts.Model()
    model.uri = model_uri
    blessing = standard_artifacts.ModelBlessing()
    blessing.set_int_custom_property("blessed", 1)
    pushed = standard_artifacts.PushedModel()
    pushed.uri = str(tmp_path / f"pushed{len(os.listdir(tmp_path))}")
    destination = pusher_pb2.PushDestination(
        filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=serving))
    pusher.VersionedPusherExecutor().Do(
        {"model": [model], "model_blessing": [blessing]}, {"pushed_model": [pushed]},
        {"push_destination": proto_utils.proto_to_json(destination),
         "custom_config": json_utils.dumps({"keep_versions": 0, "models_config": "",
                                            "model_name": "imdb"})})
    return pushed


def _fake_trainer_model(root) -> str:
    """A Trainer `Model` artifact's dir: the SavedModel under Format-Serving/."""
    os.rename(_fake_model(root), os.path.join(root, "Format-Serving"))
    return root


def test_the_same_model_is_never_pushed_twice(tmp_path):
    """A rerun with nothing changed hands the Pusher the model it already published."""
    first_model = _fake_trainer_model(str(tmp_path / "a"))
    serving = str(tmp_path / "serving")
    first = _push_with_executor(tmp_path, first_model, serving)
    version = int(first.get_string_custom_property("pushed_version"))
    assert pusher.pushed_from(serving, version) == first_model
    again = _push_with_executor(tmp_path, first_model, serving)
    assert again.get_int_custom_property("pushed") == 0
    assert again.get_int_custom_property(pusher.ALREADY_SERVED_KEY) == version
    assert pusher.version_dirs(serving) == [version]
    other = _push_with_executor(tmp_path, _fake_trainer_model(str(tmp_path / "b")), serving)
    assert other.get_int_custom_property("pushed") == 1
    assert len(pusher.version_dirs(serving)) == 2


def test_the_source_record_is_in_place_before_saved_model_pb(tmp_path, monkeypatch):
    model = _fake_model(str(tmp_path))
    serving = str(tmp_path / "serving")
    seen = {}
    copy_file = pusher.io_utils.copy_file

    def recording_copy(src, dst, *args, **kwargs):
        if os.path.basename(dst) == "saved_model.pb":
            seen["source"] = os.path.exists(os.path.join(os.path.dirname(dst),
                                                          pusher.SOURCE_FILE))
        return copy_file(src, dst, *args, **kwargs)

    monkeypatch.setattr(pusher.io_utils, "copy_file", recording_copy)
    pusher.publish(model, serving, 5, source_uri="/root/Trainer/model/9")
    assert seen == {"source": True}
    assert pusher.pushed_from(serving, 5) == "/root/Trainer/model/9"
    assert pusher.pushed_from(serving, 6) is None


def test_staging_left_by_a_killed_push_is_removed_only_when_stale(tmp_path):
    serving = tmp_path / "serving"
    (serving / "100").mkdir(parents=True)
    (serving / ".incoming-200" / "variables").mkdir(parents=True)  # A push killed mid-copy.
    (serving / ".incoming-300").mkdir()  # One still copying, from another run.
    old = os.path.getmtime(serving / ".incoming-300") - 2 * pusher.STALE_STAGING_SECONDS
    os.utime(serving / ".incoming-200", (old, old))
    assert pusher.remove_stale_staging(str(serving)) == [".incoming-200"]
    assert sorted(os.listdir(serving)) == [".incoming-300", "100"]


def _push_in_process(serving, model_root, name, evaluated_against, results):
    """One pipeline's Pusher executor, its copy slowed so that two runs overlap."""
    import json
    import time

    from tfx.proto import pusher_pb2
    from tfx.types import standard_artifacts
    from google.protobuf import json_format

    publish = pusher.publish

    def slow_publish(*args, **kwargs):
        time.sleep(1.0)
        return publish(*args, **kwargs)

    pusher.publish = slow_publish
    model = standard_artifacts.Model()
    model.uri = model_root
    blessing = standard_artifacts.ModelBlessing()
    blessing.set_int_custom_property("blessed", 1)
    if evaluated_against is not None:
        blessing.set_int_custom_property(pusher.BASELINE_VERSION_KEY, evaluated_against)
    pushed = standard_artifacts.PushedModel()
    pushed.uri = os.path.join(os.path.dirname(serving), f"pushed-{name}")
    destination = pusher_pb2.PushDestination(
        filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=serving))
    try:
        pusher.VersionedPusherExecutor().Do(
            {"model": [model], "model_blessing": [blessing]}, {"pushed_model": [pushed]},
            {"push_destination": json_format.MessageToJson(destination),
             "custom_config": json.dumps({"keep_versions": 1, "models_config": "",
                                          "model_name": "imdb"})})
        results.put((name, "pushed", pushed.get_string_custom_property("pushed_version")))
    except pusher.PushError as error:
        results.put((name, "refused", str(error)))


def _two_overlapping_pushes(tmp_path, evaluated_against):
    import multiprocessing

    serving = str(tmp_path / "serving")
    if evaluated_against is not None:
        pusher.publish(_fake_model(str(tmp_path / "old")), serving, evaluated_against)
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    runs = []
    for name in ("a", "b"):
        model_root = os.path.join(str(tmp_path), name)
        os.rename(_fake_model(model_root), os.path.join(model_root, "Format-Serving"))
        runs.append(context.Process(target=_push_in_process, args=(
            serving, model_root, name, evaluated_against, results)))
    for run in runs:
        run.start()
    for run in runs:
        run.join(60)
    return serving, sorted(results.get(timeout=5) for _ in runs)


def test_two_runs_evaluated_against_one_version_push_only_once(tmp_path):
    """Two pipelines (two output dirs) sharing a serving dir, both blessed against version
    100: the first to take the lock pushes; the second finds another version served than it
    was compared with and refuses, so the no-regression gate holds, and retention (keep 1)
    removes only the old version, never the one the other run just pushed."""
    serving, results = _two_overlapping_pushes(tmp_path, 100)
    outcomes = sorted(outcome for _, outcome, _ in results)
    assert outcomes == ["pushed", "refused"], results
    pushed_version = int(next(detail for _, outcome, detail in results if outcome == "pushed"))
    refusal = next(detail for _, outcome, detail in results if outcome == "refused")
    assert f"now serves version {pushed_version}" in refusal and "version 100" in refusal
    assert sorted(os.listdir(serving)) == [".push.lock", str(pushed_version)]
    for name in FILES:
        assert os.path.exists(os.path.join(serving, str(pushed_version), name))


def test_overlapping_pushes_get_unique_complete_versions(tmp_path):
    """Without a recorded baseline (blessings of older runs), both push: the lock gives each
    its own version, and retention (keep 1) runs only after a push has completed, so what is
    left is the newest whole version and no staging dir."""
    serving, results = _two_overlapping_pushes(tmp_path, None)
    versions = sorted(int(detail) for _, outcome, detail in results if outcome == "pushed")
    assert len(versions) == 2 and versions[0] < versions[1], results
    assert sorted(os.listdir(serving)) == [".push.lock", str(versions[1])]
    for name in FILES:
        assert os.path.exists(os.path.join(serving, str(versions[1]), name))
    assert not [n for n in os.listdir(serving) if n.startswith(pusher.INCOMING_PREFIX)]
