"""compile-kubeflow: what each target's spec contains, and what it refuses to compile."""
import json
import re

import pytest
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from kubeflow.image_check import ENTRYPOINT, executor_problems
from kubeflow.submit import spec_problems
from cli import main as cli

IMAGE = "registry.example/imdb-rnn-pipeline:test"
REMOTE_FLAGS = ["--pipeline-root", "gs://bucket/root", "--serving-dir", "gs://bucket/serving",
                "--models-config", "gs://bucket/serving_config/models.config",
                "--tfds-data-dir", "gs://bucket/tfds",
                "--glove-path", "gs://bucket/glove.6B.100d.txt"]
BEAM_TASKS = ("TfdsExampleGen", "StatisticsGen", "Transform", "Evaluator")


def compile_cli(tmp_path, target, *flags):
    output = tmp_path / f"{target}.json"
    code = cli.main(["compile-kubeflow", "--target", target, "--output", str(output),
                     "--image", IMAGE, *REMOTE_FLAGS, *flags])
    return code, (json.loads(output.read_text()) if code == 0 else None)


@pytest.fixture(scope="module")
def specs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("specs")
    # Default flags but the cell: the Tuner is part of the default pipeline on both targets.
    return {target: compile_cli(tmp, target, "--cell", "lstm")[1]
            for target in ("vertex", "kfp")}


def pipeline_spec(compiled):
    return compiled.get("pipelineSpec", compiled)


def executor(spec, task):
    label = spec["components"][spec["root"]["dag"]["tasks"][task]["componentRef"]["name"]]
    return spec["deploymentSpec"]["executors"][label["executorLabel"]]["container"]


def test_both_targets_parse_strictly_with_kfp_protos(specs):
    json_format.ParseDict(specs["vertex"], pipeline_spec_pb2.PipelineJob())
    for compiled in specs.values():  # ParseDict raises on any unknown field.
        json_format.ParseDict(pipeline_spec(compiled), pipeline_spec_pb2.PipelineSpec())
    assert spec_problems(specs["vertex"], "vertex") == []
    assert spec_problems(specs["kfp"], "kfp") == []


def test_vertex_writes_a_pipeline_job_and_kfp_a_bare_schema_2_1_spec(specs):
    vertex, kfp = specs["vertex"], specs["kfp"]
    assert set(vertex) >= {"displayName", "pipelineSpec", "runtimeConfig"}
    assert vertex["runtimeConfig"]["gcsOutputDirectory"] == "gs://bucket/root"
    assert "pipelineSpec" not in kfp and kfp["defaultPipelineRoot"] == "gs://bucket/root"
    for spec in (pipeline_spec(vertex), kfp):
        assert spec["schemaVersion"] == "2.1.0"
        assert not any("resolver" in body for body in spec["deploymentSpec"]["executors"].values())


def test_every_executor_runs_the_image_tfx_entrypoint_and_an_importable_executor(specs):
    for compiled in specs.values():
        spec = pipeline_spec(compiled)
        containers = [body["container"] for body in spec["deploymentSpec"]["executors"].values()]
        assert len(containers) == len(spec["root"]["dag"]["tasks"]) == 11
        assert {c["image"] for c in containers} == {IMAGE}
        assert {tuple(c["command"]) for c in containers} == {ENTRYPOINT}
        assert executor_problems(spec) == []


def test_gpus_for_tuner_and_trainer_with_each_targets_accelerator_type(specs):
    for target, gpu_type in (("vertex", "NVIDIA_TESLA_T4"), ("kfp", "nvidia.com/gpu")):
        spec = pipeline_spec(specs[target])
        for task in spec["root"]["dag"]["tasks"]:
            resources = executor(spec, task)["resources"]
            assert resources["cpuLimit"] > 0 and resources["memoryLimit"] > 0, task
            expected = {"type": gpu_type, "count": "1"} if task in ("Tuner", "Trainer") else None
            assert resources.get("accelerator") == expected, (target, task)


