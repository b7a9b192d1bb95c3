"""Which `tf.distribute` strategy the Tuner and the Trainer train under, and what it changes.

- Several workers in `TF_CONFIG` (Vertex worker pools, the Kubeflow Training Operator):
  `MultiWorkerMirroredStrategy`; each worker trains on its shard of `train`.
- Several local GPUs (or logical CPU devices someone configured on purpose):
  `MirroredStrategy` over them.
- Otherwise TensorFlow's default strategy: one device, the plain path.

Under a strategy of more than one replica every global batch is split between the replicas.
A partial batch (the end of `eval`, of a length bucket) can leave a replica with no rows, which
recurrent layers do not survive (tensorflow/tensorflow#58809, #60935). Training batches are
never partial (the input repeats), and evaluation batches are filled up to the full global
batch with copies of their own rows weighted 0 (`full_batches`), so accuracy is exact.
"""
import json
import logging
import os
import shutil
import tempfile
import time
from typing import Any, Dict, Tuple

import tensorflow as tf

# How long a worker waits for the chief's export before it fails the task.
CHIEF_EXPORT_TIMEOUT_S = 1800


class PeerLostError(RuntimeError):
    """Another worker of a multi-worker training stopped (killed, preempted, unreachable)."""

    def __init__(self, error: Exception):
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        cause = next((line for line in lines if "aborted by" in line), lines[-1] if lines else "")
        super().__init__(
            f"multi-worker training stopped: another worker of {tf_config().get('cluster')} is "
            f"gone ({type(error).__name__}: {cause}). This task fails rather than wait; "
            "rerun the job: it resumes after the last finished epoch (--training-backup-dir).")


def tf_config() -> Dict[str, Any]:
    return json.loads(os.environ.get("TF_CONFIG") or "{}")


def worker_count(config: Dict[str, Any]) -> int:
    cluster = config.get("cluster", {})
    return len(cluster.get("chief", [])) + len(cluster.get("worker", []))


def is_chief(config: Dict[str, Any]) -> bool:
    """The chief writes the outputs: task `chief`, or worker 0 when the cluster has no chief."""
    if worker_count(config) <= 1:
        return True
    task = config.get("task", {})
    if "chief" in config.get("cluster", {}):
        return task.get("type") == "chief"
    return task.get("type") == "worker" and int(task.get("index", 0)) == 0


def make_strategy(multi_worker: bool = True) -> tf.distribute.Strategy:
    """The strategy for this task (see the module docstring). Call it before any model exists.

    `multi_worker=False`: local devices only, whatever TF_CONFIG says (the Tuner's parallel
    trials run on replicas that Vertex also describes in TF_CONFIG, but each trains alone)."""
    config = tf_config()
    if multi_worker and worker_count(config) > 1:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    else:
        gpus = tf.config.list_logical_devices("GPU")
        cpus = tf.config.list_logical_devices("CPU")
        if len(gpus) > 1:
            strategy = tf.distribute.MirroredStrategy([d.name for d in gpus])
        elif not gpus and len(cpus) > 1:
            strategy = tf.distribute.MirroredStrategy([d.name for d in cpus])
        else:
            return tf.distribute.get_strategy()
    logging.info("Training under %s with %d replicas", describe(strategy)["strategy"],
                 strategy.num_replicas_in_sync)
    return strategy


def describe(strategy: tf.distribute.Strategy) -> Dict[str, Any]:
    """What training_summary.json records about the strategy."""
    config = tf_config()
    # MultiWorkerMirroredStrategy's class is called CollectiveAllReduceStrategy.
    name = ("MultiWorkerMirroredStrategy"
            if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            else type(strategy).__name__)
    return {"strategy": name, "replicas": strategy.num_replicas_in_sync,
            "workers": max(1, worker_count(config)), "chief": is_chief(config)}


def weights_digest(model: tf.keras.Model) -> str:
    """sha256 of the weights: every worker logs it, so a reader can check they agree."""
    import hashlib

    digest = hashlib.sha256()
    for weights in model.get_weights():
        digest.update(weights.tobytes())
    return digest.hexdigest()[:16]


def full_batches(dataset: tf.data.Dataset, batch_size: int) -> tf.data.Dataset:
    """(x, y) batches -> (x, y, weight) batches of exactly `batch_size` rows: a partial batch
    is filled with copies of its own rows (same length, so trimming is unchanged) weighted 0."""
    def fill(x, y):
        rows = tf.shape(y)[0]
        index = tf.range(batch_size) % tf.maximum(rows, 1)
        weight = tf.cast(tf.range(batch_size) < rows, tf.float32)
        return tf.gather(x, index), tf.gather(y, index), weight

    return dataset.map(fill)


def shard_policy(dataset: tf.data.Dataset, policy) -> tf.data.Dataset:
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = policy
    return dataset.with_options(options)


def prepare(dataset: tf.data.Dataset, strategy: tf.distribute.Strategy, batch_size: int,
            repeat: bool, files: int = 0) -> tf.data.Dataset:
    """The Tuner's and Trainer's batches made safe for `strategy` (unchanged on one replica).

    Training data is sharded between workers by file when there are at least as many `files`
    as workers (each reads only its own), else by element (each reads all, keeps its share).
    Every worker evaluates all of `eval`, so all take the same number of evaluation steps
    and the same decisions (best epoch, early stopping).
    """
    if strategy.num_replicas_in_sync == 1:
        return dataset
    if repeat:
        workers = max(1, worker_count(tf_config()))
        policy = tf.data.experimental.AutoShardPolicy
        return shard_policy(dataset, policy.FILE if files >= workers > 1 else policy.DATA)
    return shard_policy(full_batches(dataset, batch_size),
                        tf.data.experimental.AutoShardPolicy.OFF)


def output_dirs(fn_args, chief: bool) -> Tuple[str, str]:
    """(serving_model_dir, model_run_dir) this task writes: the real ones on the chief; on
    another worker, fresh local dirs that `finish_worker` removes (under
    MultiWorkerMirroredStrategy every worker must take part in the save)."""
    if chief:
        return fn_args.serving_model_dir, fn_args.model_run_dir
    scratch = tempfile.mkdtemp(prefix="worker_outputs_")
    return os.path.join(scratch, "model"), os.path.join(scratch, "model_run")


def finish_worker(serving_model_dir: str, scratch_model_dir: str,
                  timeout_s: float = CHIEF_EXPORT_TIMEOUT_S, poll_s: float = 2.0) -> None:
    """On a non-chief worker: removes its scratch outputs and returns once the chief's export
    exists (TFX checks `serving_model_dir` on every worker), or fails after `timeout_s`."""
    shutil.rmtree(os.path.dirname(scratch_model_dir), ignore_errors=True)
    marker = os.path.join(serving_model_dir, "saved_model.pb")
    deadline = time.monotonic() + timeout_s
    while not tf.io.gfile.exists(marker):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the chief wrote no export to {serving_model_dir} within "
                               f"{timeout_s:.0f} s")
        time.sleep(poll_s)
