"""tf.distribute for the Tuner and the Trainer (trainer/distribution.py, trainer/resume.py).

The multi-device runs start their own processes: logical CPU devices must exist before
TensorFlow starts. They train the real `run_fn` on the shared tiny run's Transform output.
"""
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from pipeline import nodes
from trainer import distribution

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize("cluster,task,workers,chief", [
    ({}, {}, 0, True),
    ({"worker": ["a:1"]}, {"type": "worker", "index": 0}, 1, True),
    ({"chief": ["a:1"], "worker": ["b:1", "c:1"]}, {"type": "chief", "index": 0}, 3, True),
    ({"chief": ["a:1"], "worker": ["b:1", "c:1"]}, {"type": "worker", "index": 0}, 3, False),
    ({"worker": ["a:1", "b:1"]}, {"type": "worker", "index": 0}, 2, True),
    ({"worker": ["a:1", "b:1"]}, {"type": "worker", "index": 1}, 2, False),
])
def test_the_chief_is_task_chief_or_else_worker_0(cluster, task, workers, chief):
    config = {"cluster": cluster, "task": task} if cluster else {}
    assert distribution.worker_count(config) == workers
    assert distribution.is_chief(config) is chief


def test_one_device_is_the_plain_path(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    strategy = distribution.make_strategy()
    assert strategy.num_replicas_in_sync == 1
    dataset = tf.data.Dataset.range(3).batch(2)
    assert distribution.prepare(dataset, strategy, 2, repeat=False) is dataset


def test_partial_batches_are_filled_with_weightless_copies_of_their_rows():
    tokens = tf.constant([[1, 2, 0], [3, 0, 0], [4, 5, 6]], tf.int64)
    labels = tf.constant([[1.0], [0.0], [1.0]])
    batches = list(distribution.full_batches(
        tf.data.Dataset.from_tensor_slices((tokens, labels)).batch(2), 4))
    assert [b[0].shape.as_list() for b in batches] == [[4, 3], [4, 3]]
    np.testing.assert_array_equal(batches[0][2], [1, 1, 0, 0])
    np.testing.assert_array_equal(batches[1][2], [1, 0, 0, 0])
    np.testing.assert_array_equal(batches[1][0], [[4, 5, 6]] * 4)  # Copies of its own row.
    np.testing.assert_array_equal(batches[0][1][:, 0], [1, 0, 1, 0])


def test_no_replica_gets_an_empty_batch_and_accuracy_stays_exact():
    result = subprocess.run([sys.executable, "-m", "tests.support.replica_batches"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["replicas"] == 2
    # Without the fix, the batch of 1 row leaves the second replica with none ...
    assert [1, 0] in seen["rows_plain"]
    # ... with it every replica gets rows, and the zero weights keep accuracy exact.
    assert all(min(rows) >= 1 for rows in seen["rows_prepared"])
    assert seen["accuracy_prepared"] == pytest.approx(seen["accuracy_direct"], abs=1e-6)


def test_a_lost_peer_is_named_with_what_to_do(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1", "b:2"]},
                                                "task": {"type": "worker", "index": 0}}))
    error = distribution.PeerLostError(tf.errors.UnavailableError(
        None, None, "in user code:\n\nCollective ops is aborted by: Connection reset by peer"))
    assert "another worker of {'worker': ['a:1', 'b:2']} is gone" in str(error)
    assert "Connection reset by peer" in str(error) and "--training-backup-dir" in str(error)


# -- run_fn on 1 and 2 replicas, and killed and resumed --------------------------------------
def _task(first_run, config, out, devices: int) -> str:
    examples = first_run.artifact(nodes.TRANSFORM, "transformed_examples").uri
    task = {"transformed_examples": examples,
            "transform_graph": first_run.artifact(nodes.TRANSFORM, "transform_graph").uri,
            "custom_config": config.trainer_config(), "out": str(out), "cpu_devices": devices}
    path = os.path.join(str(out), "task.json")
    os.makedirs(str(out), exist_ok=True)
    with open(path, "w") as handle:
        json.dump(task, handle)
    return path


def _train(task_path: str, log_path: str, kill_on: str = "") -> int:
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "tests.support.train_task",
                                    task_path], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 600
    while process.poll() is None and time.monotonic() < deadline:
        if kill_on and kill_on in open(log_path).read():
            process.send_signal(signal.SIGKILL)
        time.sleep(0.2)
    return process.wait(timeout=10)


def _summary(out) -> dict:
    with open(os.path.join(str(out), "model_run", "training_summary.json")) as handle:
        return json.load(handle)


