"""TF Serving's models.config: where a model's versions live and which labels name them.

The Pusher reads the labels (the `stable` version is never deleted and is what later runs
compare with); `imdb-pipeline serving-config` writes the file (serving/deploy.py). Parsed and
written with TF Serving's own proto, so a file the server would reject fails here too.
"""
import os
import re
from typing import Dict, Optional

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from contract.names import model_name_problem

MODELS_MOUNT_ROOT = "/models"       # The image's MODEL_BASE_PATH; the model goes below it.
MODELS_CONFIG = "models.config"
HOST_MODELS_CONFIG = "models.host.config"
STABLE_LABEL = "stable"
CANARY_LABEL = "canary"

_URI_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")


def validate_model_name(model_name: str) -> str:
    """The model name is also a Kubernetes/KServe object name and a URL segment: one rule."""
    problem = model_name_problem(model_name)
    if problem:
        raise ValueError(problem)
    return model_name


def is_remote(path: str) -> bool:
    """gs://, s3://, hdfs://... paths: TF Serving reads them itself, so nothing is mounted."""
    match = _URI_SCHEME.match(path)
    return bool(match) and match.group(1).lower() != "file"


def local_path(path: str) -> str:
    """Absolute host path of a local serving dir (a file:// URI is accepted too)."""
    return os.path.abspath(os.path.expanduser(re.sub(r"^file://", "", path)))


def model_mount_path(model_name: str) -> str:
    """Where a local serving dir is mounted in every container: the image's /models/<name>."""
    return f"{MODELS_MOUNT_ROOT}/{model_name}"


def container_base_path(serving_dir: str, model_name: str) -> str:
    """models.config's base_path inside a container: the remote URI, or the mount point."""
    return serving_dir if is_remote(serving_dir) else model_mount_path(model_name)


def host_base_path(serving_dir: str) -> str:
    """models.host.config's base_path, for tensorflow_model_server run directly on the host."""
    return serving_dir if is_remote(serving_dir) else local_path(serving_dir)


def model_server_config(model_name: str, base_path: str, *, num_versions: int = 1,
                        stable_version: Optional[int] = None,
                        canary_version: Optional[int] = None
                        ) -> model_server_config_pb2.ModelServerConfig:
    """One model; `latest N` versions, or exactly the labelled ones when labels are given.

    With labels the policy must be `specific`: a label may only point at a version the server
    keeps loaded, and `latest` would drop the stable version as soon as a newer one is pushed.
    """
    validate_model_name(model_name)
    labels = {label: version for label, version in ((STABLE_LABEL, stable_version),
                                                    (CANARY_LABEL, canary_version))
              if version is not None}
    if any(int(v) < 1 for v in labels.values()):
        raise ValueError(f"model versions must be positive integers, got {labels}")
    if len(set(labels.values())) < len(labels):
        raise ValueError(f"the canary version must differ from the stable one, got {labels}")
    if num_versions < 1:
        raise ValueError(f"num_versions must be >= 1, got {num_versions}")
    config = model_server_config_pb2.ModelServerConfig()
    model = config.model_config_list.config.add(name=model_name, base_path=base_path,
                                                model_platform="tensorflow")
    if labels:
        model.model_version_policy.specific.versions.extend(sorted(labels.values()))
        for label, version in labels.items():
            model.version_labels[label] = int(version)
    else:
        model.model_version_policy.latest.num_versions = num_versions
    return config


def read_version_labels(models_config_path: str, model_name: str) -> Dict[str, int]:
    """Version labels of `model_name` in a models.config, e.g. {"stable": 3, "canary": 4}.

    For retention (`--keep-versions`): the version `stable` points at must never be deleted.
    Parsed strictly with TF Serving's own proto, so a file the server would reject fails here too.
    """
    if is_remote(models_config_path):  # gs://...: TF's file systems (TF is loaded there anyway).
        import tensorflow as tf

        with tf.io.gfile.GFile(models_config_path) as f:
            text = f.read()
    else:
        with open(models_config_path) as f:
            text = f.read()
    config = text_format.Parse(text, model_server_config_pb2.ModelServerConfig())
    for model in config.model_config_list.config:
        if model.name == model_name:
            return dict(model.version_labels)
    raise ValueError(f"{models_config_path} has no model named {model_name!r}")
