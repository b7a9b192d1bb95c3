"""The Beam steps on Beam's portable runner: a job service and an EXTERNAL SDK worker pool.

This is how Flink and Spark run Beam's Python steps (their job servers cannot be installed
here; Beam's own Python job service speaks the same Job API, and on Kubernetes the worker pool
is usually a sidecar running the pipeline image). Both services run on loopback, started and
stopped by pid. TfdsExampleGen, StatisticsGen, Transform and the Evaluator run through their
executors with `pipeline.beam.portable_args`, on the shared tiny run's inputs, and must write
what the DirectRunner wrote in that run.
"""
import dataclasses
import glob
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import tensorflow as tf
from tfx.dsl.components.base import base_beam_executor
from tfx.types import standard_artifacts

from pipeline import nodes
from pipeline.beam import portable_args
from pipeline.pipeline import create_pipeline
from reports.run_record import load_metrics
from trainer.preprocessing import NGRAM_VOCAB_NAME, VOCAB_NAME
from tests.support.executors import artifact, exec_properties, free_port


def _wait_for_port(port: int, process, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, "a Beam service exited at start"
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"nothing listens on {port} after {timeout_s} s")


@pytest.fixture(scope="module")
def beam_services(tmp_path_factory):
    """(job endpoint, worker pool address, processes, log dir); both processes are stopped
    after the module."""
    logs = tmp_path_factory.mktemp("beam_services")
    job_port, pool_port = free_port(), free_port()
    # The pool starts each SDK worker as `python -c ...` from PATH: this venv's python first.
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep
               + os.environ.get("PATH", ""))
    commands = {
        "job_service": [sys.executable, "-m",
                        "apache_beam.runners.portability.local_job_service_main",
                        "--port", str(job_port)],
        "worker_pool": [sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main",
                        "--service_port", str(pool_port)],
    }
    processes = {name: subprocess.Popen(command, env=env, start_new_session=True,
                                        stdout=open(logs / f"{name}.log", "w"),
                                        stderr=subprocess.STDOUT)
                 for name, command in commands.items()}
    try:
        _wait_for_port(job_port, processes["job_service"])
        _wait_for_port(pool_port, processes["worker_pool"])
        yield f"localhost:{job_port}", f"localhost:{pool_port}", processes, logs
    finally:
        for process in processes.values():
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes.values():
            process.wait(timeout=30)


def _run(component, inputs, outputs, beam_args, tmp_path):
    properties = exec_properties(component)
    context = base_beam_executor.BaseBeamExecutor.Context(
        beam_pipeline_args=beam_args, tmp_dir=str(tmp_path / "beam_tmp") + "/",
        unique_id=component.id)
    component.executor_spec.executor_class(context).Do(inputs, outputs, properties)


def _reviews(uri: str, split: str) -> list:
    """Sorted (text, label) of a split: Examples compared by content (a proto map's byte order
    may differ between processes)."""
    reviews = []
    for path in sorted(glob.glob(os.path.join(uri, f"Split-{split}", "*.gz"))):
        for record in tf.data.TFRecordDataset(path, compression_type="GZIP"):
            features = tf.train.Example.FromString(record.numpy()).features.feature
            reviews.append((features["text"].bytes_list.value[0],
                            features["label"].int64_list.value[0]))
    return sorted(reviews)


def _vocabularies(graph_uri: str) -> dict:
    files = glob.glob(os.path.join(graph_uri, "transform_fn", "assets", "*"))
    return {os.path.basename(f): open(f, "rb").read().splitlines() for f in files}


def test_beam_steps_on_the_portable_runner_write_what_the_direct_runner_wrote(
        beam_services, first_run, pipeline_config, tmp_path):
    job_endpoint, worker_pool, processes, logs = beam_services
    args = portable_args(job_endpoint, worker_pool)
    assert "--runner=PortableRunner" in args and "--environment_type=EXTERNAL" in args
    config = dataclasses.replace(pipeline_config, beam_pipeline_args=tuple(args))
    components = {c.id: c for c in create_pipeline(config).components}
    split_names = '["train", "eval", "test"]'
    out = lambda name: str(tmp_path / name)  # noqa: E731

    examples = artifact(standard_artifacts.Examples, out("examples"), split_names=split_names)
    _run(components[nodes.EXAMPLE_GEN], {}, {"examples": [examples]}, args, tmp_path)
    direct_examples = first_run.artifact(nodes.EXAMPLE_GEN, "examples").uri
    for split in ("train", "eval", "test"):
        made = _reviews(examples.uri, split)
        assert made and made == _reviews(direct_examples, split), split

    statistics = artifact(standard_artifacts.ExampleStatistics, out("statistics"),
                           split_names='["train", "eval", "test"]')
    _run(components[nodes.STATISTICS_GEN], {"examples": [examples]},
         {"statistics": [statistics]}, args, tmp_path)
    for split in ("train", "eval", "test"):
        made = glob.glob(os.path.join(statistics.uri, f"Split-{split}", "*"))
        assert made, split

    schema = artifact(standard_artifacts.Schema, first_run.artifact(nodes.SCHEMA_GEN,
                                                                     "schema").uri)
    graph = artifact(standard_artifacts.TransformGraph, out("transform_graph"))
    transformed = artifact(standard_artifacts.Examples, out("transformed"),
                            split_names='["train", "eval"]')
    _run(components[nodes.TRANSFORM], {"examples": [examples], "schema": [schema]},
         {"transform_graph": [graph], "transformed_examples": [transformed]}, args, tmp_path)
    direct_graph = first_run.artifact(nodes.TRANSFORM, "transform_graph").uri
    made, direct = _vocabularies(graph.uri), _vocabularies(direct_graph)
    assert made.keys() == direct.keys() == {VOCAB_NAME, NGRAM_VOCAB_NAME}
    assert made[VOCAB_NAME] == direct[VOCAB_NAME]  # Exact counts: the same file.
    # The n-gram vocabulary is TFT's approximate top-k, whose entries at the cut-off depend on
    # how the runner bundles the data: the same size, and nearly the same n-grams.
    made_grams, direct_grams = made[NGRAM_VOCAB_NAME], direct[NGRAM_VOCAB_NAME]
    assert len(made_grams) == len(direct_grams) > 0
    assert len(set(made_grams) & set(direct_grams)) >= 0.9 * len(direct_grams)

    evaluation = artifact(standard_artifacts.ModelEvaluation, out("evaluation"))
    blessing = artifact(standard_artifacts.ModelBlessing, out("blessing"))
    model = artifact(standard_artifacts.Model, first_run.artifact(nodes.TRAINER, "model").uri)
    _run(components[nodes.EVALUATOR], {"examples": [examples], "model": [model],
                                      "schema": [schema]},
         {"evaluation": [evaluation], "blessing": [blessing]}, args, tmp_path)
    portable, direct = load_metrics(evaluation.uri, ()), first_run.test_metrics()
    assert portable.keys() == direct.keys() and "binary_accuracy" in portable
    for name, value in direct.items():
        assert portable[name] == pytest.approx(value, abs=1e-6), name

    # The work ran in SDK workers the pool started, and both services are still up.
    assert all(process.poll() is None for process in processes.values())
    assert "Starting worker with command" in (logs / "worker_pool.log").read_text()
