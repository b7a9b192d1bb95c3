"""The containers' own entrypoint runs our code.

Every task of the compiled `kfp` spec runs, in topological order, as
`python -m tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor` with the exact
command and args of the spec and an ExecutorInput built from it (tests/kubeflow/launcher.py),
each reading the artifacts the previous ones reported. This catches wrong import paths,
custom_config that does not survive JSON, and artifacts the next step cannot read. Then the
baseline task runs once more, as a second cluster run would, and must hand over the model the
first run pushed, and the Tuner once more on new data, which must reuse the pushed model's
hyperparameters without a search (no ML Metadata resolver on KFP). About 4 minutes of CPU (13
processes that each import TFX).
"""
import json
import os

import pytest

from tests.kubeflow.conftest import REMOTE
from tests.kubeflow.launcher import LocalLauncher, topological_order

EXPECTED_ORDER = ["TfdsExampleGen", "StatisticsGen", "CuratedSchemaGen", "ExampleValidator",
                  "AnomaliesGate", "Transform", "Tuner", "Trainer", "ServingBaseline",
                  "Evaluator", "Pusher"]


@pytest.fixture(scope="module")
def kfp_spec(tiny_kubeflow_config, tmp_path_factory):
    from kubeflow.options import CompileOptions
    from kubeflow.runner import compile_pipeline

    path = tmp_path_factory.mktemp("spec") / "kfp.json"
    return compile_pipeline(tiny_kubeflow_config, CompileOptions(
        image="example/img:1", target="kfp", output=str(path)))


@pytest.fixture(scope="module")
def cluster_run(kfp_spec, tmp_path_factory, tiny_tfds_dir, tiny_glove_path):
    root = tmp_path_factory.mktemp("kfp_root")
    launcher = LocalLauncher(kfp_spec, str(root), {
        REMOTE["tfds"]: tiny_tfds_dir, REMOTE["glove"]: tiny_glove_path,
        REMOTE["out"]: str(root / "out")})
    outputs = {task: launcher.run(task) for task in topological_order(kfp_spec)}
    return launcher, outputs


def _metadata(launcher, task, key):
    return launcher.outputs[task][key]["metadata"]


def test_every_task_runs_through_the_tfx_entrypoint_in_order(cluster_run, kfp_spec):
    launcher, outputs = cluster_run
    assert topological_order(kfp_spec) == EXPECTED_ORDER
    assert list(outputs) == EXPECTED_ORDER
    command = launcher.command("Trainer", launcher.executor_input("Trainer", "-probe"))
    assert command[:3] == ["python", "-m",
                           "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor"]


def test_each_task_reads_what_the_previous_ones_wrote(cluster_run):
    launcher, _ = cluster_run
    counts = json.loads(_metadata(launcher, "TfdsExampleGen", "examples")["split_counts"])
    assert counts["train"] + counts["eval"] == 240 and counts["test"] == 80
    schema_uri = launcher.outputs["CuratedSchemaGen"]["schema"]["uri"]
    assert os.path.exists(os.path.join(schema_uri, "schema.pbtxt"))
    graph_uri = launcher.outputs["Transform"]["transform_graph"]["uri"]
    assert os.path.isdir(os.path.join(graph_uri, "transform_fn"))
    model_uri = launcher.outputs["Trainer"]["model"]["uri"]
    assert os.path.exists(os.path.join(model_uri, "Format-Serving", "saved_model.pb"))
    summary_path = os.path.join(launcher.outputs["Trainer"]["model_run"]["uri"],
                                "training_summary.json")
    with open(summary_path) as summary:
        assert json.load(summary)["embedding"]["found_in_glove"] > 0  # The localized GloVe.


def test_first_run_has_no_baseline_and_pushes_to_the_serving_dir(cluster_run):
    launcher, _ = cluster_run
    assert _metadata(launcher, "ServingBaseline", "model")["served_version"] == -1
    blessing = _metadata(launcher, "Evaluator", "blessing")
    assert blessing["blessed"] == 1 and "baseline_model_uri" not in blessing
    pushed = _metadata(launcher, "Pusher", "pushed_model")
    serving_dir = os.path.join(launcher.root, "out", "serving_model")
    assert pushed["pushed"] == 1
    assert os.path.dirname(pushed["pushed_destination"]) == serving_dir
    assert os.path.exists(os.path.join(pushed["pushed_destination"], "saved_model.pb"))


def test_next_run_takes_the_pushed_model_as_baseline(cluster_run, tmp_path):
    """A second cluster run's ServingBaseline hands the Evaluator what the first one pushed
    when its Trainer made a new model, and skips it when the model is that same one (a rerun
    with nothing changed). The Evaluator itself is not rerun: it would add ~90 s of CPU."""
    import copy
    import shutil

    launcher, _ = cluster_run
    pushed = _metadata(launcher, "Pusher", "pushed_model")
    launcher.run("ServingBaseline", run="-2")
    assert launcher.outputs["ServingBaseline"]["model"]["metadata"]["served_version"] == -1

    trained = launcher.outputs["Trainer"]["model"]
    retrained = copy.deepcopy(trained)
    retrained["uri"] = str(tmp_path / "retrained")
    shutil.copytree(trained["uri"], retrained["uri"])
    launcher.outputs["Trainer"]["model"] = retrained
    try:
        launcher.run("ServingBaseline", run="-3")
    finally:
        launcher.outputs["Trainer"]["model"] = trained
    baseline = launcher.outputs["ServingBaseline"]["model"]
    assert baseline["metadata"]["served_version"] == int(pushed["pushed_version"])
    with open(os.path.join(baseline["uri"], "Format-Serving", "saved_model.pb"), "rb") as a, \
            open(os.path.join(pushed["pushed_destination"], "saved_model.pb"), "rb") as b:
        assert a.read() == b.read()


def test_the_tuner_hands_on_its_trial_and_a_next_run_on_new_data_reuses_the_served_choice(
        cluster_run, tmp_path):
    import copy
    import shutil

    launcher, _ = cluster_run
    best = launcher.outputs["Tuner"]["best_hyperparameters"]["uri"]
    with open(os.path.join(best, "best_hyperparameters.txt")) as f:
        searched = json.load(f)
    assert searched["source"]["trials"] == 1
    handed_on = os.path.join(launcher.outputs["Tuner"]["model"]["uri"], "Format-Serving",
                             "assets.extra", "warm_start_weights.h5")
    assert os.path.getsize(handed_on) > 1000
    with open(os.path.join(launcher.outputs["Trainer"]["model_run"]["uri"],
                           "training_summary.json")) as f:
        assert json.load(f)["continued_trial"]["used"] is True

    # New data: another Transform output (a copy, as a new span's would be another artifact).
    pushed = _metadata(launcher, "Pusher", "pushed_model")
    graph = launcher.outputs["Transform"]["transform_graph"]
    new_graph = copy.deepcopy(graph)
    new_graph["uri"] = str(tmp_path / "new_transform_graph")
    shutil.copytree(graph["uri"], new_graph["uri"])
    launcher.outputs["Transform"]["transform_graph"] = new_graph
    try:
        launcher.run("Tuner", run="-2")
    finally:
        launcher.outputs["Transform"]["transform_graph"] = graph
    with open(os.path.join(launcher.outputs["Tuner"]["best_hyperparameters"]["uri"],
                           "best_hyperparameters.txt")) as f:
        reused = json.load(f)
    assert reused["source"] == {"reused_from_version": int(pushed["pushed_version"]),
                                "trials": 0, "seconds": 0.0}
    assert reused["values"] == searched["values"]
