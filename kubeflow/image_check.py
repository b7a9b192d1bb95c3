"""Does this Python environment run what a compiled spec asks its containers to run?

`kubeflow/Dockerfile` runs it as the last build step, so an image that cannot start a task fails
to build; the tests run it in the venv. It compiles the pipeline for both targets (offline,
placeholder gs:// paths) and checks every executor: the command is TFX's Kubeflow v2
entrypoint, its program is on PATH, the entrypoint module and `--executor_class_path` import.

    python -m kubeflow.image_check
"""
import importlib
import os
import shutil
import sys
import tempfile
from typing import Any, Dict, List

ENTRYPOINT = ("python", "-m", "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor")
PLACEHOLDER_PATHS = dict(output_dir="gs://image-check/out", tfds_data_dir="gs://image-check/tfds",
                         glove_path="gs://image-check/glove.6B.50d.txt")


def executor_problems(spec: Dict[str, Any]) -> List[str]:
    from tfx.utils import import_utils

    problems = []
    for label, executor in sorted(spec["deploymentSpec"]["executors"].items()):
        container = executor.get("container")
        if container is None:
            problems.append(f"{label}: not a container executor ({sorted(executor)})")
            continue
        if tuple(container.get("command", ())) != ENTRYPOINT:
            problems.append(f"{label}: command {container.get('command')} is not {ENTRYPOINT}")
            continue
        args = container["args"]
        class_path = args[args.index("--executor_class_path") + 1]
        try:
            import_utils.import_class_by_path(class_path)
        except Exception as error:  # ImportError, AttributeError, errors inside the module.
            problems.append(f"{label}: cannot import {class_path}: {error}")
    return problems


def environment_problems() -> List[str]:
    problems = []
    if shutil.which(ENTRYPOINT[0]) is None:
        problems.append(f"{ENTRYPOINT[0]!r} is not on PATH")
    try:
        importlib.import_module(ENTRYPOINT[2])
    except Exception as error:
        problems.append(f"cannot import the entrypoint {ENTRYPOINT[2]}: {error}")
    return problems


def main() -> int:
    from kubeflow.options import CompileOptions
    from kubeflow.runner import compile_pipeline, pipeline_spec
    from pipeline.config import make_config

    config = make_config(**PLACEHOLDER_PATHS)
    problems = environment_problems()
    with tempfile.TemporaryDirectory() as tmp:
        for target in ("vertex", "kfp"):
            compiled = compile_pipeline(config, CompileOptions(
                image="image-check", target=target, output=os.path.join(tmp, f"{target}.json")))
            problems += [f"{target}: {p}" for p in executor_problems(pipeline_spec(compiled))]
    for problem in problems:
        print(f"image_check: {problem}", file=sys.stderr)
    print(f"image_check: {'FAILED' if problems else 'ok'}: both targets' executors checked")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