@pytest.fixture(scope="module")
def replica_config(pipeline_config, tmp_path_factory):
    # No dropout: with the same global batch, 1 and 2 replicas then differ only by float sums.
    return dataclasses.replace(
        pipeline_config, ensemble_size=1, epochs=3, average_from_epoch=2, dropout=0.0,
        spatial_dropout=0.0, batch_size=16,
        training_backup_dir=str(tmp_path_factory.mktemp("replica_backup")))


@pytest.fixture(scope="module")
def one_replica(first_run, replica_config, tmp_path_factory):
    out = tmp_path_factory.mktemp("one_replica")
    assert _train(_task(first_run, replica_config, out, 1), str(out / "log")) == 0
    return out


def test_two_replicas_train_to_the_same_eval_accuracy_with_the_same_export(
        first_run, replica_config, one_replica, tmp_path):
    assert _train(_task(first_run, replica_config, tmp_path, 2), str(tmp_path / "log")) == 0
    one, two = _summary(one_replica), _summary(tmp_path)
    assert one["distribution"]["strategy"] != "MirroredStrategy"
    assert two["distribution"] == {**two["distribution"], "strategy": "MirroredStrategy",
                                   "replicas": 2, "workers": 1}
    eval_rows = first_run.split_counts()["eval"]
    # Tolerance: 2 eval reviews of the tiny run (the model is near chance on 200 reviews).
    tolerance = 2 / eval_rows + 1e-6
    for key in ("deep_eval_accuracy", "eval_accuracy"):
        assert abs(one["wide_and_deep"][key] - two["wide_and_deep"][key]) <= tolerance, key
    assert abs(max(one["history"]["val_accuracy"]) - max(two["history"]["val_accuracy"])
               ) <= tolerance
    # The export's contract is the same: signatures, their inputs and outputs, warmup.
    def contract(out):
        loaded = tf.saved_model.load(os.path.join(str(out), "model"))
        return {name: (str(fn.structured_input_signature),
                       sorted((key, str(spec)) for key, spec in fn.structured_outputs.items()))
                for name, fn in loaded.signatures.items()}
    assert contract(one_replica) == contract(tmp_path)
    assert os.listdir(os.path.join(str(tmp_path), "model", "assets.extra")) == os.listdir(
        os.path.join(str(one_replica), "model", "assets.extra"))


def test_a_killed_training_resumes_after_its_last_finished_epoch(
        first_run, replica_config, one_replica, tmp_path):
    task = _task(first_run, replica_config, tmp_path, 1)
    assert _train(task, str(tmp_path / "killed.log"), kill_on="Epoch 3/3") != 0
    assert not os.path.exists(os.path.join(str(tmp_path), "model", "saved_model.pb"))
    assert _train(task, str(tmp_path / "rerun.log")) == 0
    rerun = open(tmp_path / "rerun.log").read()
    assert "Epoch 1/3" not in rerun and "Epoch 2/3" not in rerun and "Epoch 3/3" in rerun
    resumed, reference = _summary(tmp_path), _summary(one_replica)
    assert resumed["resumed_after_epoch"] == 2 and resumed["epochs_run"] == [3]
    # The bookkeeping came back too: the full history, the averaged epochs, the best epoch.
    tolerance = 2 / first_run.split_counts()["eval"] + 1e-6
    assert len(resumed["history"]["val_accuracy"]) == 3
    assert np.allclose(resumed["history"]["val_accuracy"][:2],
                       reference["history"]["val_accuracy"][:2], atol=tolerance)
    assert resumed["weight_averaging"]["epochs"] == [2, 3]
    assert abs(resumed["wide_and_deep"]["eval_accuracy"]
               - reference["wide_and_deep"]["eval_accuracy"]) <= tolerance
    assert not os.listdir(replica_config.training_backup_dir)  # A finished training cleans up.


def test_the_tuner_searches_under_mirrored_strategy_on_two_replicas(
        first_run, replica_config, tmp_path):
    # One trial: under the strategy each trial's first epoch traces for both replicas (~80 s).
    config = dataclasses.replace(replica_config, tuning="tune", tuner_max_trials=1,
                                 tuner_epochs=1, tune_units=(4, 8))
    task = json.loads(open(_task(first_run, config, tmp_path, 2)).read())
    task.update(kind="tune", custom_config=config.tuner_config())
    path = tmp_path / "tune.json"
    path.write_text(json.dumps(task))
    assert _train(str(path), str(tmp_path / "log")) == 0
    log = (tmp_path / "log").read_text()
    assert "Training under MirroredStrategy with 2 replicas" in log
    result = json.loads((tmp_path / "tuner" / "result.json").read_text())
    assert [t["status"] for t in result["trials"]] == ["COMPLETED"]
    assert result["best"] in [t["values"] for t in result["trials"]]
