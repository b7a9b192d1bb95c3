"""The served tiny model for the client tests: a serving dir of two versions, the stand-ins,
and every backend (stand-ins, or a real TF Serving when one is present)."""
import json
import os
import shutil
import subprocess
import time
import urllib.request

import pytest

from tests.support.executors import free_port
from tests.support.serving_backends import LABELS, Backend, Reference
from tests.support.standins import GrpcStandIn, RestStandIn, ServedModels


@pytest.fixture(scope="module")
def serving_root(pushed_model_dir, tmp_path_factory):
    """A serving dir with the pushed model as versions 1 and 2 (symlinks: loaded once)."""
    root = tmp_path_factory.mktemp("served") / "imdb"
    root.mkdir()
    for version in (1, 2):
        os.symlink(os.path.abspath(pushed_model_dir), root / str(version))
    return str(root)


@pytest.fixture(scope="module")
def reference(pushed_model_dir):
    return Reference(pushed_model_dir)


@pytest.fixture(scope="module")
def standins(serving_root):
    models = ServedModels.from_base_path(serving_root, "imdb", LABELS)
    with RestStandIn(models) as rest, GrpcStandIn(models) as grpc_server:
        yield rest, grpc_server


MODEL_CONFIG = """model_config_list {{
  config {{
    name: "imdb"
    base_path: "{base_path}"
    model_platform: "tensorflow"
    model_version_policy {{ all {{}} }}
    version_labels {{ key: "stable" value: 1 }}
    version_labels {{ key: "canary" value: 2 }}
  }}
}}
"""


def _wait_available(url: str, process, log_path: str, seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            break
        try:
            with urllib.request.urlopen(url + "/v1/models/imdb", timeout=2) as answer:
                states = [v["state"] for v in json.load(answer)["model_version_status"]]
            if len(states) == 2 and set(states) == {"AVAILABLE"}:
                return
        except OSError:
            pass
        time.sleep(0.5)
    with open(log_path) as log:
        tail = log.read()[-2000:]
    process.kill()
    pytest.fail(f"tensorflow_model_server did not serve imdb in {seconds} s:\n{tail}")


@pytest.fixture(scope="module", params=["standin", "tf_serving"])
def backend(request, serving_root, tmp_path_factory):
    if request.param == "standin":
        rest, grpc_server = request.getfixturevalue("standins")
        yield Backend("standin", rest.url, grpc_server.target,
                      os.path.join(serving_root, "2"), rest=rest, grpc=grpc_server)
        return
    rest_url, grpc_target = (os.environ.get("TF_SERVING_REST_URL"),
                             os.environ.get("TF_SERVING_GRPC_TARGET"))
    if rest_url or grpc_target:
        model_dir = os.environ.get("TF_SERVING_MODEL_DIR")
        if not model_dir:
            pytest.skip("TF_SERVING_REST_URL/TF_SERVING_GRPC_TARGET set but not "
                        "TF_SERVING_MODEL_DIR (the SavedModel that server serves as 'imdb')")
        yield Backend("external", rest_url, grpc_target, model_dir, versions=False)
        return
    binary = shutil.which("tensorflow_model_server")
    if not binary:
        pytest.skip("no tensorflow_model_server on PATH and TF_SERVING_REST_URL / "
                    "TF_SERVING_GRPC_TARGET unset")
    work = tmp_path_factory.mktemp("tf_serving")
    config = work / "models.config"
    config.write_text(MODEL_CONFIG.format(base_path=serving_root))
    rest_port, grpc_port = free_port(), free_port()
    log_path = str(work / "server.log")
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [binary, f"--port={grpc_port}", f"--rest_api_port={rest_port}",
             f"--model_config_file={config}", "--allow_version_labels_for_unavailable_models"],
            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{rest_port}"
    try:
        _wait_available(url, process, log_path)
        yield Backend("tf_serving", url, f"127.0.0.1:{grpc_port}",
                      os.path.join(serving_root, "2"))
    finally:
        process.terminate()
        process.wait(timeout=30)
