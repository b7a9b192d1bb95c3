"""Training step time of the default model under each tf.distribute strategy the Trainer uses.

  one_device       the plain path (no strategy)
  mirrored_2       MirroredStrategy over 2 logical CPU devices (stands in for 2 GPUs)
  multi_worker_2   MultiWorkerMirroredStrategy, 2 worker processes on 127.0.0.1 (TF_CONFIG)

Same global batch, the Trainer's input pipeline (length buckets, trimming, trainer/data.py) on a
full pipeline run's Transform output; steps are timed after a warm-up. On a CPU machine both
strategies split the same cores, so this measures their overhead, not a speed-up: see
docs/scale_out.md ("Measured: what a strategy costs") for what it means for GPUs.

    .venv/bin/python benchmarks/distributed_step_time.py PIPELINE_ROOT --steps 60
"""
import argparse
import glob
import json
import os
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def measure(pipeline_root: str, steps: int, devices: int) -> dict:
    """One process's timing (runs inside the child)."""
    import tensorflow as tf

    if devices > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * devices)
    sys.path.insert(0, ROOT)
    sys.path.insert(0, HERE)
    from trainer import data, distribution, models, training
    from pipeline.config import PipelineConfig
    from trainer_throughput import _FnArgs
    import tensorflow_transform as tft

    strategy = distribution.make_strategy()
    config = PipelineConfig()
    output = tft.TFTransformOutput(
        glob.glob(os.path.join(pipeline_root, "Transform/transform_graph/*"))[0])
    examples = glob.glob(os.path.join(pipeline_root, "Transform/transformed_examples/*"))[0]
    train_files = glob.glob(os.path.join(examples, "Split-train", "*.gz"))
    matrix, rows, _ = training.embedding_for(output, config.resolved_glove_path,
                                             config.num_oov_buckets)
    dataset = distribution.prepare(
        data.make_dataset(_FnArgs(examples), train_files, output, "label", config.batch_size,
                          True, config.length_buckets, config.seed),
        strategy, config.batch_size, repeat=True, files=len(train_files))
    tf.keras.utils.set_random_seed(0)
    with strategy.scope():
        model = models.build_model(config.model_hparams(), rows, matrix)
    model.fit(dataset, steps_per_epoch=10, epochs=1, verbose=0)  # Warm-up: tracing, caches.
    start = time.perf_counter()
    model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    return {"replicas": strategy.num_replicas_in_sync, "steps": steps,
            "seconds": round(seconds, 2), "ms_per_step": round(1000 * seconds / steps, 1),
            "reviews_per_s": round(steps * config.batch_size / seconds, 1)}


def _child(pipeline_root: str, steps: int, devices: int, tf_config: str = "") -> subprocess.Popen:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    if tf_config:
        env["TF_CONFIG"] = tf_config
    return subprocess.Popen([sys.executable, __file__, pipeline_root, "--steps", str(steps),
                             "--child-devices", str(devices)], env=env,
                            stdout=subprocess.PIPE, text=True)


def _result(process: subprocess.Popen) -> dict:
    out, _ = process.communicate()
    if process.returncode:
        raise SystemExit(f"a benchmark process failed ({process.returncode})")
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pipeline_root")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--child-devices", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_devices:
        print(json.dumps(measure(args.pipeline_root, args.steps, args.child_devices)))
        return {}
    sys.path.insert(0, HERE)
    from machine import cpu_model

    result = {"cpu": cpu_model(), "cores": os.cpu_count(), "steps": args.steps}
    result["one_device"] = _result(_child(args.pipeline_root, args.steps, 1))
    print("one_device", result["one_device"], flush=True)
    result["mirrored_2"] = _result(_child(args.pipeline_root, args.steps, 2))
    print("mirrored_2", result["mirrored_2"], flush=True)
    workers = [f"127.0.0.1:{_free_port()}" for _ in range(2)]
    processes = [_child(args.pipeline_root, args.steps, 1, json.dumps({
        "cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}))
        for index in range(2)]
    result["multi_worker_2"] = [_result(p) for p in processes][0]
    print("multi_worker_2", result["multi_worker_2"], flush=True)
    base = result["one_device"]["ms_per_step"]
    for way in ("mirrored_2", "multi_worker_2"):
        result[way]["step_time_vs_one_device"] = round(result[way]["ms_per_step"] / base, 2)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