def test_no_regression_gate_reads_the_serving_dir_and_is_never_cached(specs):
    for compiled in specs.values():
        tasks = pipeline_spec(compiled)["root"]["dag"]["tasks"]
        baseline = tasks["ServingBaseline"]
        assert baseline["dependentTasks"] == ["Trainer"]
        assert baseline["cachingOptions"] == {"enableCache": False}
        assert baseline["inputs"]["parameters"]["serving_dir"]["runtimeValue"]["constant"] == \
            "gs://bucket/serving"
        assert tasks["Evaluator"]["inputs"]["artifacts"]["baseline_model"][
            "taskOutputArtifact"]["producerTask"] == "ServingBaseline"


def test_run_parameters_have_defaults_and_feed_tfds_example_gen(specs):
    vertex = specs["vertex"]
    expected = {"max_examples": 0, "eval_percent": 10, "tfds_data_dir": "gs://bucket/tfds"}
    for compiled in specs.values():
        spec = pipeline_spec(compiled)
        definitions = spec["root"]["inputDefinitions"]["parameters"]
        assert {k: v["defaultValue"] for k, v in definitions.items()} == expected
        inputs = spec["root"]["dag"]["tasks"]["TfdsExampleGen"]["inputs"]["parameters"]
        assert inputs["data_dir"] == {"componentInputParameter": "tfds_data_dir"}
    assert vertex["runtimeConfig"]["parameterValues"] == expected


def test_custom_config_carries_the_model_flags_and_remote_glove_path(specs):
    parameters = pipeline_spec(specs["kfp"])["root"]["dag"]["tasks"]["Trainer"]["inputs"][
        "parameters"]
    assert parameters["run_fn"]["runtimeValue"]["constant"] == "trainer.training.run_fn"
    custom_config = json.loads(parameters["custom_config"]["runtimeValue"]["constant"])
    assert custom_config["hparams"]["cell"] == "lstm"
    assert custom_config["glove_path"] == "gs://bucket/glove.6B.100d.txt"


def test_dataflow_beam_args_reach_the_beam_components(tmp_path):
    dataflow = ["--runner=DataflowRunner", "--project=p", "--region=us-central1",
                "--temp_location=gs://bucket/tmp", f"--sdk_container_image={IMAGE}"]
    code, compiled = compile_cli(tmp_path, "kfp", *[f"--beam-pipeline-args={a}" for a in dataflow])
    assert code == 0
    for task in BEAM_TASKS:
        args = executor(compiled, task)["args"]
        assert args[-len(dataflow):] == dataflow, task


def test_the_default_tuner_task_reads_the_serving_dir_and_the_trainer_its_model(specs):
    """No resolver: the Tuner reads the served version itself ('auto'), on both targets, and the
    Trainer's base model is the Tuner's handed-on trial."""
    for compiled in specs.values():
        spec = pipeline_spec(compiled)
        tuner = spec["root"]["dag"]["tasks"]["Tuner"]
        parameters = tuner["inputs"]["parameters"]
        assert parameters["mode"]["runtimeValue"]["constant"] == "auto"
        assert parameters["serving_dir"]["runtimeValue"]["constant"] == "gs://bucket/serving"
        trainer = spec["root"]["dag"]["tasks"]["Trainer"]
        assert trainer["inputs"]["artifacts"]["base_model"]["taskOutputArtifact"] == {
            "outputArtifactKey": "model", "producerTask": "Tuner"}


def refusal(tmp_path, capsys, target, *flags, remote=True):
    output = tmp_path / "refused.json"
    argv = ["compile-kubeflow", "--target", target, "--output", str(output), "--image", IMAGE,
            *(REMOTE_FLAGS if remote else []), *flags]
    assert cli.main(argv) == 2
    assert not output.exists()
    return capsys.readouterr().err


