"""The image cannot be built here (no Docker engine): check what surrounds kubeflow/Dockerfile."""
import os
import re

import tfx

from kubeflow import image_check

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCKERFILE = os.path.join(REPO_ROOT, "kubeflow", "Dockerfile")


def instructions():
    """(instruction, argument) pairs, continuation lines joined, comments dropped."""
    with open(DOCKERFILE) as dockerfile:
        text = re.sub(r"\\\n", " ", dockerfile.read())
    lines = [line.strip() for line in text.splitlines()]
    return [tuple(line.split(None, 1)) for line in lines if line and not line.startswith("#")]


def test_base_image_is_the_tfx_release_the_venv_pins():
    assert instructions()[0] == ("FROM", f"tensorflow/tfx:{tfx.__version__}")


def test_every_copy_source_exists_and_every_installed_package_is_copied():
    copied = []
    for instruction, argument in instructions():
        if instruction == "COPY":
            sources = argument.split()[:-1]
            copied += sources
            for source in sources:
                assert os.path.exists(os.path.join(REPO_ROOT, source)), source
    with open(os.path.join(REPO_ROOT, "setup.py")) as setup:
        packages = set(re.findall(r'"([a-z_]+)", "\1\.\*"', setup.read()))
    assert packages and packages <= set(copied), packages - set(copied)
    assert {"setup.py", "constraints.txt"} <= set(copied)


def test_build_installs_with_the_pins_checks_them_and_runs_the_image_check():
    run = " ".join(argument for instruction, argument in instructions() if instruction == "RUN")
    assert "pip install --no-cache-dir -c constraints.txt ." in run
    assert "pip check" in run
    assert "python -m kubeflow.image_check" in run
    # The base image's ENTRYPOINT (Beam's worker boot) stays: pipeline tasks set their own
    # command (checked against the spec by image_check), Dataflow workers need the boot program.
    assert "ENTRYPOINT" not in dict(instructions())


def test_image_check_passes_in_this_environment(capsys):
    assert image_check.main() == 0
    assert "image_check: ok" in capsys.readouterr().out
