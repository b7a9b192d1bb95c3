"""Serving dirs as the Pusher leaves them, without training a model: numbered versions whose
saved_model.pb is a marker (or missing: a push still copying), and the ServingBaseline executor
run on one."""
import os

from tfx.types import standard_artifacts

from components.serving_baseline import ServingBaselineExecutor


def serve(serving_dir, version, complete=True):
    path = os.path.join(serving_dir, str(version))
    os.makedirs(os.path.join(path, "variables"), exist_ok=True)
    if complete:
        with open(os.path.join(path, "saved_model.pb"), "w") as model:
            model.write(f"model {version}")
    return path


def run_baseline_executor(serving_dir, uri):
    """ServingBaseline's executor on `serving_dir`: its `model` output at `uri`."""
    model = standard_artifacts.Model()
    model.uri = str(uri)
    ServingBaselineExecutor().Do({}, {"model": [model]}, {"serving_dir": str(serving_dir)})
    return model
