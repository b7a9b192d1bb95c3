import json

from pipeline import cli


def test_same_pipeline_compiles_for_kubeflow_with_gpu_trainer(tmp_path, capsys):
    output = tmp_path / "spec.json"
    code = cli.main(["compile-kubeflow", "--output", str(output), "--image", "example/img:1",
                     "--pipeline-root", "gs://bucket/root", "--tfds-data-dir", "gs://b/tfds",
                     "--glove-path", "gs://b/glove.6B.100d.txt", "--cell", "lstm"])
    assert code == 0
    spec = json.loads(output.read_text())["pipelineSpec"]
    tasks = spec["root"]["dag"]["tasks"]
    assert f"{len(tasks)} tasks" in capsys.readouterr().out
    assert {"TfdsExampleGen", "Transform", "Tuner", "Trainer", "Evaluator", "Pusher"} <= set(tasks)
    assert "Tuner" in tasks["Trainer"]["dependentTasks"]
    assert "AnomaliesGate" in tasks["Transform"]["dependentTasks"]
    executors = spec["deploymentSpec"]["executors"]
    trainer = executors["Trainer_executor"]["container"]
    assert trainer["image"] == "example/img:1"
    assert trainer["resources"]["accelerator"]["count"] == "1"
    parameters = tasks["Trainer"]["inputs"]["parameters"]
    assert parameters["run_fn"]["runtimeValue"]["constantValue"]["stringValue"] == \
        "trainer.training.run_fn"
    custom_config = json.loads(
        parameters["custom_config"]["runtimeValue"]["constantValue"]["stringValue"])
    assert custom_config["hparams"]["cell"] == "lstm"
    assert custom_config["glove_path"] == "gs://b/glove.6B.100d.txt"