def test_local_paths_are_all_refused_in_one_message(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", "gs://from-env/tfds")  # Never read at compile time.
    monkeypatch.setenv("GLOVE_PATH", "gs://from-env/glove.txt")
    err = refusal(tmp_path, capsys, "kfp", "--glove-path", "~/.cache/glove/glove.6B.50d.txt",
                  "--serving-dir", "/srv/models", remote=False)
    for flag in ("--pipeline-root", "--serving-dir", "--models-config", "--tfds-data-dir",
                 "--glove-path"):
        assert flag in err, flag
    assert "from-env" not in err
    assert len(re.findall(r"^  - ", err, re.M)) == 5


@pytest.mark.parametrize("target", ["vertex", "kfp"])
def test_several_gpus_per_node_compile_on_both_targets(tmp_path, target):
    output = tmp_path / "spec.json"
    assert cli.main(["compile-kubeflow", "--target", target, "--output", str(output),
                     "--image", IMAGE, *REMOTE_FLAGS, "--gpus", "4"]) == 0
    spec = json.loads(output.read_text())
    executors = spec.get("pipelineSpec", spec)["deploymentSpec"]["executors"]
    assert executors["Trainer_executor"]["container"]["resources"]["accelerator"]["count"] == "4"


def test_more_gpus_than_any_machine_has_are_refused(tmp_path, capsys):
    assert "no machine has more than 16 GPUs" in refusal(tmp_path, capsys, "vertex", "--gpus",
                                                         "17")


@pytest.mark.parametrize("target,gpu_type", [("vertex", "nvidia-tesla-t4"),
                                             ("kfp", "NVIDIA_TESLA_T4")])
def test_accelerator_types_of_the_other_target_are_refused(tmp_path, capsys, target, gpu_type):
    err = refusal(tmp_path, capsys, target, "--gpu-type", gpu_type)
    assert f"--gpu-type {gpu_type!r} is not an accelerator type for --target {target}" in err


def test_unreadable_schemes_are_refused_on_kfp(tmp_path, capsys):
    err = refusal(tmp_path, capsys, "kfp", "--tfds-data-dir", "s3://bucket/tfds",
                  "--pipeline-name", "9imdb")
    assert "cannot read s3://" in err
    assert "9imdb" not in err  # Valid for KFP; only Vertex needs a leading letter.


def test_vertex_refuses_names_its_job_ids_cannot_carry(tmp_path, capsys):
    assert "--pipeline-name '9imdb' is not valid for --target vertex" in refusal(
        tmp_path, capsys, "vertex", "--pipeline-name", "9imdb")


def test_dataflow_without_its_options_is_refused(tmp_path, capsys):
    err = refusal(tmp_path, capsys, "vertex", "--beam-pipeline-args=--runner=DataflowRunner",
                  "--beam-pipeline-args=--temp_location=/tmp")
    for option in ("--project", "--region", "--sdk_container_image", "--temp_location '/tmp'"):
        assert option in err, option


def test_vertex_accelerators_and_names_follow_aiplatform():
    from google.cloud.aiplatform.constants import pipeline as vertex_constants
    from google.cloud.aiplatform_v1.types import AcceleratorType

    from kubeflow.checks import VERTEX_NAME
    from kubeflow.targets import VERTEX_GPU_TYPES

    assert set(VERTEX_GPU_TYPES) <= set(AcceleratorType.__members__)
    longest = "a" * 113
    assert VERTEX_NAME.fullmatch(longest) and not VERTEX_NAME.fullmatch(longest + "a")
    assert vertex_constants._VALID_NAME_PATTERN.match(f"{longest}-20260101120000")


def test_distillation_adds_a_gpu_teacher_feeding_the_trainer(tmp_path):
    code, compiled = compile_cli(tmp_path, "kfp", "--unlabeled-split", "unsupervised",
                                 "--gpus", "1")
    assert code == 0 and spec_problems(compiled, "kfp") == []
    tasks = compiled["root"]["dag"]["tasks"]
    assert set(tasks) >= {"Teacher", "Trainer"}
    assert tasks["Trainer"]["inputs"]["artifacts"]["base_model"]["taskOutputArtifact"] == {
        "outputArtifactKey": "model", "producerTask": "Teacher"}
    for task in ("Teacher", "Trainer"):
        assert "accelerator" in executor(compiled, task)["resources"], task
