"""Trainer worker pools and parallel tuning as Vertex custom jobs: the compiled spec, then the
jobs' replicas run here through TFX's own Vertex executors (the job service is a stand-in,
tests/support/vertex_standin.py) on the shared tiny run's Transform output."""
import dataclasses
import glob
import json
import os
import re
import time

import pytest
from tfx.types import standard_artifacts

from cli.main import main as cli_main
from kubeflow import vertex_jobs
from kubeflow.options import CompileOptions
from kubeflow.runner import compile_pipeline
from kubeflow.vertex_jobs import VertexJobs
from pipeline import nodes
from pipeline.config import make_config
from pipeline.pipeline import create_pipeline
from tests.support import vertex_standin
from tests.support.executors import artifact, exec_properties

IMAGE = "us-docker.pkg.dev/p/r/imdb-rnn-pipeline:1"
REMOTE = dict(output_dir="gs://bucket/out", tfds_data_dir="gs://bucket/tfds",
              glove_path="gs://bucket/glove.6B.50d.txt")
JOBS = dict(training_workers=3, tuning_parallel_trials=2, project="p", region="us-central1")


def _task_parameters(spec, task):
    parameters = spec["root"]["dag"]["tasks"][task]["inputs"]["parameters"]
    return {name: body["runtimeValue"]["constant"] for name, body in parameters.items()}


def test_worker_pools_and_parallel_trials_compile_into_vertex_jobs(tmp_path):
    compiled = compile_pipeline(make_config(tuning="tune", **REMOTE), CompileOptions(
        image=IMAGE, target="vertex", output=str(tmp_path / "s.json"), gpus=4,
        gpu_type="NVIDIA_TESLA_T4", **JOBS))
    spec = compiled["pipelineSpec"]
    executors = spec["deploymentSpec"]["executors"]
    for task, executor, key, replicas in (
            (nodes.TRAINER, "trainer.executor.GenericExecutor", "ai_platform_training_args", 3),
            (nodes.TUNER, "tuner.executor.Executor", "ai_platform_tuning_args", 2)):
        container = executors[f"{task}_executor"]["container"]
        class_path = container["args"][container["args"].index("--executor_class_path") + 1]
        assert class_path == f"tfx.extensions.google_cloud_ai_platform.{executor}"
        # The pod only submits the job and waits: no GPU, a small machine.
        assert "accelerator" not in container["resources"]
        assert container["resources"]["cpuLimit"] <= 1
        custom = json.loads(_task_parameters(spec, task)["custom_config"])
        assert custom["ai_platform_enable_vertex"] is True
        assert custom["ai_platform_vertex_region"] == "us-central1"
        pools = custom[key]["job_spec"]["worker_pool_specs"]
        assert [pool["replica_count"] for pool in pools] == [1, replicas - 1]
        for pool in pools:
            assert pool["container_spec"]["image_uri"] == IMAGE
            assert pool["machine_spec"] == {"machine_type": "n1-standard-8",
                                            "accelerator_type": "NVIDIA_TESLA_T4",
                                            "accelerator_count": 4}
        assert custom[key]["project"] == "p"
    assert json.loads(_task_parameters(spec, nodes.TUNER)["tune_args"]) == {
        "numParallelTrials": 2}
    # Without the flags the Trainer trains in its own pod, on its 4 GPUs.
    plain = compile_pipeline(make_config(**REMOTE), CompileOptions(
        image=IMAGE, target="vertex", output=str(tmp_path / "p.json"), gpus=4))
    plain = plain["pipelineSpec"]["deploymentSpec"]["executors"]
    assert plain["Trainer_executor"]["container"]["resources"]["accelerator"]["count"] == "4"


@pytest.mark.parametrize("target,flags,expected", [
    ("kfp", ["--training-workers", "2"], "need --target vertex"),
    ("vertex", ["--training-workers", "2"], "need --project"),
    ("vertex", ["--tuning-parallel-trials", "2", "--project", "p", "--region", "r"],
     "needs --tuning tune"),
    ("vertex", ["--training-workers", "2", "--project", "p", "--region", "r", "--gpu-type",
                "NVIDIA_TESLA_A100"], "give --machine-type"),
])
def test_scale_out_flags_a_target_cannot_honour_are_refused(tmp_path, capsys, target, flags,
                                                           expected):
    code = cli_main(["compile-kubeflow", "--target", target, "--image", IMAGE,
                     "--output", str(tmp_path / "s.json"),
                     *[f"--{k.replace('_', '-')}={v}" for k, v in REMOTE.items()], *flags])
    assert code == 2
    assert expected in capsys.readouterr().err
    assert not (tmp_path / "s.json").exists()


def _artifacts(first_run, out):
    examples = first_run.artifact(nodes.TRANSFORM, "transformed_examples")
    inputs = {
        "examples": [artifact(standard_artifacts.Examples, examples.uri,
                              split_names='["train", "eval"]')],
        "transform_graph": [artifact(standard_artifacts.TransformGraph, first_run.artifact(
            nodes.TRANSFORM, "transform_graph").uri)],
        "schema": [artifact(standard_artifacts.Schema, first_run.artifact(
            nodes.SCHEMA_GEN, "schema").uri)]}
    return inputs, lambda cls, name: [artifact(cls, os.path.join(out, name))]


def _component(config, node, jobs):
    pipeline = create_pipeline(config)
    vertex_jobs.apply(pipeline, jobs, IMAGE, gpus=0, gpu_type="")
    return next(c for c in pipeline.components if c.id == node)


