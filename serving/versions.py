"""The numbered version folders of a TF Serving model base path, as TF Serving sees them.

TensorFlow (for its file systems: local, gs://, ...) is imported when a function runs, not with
the module: the REST client imports this module and must start without TensorFlow.
"""
import os
from typing import List

SAVED_MODEL_FILE = "saved_model.pb"


def version_dirs(serving_dir: str) -> List[int]:
    """Numeric version directories under a serving dir, oldest first ([] if it is missing)."""
    import tensorflow as tf

    if not tf.io.gfile.isdir(serving_dir):
        return []
    return sorted(int(name.strip("/")) for name in tf.io.gfile.listdir(serving_dir)
                  if name.strip("/").isdigit())


def loadable_versions(serving_dir: str) -> List[int]:
    """The versions TF Serving could load: those holding saved_model.pb, oldest first. Pushes
    write saved_model.pb last, so a version without it is a copy in progress or a failed one."""
    import tensorflow as tf

    return [version for version in version_dirs(serving_dir)
            if tf.io.gfile.exists(os.path.join(serving_dir, str(version), SAVED_MODEL_FILE))]
