"""The Evaluator's baseline comes from the serving dir (components/serving_baseline.py)."""
import os

from tfx.types import standard_artifacts

from components import serving_baseline
from components.pusher import newest_served_version
from components.serving_baseline import ServingBaseline, ServingBaselineExecutor
from tests.support.serving_dirs import run_baseline_executor, serve


def test_newest_complete_version_wins(tmp_path):
    assert newest_served_version(str(tmp_path / "missing")) is None
    serve(tmp_path, 100)
    serve(tmp_path, 300)
    serve(tmp_path, 400, complete=False)  # A push still copying (saved_model.pb comes last).
    os.makedirs(tmp_path / ".incoming-500")
    assert newest_served_version(str(tmp_path)) == 300


def test_executor_copies_the_served_model_or_emits_an_empty_baseline(tmp_path):
    empty = run_baseline_executor(tmp_path / "serving", tmp_path / "empty")
    assert empty.get_int_custom_property("served_version") == -1
    assert not serving_baseline.has_baseline(empty)
    serve(tmp_path / "serving", 7)
    baseline = run_baseline_executor(tmp_path / "serving", tmp_path / "baseline")
    assert baseline.get_int_custom_property("served_version") == 7
    assert serving_baseline.has_baseline(baseline)
    with open(tmp_path / "baseline" / "Format-Serving" / "saved_model.pb") as copied:
        assert copied.read() == "model 7"


def _runner(tmp_path, serving_dir, **parameters):
    """Runs a one-node pipeline (ServingBaseline) with caching on, locally; each call returns
    (execution state, served version it emitted)."""
    from ml_metadata import metadata_store
    from tfx import v1 as tfx
    from tfx.orchestration import metadata
    from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner

    connection = metadata.sqlite_metadata_connection_config(str(tmp_path / "mlmd.sqlite"))

    def run():
        BeamDagRunner().run(tfx.dsl.Pipeline(
            pipeline_name="baseline-cache", pipeline_root=str(tmp_path / "root"),
            components=[ServingBaseline(serving_dir=str(serving_dir), **parameters)],
            enable_cache=True, metadata_connection_config=connection))
        store = metadata_store.MetadataStore(connection)
        execution = max(store.get_executions(), key=lambda e: e.id)
        [event] = [e for e in store.get_events_by_execution_ids([execution.id])
                   if e.type == e.OUTPUT]
        [model] = store.get_artifacts_by_id([event.artifact_id])
        return (execution.last_known_state,
                model.custom_properties["served_version"].int_value)

    return run


def test_local_runner_reruns_the_baseline_only_when_the_served_version_changes(tmp_path):
    """No inputs means a cache hit would return a stale baseline; the driver prevents it."""
    from ml_metadata.proto import metadata_store_pb2

    serving_dir = tmp_path / "serving"
    run = _runner(tmp_path, serving_dir)
    COMPLETE, CACHED = metadata_store_pb2.Execution.COMPLETE, metadata_store_pb2.Execution.CACHED
    assert run() == (COMPLETE, -1)
    assert run() == (CACHED, -1)
    serve(serving_dir, 42)
    assert run() == (COMPLETE, 42)


def test_the_baseline_reruns_when_the_stable_label_moves(tmp_path):
    """The served version is in the cache key with labels too: pointing `stable` at another
    version reruns the baseline."""
    from ml_metadata.proto import metadata_store_pb2

    serving_dir = tmp_path / "serving"
    for version in (42, 43):
        serve(serving_dir, version)
    run = _runner(tmp_path, serving_dir, models_config=str(tmp_path / "models.config"),
                  model_name="imdb")
    COMPLETE, CACHED = metadata_store_pb2.Execution.COMPLETE, metadata_store_pb2.Execution.CACHED
    assert run() == (COMPLETE, 43)  # No models.config yet: the newest.
    _label_stable(tmp_path, serving_dir, 42)
    assert run() == (COMPLETE, 42)
    assert run() == (CACHED, 42)
    # Back to 43: the same key as the first run, whose output (version 43) is reused.
    _label_stable(tmp_path, serving_dir, 43)
    assert run() == (CACHED, 43)


def test_a_served_copy_of_the_candidate_is_not_its_baseline(tmp_path):
    """Rerunning with nothing changed: the candidate is what v2 was pushed from, so its
    baseline stays v1 (what it was compared against), not itself."""
    import json

    from components.pusher import SOURCE_FILE

    serving = str(tmp_path / "serving")
    serve(serving, 1)
    os.makedirs(os.path.dirname(os.path.join(serve(serving, 2), SOURCE_FILE)))
    with open(os.path.join(serving, "2", SOURCE_FILE), "w") as source:
        json.dump({"model_uri": "/root/Trainer/model/8"}, source)
    assert serving_baseline.baseline_version(serving, "/root/Trainer/model/8") == 1
    assert serving_baseline.baseline_version(serving, "/root/Trainer/model/9") == 2
    assert serving_baseline.baseline_version(serving) == 2
    candidate = standard_artifacts.Model()
    candidate.uri = "/root/Trainer/model/8"
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "baseline")
    ServingBaselineExecutor().Do({"candidate": [candidate]}, {"model": [model]},
                                 {"serving_dir": serving})
    assert model.get_int_custom_property("served_version") == 1


def _label_stable(tmp_path, serving_dir, version) -> str:
    from google.protobuf import text_format

    from serving.models_config import model_server_config

    path = str(tmp_path / "models.config")
    with open(path, "w") as out:
        out.write(text_format.MessageToString(model_server_config(
            "imdb", "/models/imdb", stable_version=version)))
    return path


def test_with_a_stable_label_the_labelled_version_is_the_served_one(tmp_path):
    """TF Serving serves what models.config's labels name, not the newest folder: the
    baseline, the drift check, warm start and the push check compare with that version."""
    serving = tmp_path / "serving"
    for version in (5, 6, 7):
        serve(serving, version)
    config = _label_stable(tmp_path, serving, 6)
    assert newest_served_version(str(serving)) == 7
    assert newest_served_version(str(serving), models_config=config, model_name="imdb") == 6
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "baseline")
    ServingBaselineExecutor().Do({}, {"model": [model]}, {
        "serving_dir": str(serving), "models_config": config, "model_name": "imdb"})
    assert model.get_int_custom_property("served_version") == 6
    # A label on a version that is gone: the newest loadable one, as without labels.
    assert newest_served_version(str(serving), models_config=_label_stable(tmp_path, serving,
                                                                           9),
                                 model_name="imdb") == 7


def test_the_push_check_compares_with_the_stable_version(tmp_path):
    """A model evaluated against stable version 6 may be pushed though version 7 is newer
    (7 gets no traffic); one evaluated against 7 may not."""
    import pytest

    from components.pusher import PushError, check_still_served

    serving = tmp_path / "serving"
    for version in (6, 7):
        serve(serving, version)
    config = _label_stable(tmp_path, serving, 6)
    served = newest_served_version(str(serving), models_config=config, model_name="imdb")
    check_still_served(str(serving), served, 6)
    with pytest.raises(PushError, match="evaluated against version 7"):
        check_still_served(str(serving), served, 7)