@pytest.fixture
def training_config(pipeline_config, tmp_path):
    return dataclasses.replace(pipeline_config, ensemble_size=1, epochs=3, tuning="fixed",
                               average_from_epoch=2,
                               training_backup_dir=str(tmp_path / "backup"))


def _run_trainer_job(config, first_run, tmp_path, monkeypatch, kill_after=None):
    from tfx.extensions.google_cloud_ai_platform.trainer import executor

    client = vertex_standin.install(monkeypatch, str(tmp_path))
    client.kill_after = kill_after
    trainer = _component(config, nodes.TRAINER, VertexJobs(training_workers=2, project="p",
                                                           region="us-central1"))
    inputs, output = _artifacts(first_run, str(tmp_path))
    outputs = {"model": output(standard_artifacts.Model, "model"),
               "model_run": output(standard_artifacts.ModelRun, "model_run")}
    executor.GenericExecutor().Do(inputs, outputs, exec_properties(trainer))
    return client


def test_trainer_worker_pool_trains_one_model_and_only_the_chief_exports(
        training_config, first_run, tmp_path, monkeypatch):
    import tensorflow as tf

    client = _run_trainer_job(training_config, first_run, tmp_path, monkeypatch)
    assert client.results == {"workerpool0-0": 0, "workerpool1-0": 0}
    pools = client.jobs[0]["job_spec"]["worker_pool_specs"]
    assert pools[0]["container_spec"]["command"][:3] == ["python", "-m",
                                                         "tfx.scripts.run_executor"]
    summary = json.loads((tmp_path / "model_run" / "training_summary.json").read_text())
    assert summary["distribution"]["strategy"] == "MultiWorkerMirroredStrategy"
    assert summary["distribution"]["workers"] == 2 and summary["distribution"]["chief"]
    # Both workers end with the same weights: each logs their digest.
    digests = []
    for log in sorted(glob.glob(str(tmp_path / "workerpool*.log"))):
        text = open(log).read()
        digests += [line.split("weights_sha256': '")[1][:16] for line in text.splitlines()
                    if "weights_sha256" in line]
    assert len(digests) == 2 and digests[0] == digests[1] == summary["distribution"][
        "weights_sha256"]
    # The chief's export serves; the worker's scratch copy is gone.
    model_dir = tmp_path / "model" / "Format-Serving"
    loaded = tf.saved_model.load(str(model_dir))
    probability = loaded.signatures["serving_raw_text"](
        text=tf.constant(["a wonderful film", "dull and awful"]))
    assert probability[list(probability)[0]].shape[0] == 2
    assert not glob.glob(os.path.join(os.environ.get("TMPDIR", "/tmp"), "worker_outputs_*",
                                      "model"))


def test_a_lost_worker_fails_the_job_quickly_with_a_clear_error(
        training_config, first_run, tmp_path, monkeypatch):
    with pytest.raises(RuntimeError, match="did not succeed"):
        _run_trainer_job(training_config, first_run, tmp_path, monkeypatch,
                         kill_after=(1, 0, "Epoch 2/"))
    client = vertex_standin.LocalJobClient
    chief_log = (tmp_path / "workerpool0-0.log").read_text()
    assert "another worker of" in chief_log and "is gone" in chief_log
    assert client.results["workerpool0-0"] != 0
    # Bounded: the chief noticed within a minute of the kill instead of hanging.
    assert client.finished_at[(0, 0)] - client.killed_at < 60
    assert time.monotonic() - client.killed_at < 120


def test_parallel_trials_share_one_oracle_and_the_artifact_names_the_best_trial(
        pipeline_config, first_run, tmp_path, monkeypatch):
    from tfx.extensions.google_cloud_ai_platform.tuner import executor

    client = vertex_standin.install(monkeypatch, str(tmp_path))
    config = dataclasses.replace(pipeline_config, tuning="tune", tuner_max_trials=3,
                                 tuner_epochs=1, tune_units=(4, 8), tune_cells=("gru",))
    tuner = _component(config, nodes.TUNER, VertexJobs(parallel_trials=2, project="p",
                                                       region="us-central1"))
    inputs, output = _artifacts(first_run, str(tmp_path))
    outputs = {"best_hyperparameters": output(standard_artifacts.HyperParameters, "best"),
               "tuner_results": output(standard_artifacts.TunerResults, "results")}
    executor.Executor().Do(inputs, outputs, exec_properties(tuner))

    assert client.results == {"workerpool0-0": 0, "workerpool1-0": 0}
    trials = json.loads((tmp_path / "results" / "tuner_results.json").read_text())
    assert len(trials) == 3 and len({t["trial_id"] for t in trials}) == 3
    best = json.loads((tmp_path / "best" / "best_hyperparameters.txt").read_text())["values"]
    top = max(trials, key=lambda t: t["score"])
    assert {name: top[name] for name in best} == best
    # Both replicas trained trials (pool 0 also hosts the chief oracle, in a subprocess, whose
    # "Running Trial #" lines count every replica's): one epoch line per 1-epoch trial.
    epoch_line = re.compile(r"^\d+/\d+ - .*val_accuracy", re.MULTILINE)
    ran = [len(epoch_line.findall((tmp_path / f"workerpool{p}-0.log").read_text()))
           for p in (0, 1)]
    assert min(ran) >= 1 and sum(ran) == 3, ran
