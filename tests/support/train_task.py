"""Runs the real `run_fn` (or `tuner_fn` + search) as one training task, in its own process.

TFX's Trainer executor would build the same FnArgs from its artifacts; building them here lets
a test start the task the way a cluster does: with `TF_CONFIG` for several workers, or with
logical CPU devices standing in for a node's GPUs (they must exist before TensorFlow starts,
hence a process per task).

    python -m tests.support.train_task TASK.json

TASK.json: {"transformed_examples": URI, "transform_graph": URI, "custom_config": {...},
"out": DIR, "cpu_devices": N, "kind": "train" | "tune"}. Writes DIR/model, DIR/model_run
(train) or DIR/tuner (tune: best_hyperparameters.json, trials.json).
"""
import json
import logging
import os
import sys


def fn_args(task):
    from tfx.components.trainer import fn_args_utils
    from tfx.components.util import tfxio_utils
    from tfx.types import standard_artifacts

    examples = standard_artifacts.Examples()
    examples.uri = task["transformed_examples"]
    examples.split_names = '["train", "eval"]'
    accessor = fn_args_utils.DataAccessor(
        tf_dataset_factory=tfxio_utils.get_tf_dataset_factory_from_artifact([examples], []),
        record_batch_factory=None, data_view_decode_fn=None)
    out = task["out"]
    return fn_args_utils.FnArgs(
        working_dir=os.path.join(out, "tuner"),
        train_files=[os.path.join(examples.uri, "Split-train", "*")],
        eval_files=[os.path.join(examples.uri, "Split-eval", "*")],
        transform_graph_path=task["transform_graph"], data_accessor=accessor,
        serving_model_dir=os.path.join(out, "model"),
        model_run_dir=os.path.join(out, "model_run"), base_model=None,
        hyperparameters=task.get("hyperparameters"), custom_config=task["custom_config"])


def main(path: str) -> int:
    logging.basicConfig(level=logging.INFO)  # As TFX's executors log: run_fn's INFO lines too.
    with open(path) as handle:
        task = json.load(handle)
    import tensorflow as tf

    devices = int(task.get("cpu_devices", 1))
    if devices > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * devices)
    args = fn_args(task)
    if task.get("kind", "train") == "train":
        from trainer.training import run_fn

        run_fn(args)
        return 0
    from trainer.tuning import tuner_fn

    result = tuner_fn(args)
    result.tuner.search(**result.fit_kwargs)
    best = result.tuner.get_best_hyperparameters(1)[0]
    trials = [{"id": t.trial_id, "status": t.status, "score": t.score,
               "values": t.hyperparameters.values}
              for t in result.tuner.oracle.trials.values()]
    os.makedirs(args.working_dir, exist_ok=True)
    with open(os.path.join(args.working_dir, "result.json"), "w") as out:
        json.dump({"best": best.values, "trials": trials}, out, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
