"""Own data on Kubeflow: the file-based ExampleGen compiles with TFX's Kubeflow V2 driver, and
the driver, the executor and the drift gate run through the containers' own entrypoints
(tests/kubeflow/launcher.py), the driver resolving the newest span as KFP would run it."""
import json
import os

import pytest

from tests.kubeflow.launcher import LocalLauncher
from tests.tiny_data import write_tiny_spans

REMOTE_DATA = "gs://imdb-test/reviews"
DRIVER = "tfx.orchestration.kubeflow.v2.file_based_example_gen.driver"


@pytest.fixture(scope="module")
def file_spec(tmp_path_factory):
    from kubeflow.options import CompileOptions
    from kubeflow.runner import compile_pipeline
    from pipeline.config import make_config

    config = make_config(
        "smoke", input_pattern=f"{REMOTE_DATA}/span-{{SPAN}}/*.csv",
        test_pattern=f"{REMOTE_DATA}/test/*.csv", label_values=("negative", "positive"),
        window=2, glove_path="none", output_dir="gs://imdb-test/out", tuning="fixed")
    path = tmp_path_factory.mktemp("spec") / "kfp.json"
    return compile_pipeline(config, CompileOptions(image="example/img:1", target="kfp",
                                                    output=str(path)))


def test_the_file_based_example_gen_compiles_with_its_driver(file_spec):
    tasks = file_spec["root"]["dag"]["tasks"]
    assert "TfdsExampleGen" not in tasks and "FileExampleGen" in tasks
    label = file_spec["components"][tasks["FileExampleGen"]["componentRef"]["name"]][
        "executorLabel"]
    container = file_spec["deploymentSpec"]["executors"][label]["container"]
    driver = container["lifecycle"]["preCacheCheck"]
    assert DRIVER in " ".join(driver["command"])
    assert "DriftGate" in tasks["Transform"]["dependentTasks"]
    assert tasks["DriftGate"]["cachingOptions"] == {"enableCache": False}
    assert "parameters" not in file_spec["root"].get("inputDefinitions", {})


def test_driver_and_executor_run_through_the_entrypoint(file_spec, tmp_path):
    data = tmp_path / "reviews"
    layout = write_tiny_spans(str(data), spans=3, per_span=40, test=20)
    launcher = LocalLauncher(file_spec, str(tmp_path / "root"), {
        REMOTE_DATA: str(data), "gs://imdb-test/out": str(tmp_path / "out")})
    resolved = launcher.run_driver("FileExampleGen")["parameterValues"]
    assert resolved["span"] == 3 and "split:train" in resolved["input_fingerprint"]
    assert "span-3" in json.loads(resolved["input_config"])["splits"][0]["pattern"]

    launcher.run("FileExampleGen")
    examples = launcher.outputs["FileExampleGen"]["examples"]
    assert json.loads(examples["metadata"]["window_spans"]) == [2, 3]
    counts = json.loads(examples["metadata"]["split_counts"])
    rows = layout["rows"]
    assert counts["train"] + counts["eval"] == len(rows[2]) + len(rows[3])
    assert counts["test"] == len(rows["test"])
    for split in ("train", "eval", "test"):
        assert os.listdir(os.path.join(examples["uri"], f"Split-{split}"))

    launcher.run("DriftGate")
    drift = launcher.outputs["DriftGate"]["drift"]["metadata"]
    assert drift["verdict"] == "no served model yet" and drift["span"] == 3
