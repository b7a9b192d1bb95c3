"""Exported SavedModels on disk: which directory to load, loading it once, what it records.

TensorFlow (for its file systems: local, gs://, ...) is imported when a function runs.
"""
import json
import os
import threading
from typing import Any, Dict, Optional

from contract.names import DEFAULT_TEXT_FEATURE
from contract.signatures import INPUT_FEATURES_FILE
from serving.errors import ServingError
from serving.versions import SAVED_MODEL_FILE, loadable_versions, version_dirs

_LOADED: Dict[str, Any] = {}  # realpath -> tf.saved_model.load(...): each dir loads once.
_LOAD_LOCK = threading.Lock()


def load_saved_model(model_dir: str):
    """tf.saved_model.load, once per directory per process (symlinks resolved)."""
    import tensorflow as tf

    real = os.path.realpath(model_dir)
    with _LOAD_LOCK:
        if real not in _LOADED:
            _LOADED[real] = tf.saved_model.load(real)
        return _LOADED[real]


def read_signature_defs(model_dir: str):
    """The SignatureDefs in a SavedModel's saved_model.pb (what TF Serving reports)."""
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    saved_model = saved_model_pb2.SavedModel()
    with tf.io.gfile.GFile(os.path.join(model_dir, SAVED_MODEL_FILE), "rb") as f:
        saved_model.ParseFromString(f.read())
    return saved_model.meta_graphs[0].signature_def


def resolve_model_dir(path: str, version: Optional[int] = None) -> str:
    """A SavedModel dir as given, or version N / the newest complete version of a serving dir."""
    import tensorflow as tf

    if not tf.io.gfile.isdir(path):
        raise ServingError(f"no model directory {path}", "NOT_FOUND")
    has_model = tf.io.gfile.exists(os.path.join(path, SAVED_MODEL_FILE))
    versions = version_dirs(path)
    # A version without saved_model.pb is a push still copying (it is written last) or a
    # failed one: what TF Serving would not load either.
    complete = loadable_versions(path)
    if version is not None:
        if version not in versions:
            raise ServingError(f"no version {version} in {path} (versions: {versions})",
                               "NOT_FOUND")
        if version not in complete:
            raise ServingError(f"version {version} in {path} has no {SAVED_MODEL_FILE} yet "
                               "(a copy in progress or a failed push)", "NOT_FOUND")
        return os.path.join(path, str(version))
    if has_model:
        return path
    if not versions:
        raise ServingError(f"{path} holds neither {SAVED_MODEL_FILE} nor numbered versions",
                           "NOT_FOUND")
    if not complete:
        raise ServingError(f"no complete version in {path}: none of {versions} holds "
                           f"{SAVED_MODEL_FILE} yet", "NOT_FOUND")
    return os.path.join(path, str(complete[-1]))


def recorded_text_feature(model_dir: str) -> str:
    """The raw feature the export's Example signatures parse, as its Trainer recorded it
    (exports that predate the record: the pipeline's default)."""
    import tensorflow as tf

    path = os.path.join(model_dir, INPUT_FEATURES_FILE)
    if not tf.io.gfile.exists(path):
        return DEFAULT_TEXT_FEATURE
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)["text_feature"]
