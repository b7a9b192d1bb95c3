"""Golden files pin each target's whole compiled spec, so any change to it is a reviewed diff.

Volatile parts are normalized first: the image, the trainer-code fingerprint and TFX's
version labels. After an intended change (a new config field, another default), regenerate:

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/kubeflow/test_golden.py -p no:cacheprovider
"""
import json
import os
import re

import pytest

GOLDEN_DIR = os.path.join(os.path.dirname(__file__), "golden")
IMAGE = "registry.example/imdb-rnn-pipeline:golden"


def normalize(compiled: dict) -> dict:
    compiled = dict(compiled)
    compiled.pop("labels", None)  # tfx_version / tfx_py_version telemetry.
    text = json.dumps(compiled, indent=2, sort_keys=True)
    text = text.replace(IMAGE, "<image>")
    # Escaped once (custom_config) or more (the gate metric's config inside the EvalConfig).
    text = re.sub(r'(code_fingerprint(?:\\)*": (?:\\)*")[0-9a-f]{16}', r"\1<fingerprint>",
                  text)
    return json.loads(text)


@pytest.mark.parametrize("target", ["vertex", "kfp"])
def test_compiled_spec_matches_the_golden_file(target, tmp_path):
    from kubeflow.options import CompileOptions
    from kubeflow.runner import compile_pipeline
    from pipeline.config import make_config

    config = make_config(output_dir="gs://bucket/out", tfds_data_dir="gs://bucket/tfds",
                         glove_path="gs://bucket/glove.6B.100d.txt")
    compiled = normalize(compile_pipeline(config, CompileOptions(
        image=IMAGE, target=target, output=str(tmp_path / "spec.json"))))
    assert "<fingerprint>" in json.dumps(compiled) and "<image>" in json.dumps(compiled)
    path = os.path.join(GOLDEN_DIR, f"{target}.json")
    if os.environ.get("UPDATE_GOLDEN"):
        os.makedirs(GOLDEN_DIR, exist_ok=True)
        with open(path, "w") as golden:
            json.dump(compiled, golden, indent=2, sort_keys=True)
            golden.write("\n")
    with open(path) as golden:
        expected = json.load(golden)
    assert compiled == expected, (f"{target} spec differs from {path}; if intended, "
                                  "regenerate it (see this file's docstring) and review the diff")
