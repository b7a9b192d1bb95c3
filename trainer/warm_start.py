"""--warm-start: a new model starts from the weights of the model TF Serving serves now.

Every export carries its recurrent model's weights (`assets.extra/warm_start_weights.h5`, Keras'
by-layer-name format) next to the Transform vocabulary it was trained with (`assets/vocab`). A
new span brings a new vocabulary, so embedding rows are mapped by token: a word both
vocabularies know gets its served row, a new word keeps its GloVe (or random) row; padding and
OOV rows carry over when the bucket count is the same. Every other layer is copied whole. The
wide part is refitted as always (trainer/training.py). A served model of another shape (cell,
units, layers, head) is not used, and the reason is logged and kept in training_summary.json.
"""
import json
import logging
import os
import tempfile
from typing import Any, Dict, List, Sequence

import numpy as np
import tensorflow as tf

from contract.data_profile import VOCABULARY_FILE, read_vocabulary
from contract.names import START_POINT_FILE, WARM_START_WEIGHTS_FILE as WEIGHTS_FILE
EMBEDDING_LAYER = "embedding"


def save_weights(model: tf.keras.Model, export_dir: str) -> None:
    """The recurrent model's weights into an export (h5 is written locally, then copied)."""
    with tempfile.TemporaryDirectory() as scratch:
        local = os.path.join(scratch, "weights.h5")
        model.save_weights(local)
        target = os.path.join(export_dir, WEIGHTS_FILE)
        tf.io.gfile.makedirs(os.path.dirname(target))
        tf.io.gfile.copy(local, target, overwrite=True)


def _read_h5(path: str) -> Dict[str, List[np.ndarray]]:
    import h5py

    with h5py.File(path, "r") as f:
        return {_text(name): [np.asarray(f[_text(name)][_text(w)])
                              for w in f[_text(name)].attrs["weight_names"]]
                for name in f.attrs["layer_names"]}


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def map_embedding(served: np.ndarray, served_vocabulary: Sequence[str], new: np.ndarray,
                  new_vocabulary: Sequence[str]) -> tuple:
    """(new matrix with rows of shared tokens taken from `served`, tokens mapped). Rows:
    0 padding, 1..V words, then the OOV buckets."""
    result = new.copy()
    served_row = {token: index + 1 for index, token in enumerate(served_vocabulary)}
    mapped = 0
    for index, token in enumerate(new_vocabulary):
        row = served_row.get(token)
        if row is not None and row < len(served):
            result[index + 1] = served[row]
            mapped += 1
    result[0] = served[0]
    served_oov, new_oov = len(served) - 1 - len(served_vocabulary), len(new) - 1 - len(
        new_vocabulary)
    if served_oov == new_oov and new_oov > 0:
        result[-new_oov:] = served[-served_oov:]
    return result, mapped


def apply(model: tf.keras.Model, base_model_dir: str,
          new_vocabulary: Sequence[str]) -> Dict[str, Any]:
    """Sets `model`'s weights from the served export in `base_model_dir`, or leaves them all
    untouched; returns {"used": bool, "reason" or the rows mapped}."""
    weights_path = os.path.join(base_model_dir, WEIGHTS_FILE)
    # The Tuner hands on its best trial as weights and vocabulary only, without a SavedModel.
    if not base_model_dir or not (tf.io.gfile.exists(os.path.join(base_model_dir,
                                                                   "saved_model.pb"))
                                  or tf.io.gfile.exists(weights_path)):
        return _not_used("no served model yet (first run)")
    if not tf.io.gfile.exists(weights_path) or not tf.io.gfile.exists(
            os.path.join(base_model_dir, VOCABULARY_FILE)):
        return _not_used("the served model was exported without warm-start weights")
    with tempfile.TemporaryDirectory() as scratch:
        local = os.path.join(scratch, "weights.h5")
        tf.io.gfile.copy(weights_path, local)
        served = _read_h5(local)
    assignments, mapped = [], 0
    for layer in model.layers:
        if not layer.weights:
            continue
        if layer.name not in served:
            return _not_used(f"the served model has no layer {layer.name!r} (another "
                             "--cell, --num-layers, --pooling or head?)")
        old = served[layer.name]
        want = [tuple(w.shape) for w in layer.get_weights()]
        if layer.name == EMBEDDING_LAYER:
            if len(old) != 1 or old[0].shape[1] != want[0][1]:
                return _not_used(f"embedding width {old[0].shape[1]} served, {want[0][1]} now "
                                 "(another GloVe dimension?)")
            matrix, mapped = map_embedding(old[0], read_vocabulary(base_model_dir),
                                           layer.get_weights()[0], new_vocabulary)
            assignments.append((layer, [matrix]))
            continue
        if [tuple(w.shape) for w in old] != want:
            return _not_used(f"layer {layer.name!r} has weights of shapes "
                             f"{[tuple(w.shape) for w in old]} in the served model and {want} "
                             "now (another --cell, --units or --dense-units?)")
        assignments.append((layer, old))
    for layer, values in assignments:
        layer.set_weights(values)
    result = {"used": True, "layers": len(assignments), "embedding_rows_mapped": mapped,
              "new_vocabulary": len(new_vocabulary)}
    logging.info("Warm start from %s: %s", base_model_dir, result)
    return result


def _not_used(reason: str) -> Dict[str, Any]:
    logging.info("Warm start not used: %s.", reason)
    return {"used": False, "reason": reason}


def read_start_point(base_model_dir: str) -> Dict[str, Any]:
    """What the Tuner recorded of the trial handed on in `base_model_dir`; {} for a served
    export (or nothing)."""
    path = os.path.join(base_model_dir, START_POINT_FILE)
    if not base_model_dir or not tf.io.gfile.exists(path):
        return {}
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


def save_start_point(model: tf.keras.Model, target_dir: str, vocabulary: Sequence[str],
                     trial: Dict[str, Any], lineage_from: str = "") -> None:
    """What a later Trainer starts from without a SavedModel: `model`'s weights and the word
    vocabulary its embedding rows follow (the Tuner's best trial). With `lineage_from` (the
    served export the trial itself started from), that export's record of the reviews and
    spans it learned from comes along, so the final export still inherits them."""
    from contract import review_hashes
    from contract.names import SOURCE_FILE

    save_weights(model, target_dir)
    with tf.io.gfile.GFile(os.path.join(target_dir, START_POINT_FILE), "w") as out:
        json.dump(trial, out, indent=2)
    path = os.path.join(target_dir, VOCABULARY_FILE)
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "w") as out:
        out.write("".join(f"{token}\n" for token in vocabulary))
    for name in (review_hashes.HASHES_FILE, SOURCE_FILE) if lineage_from else ():
        if tf.io.gfile.exists(os.path.join(lineage_from, name)):
            tf.io.gfile.makedirs(os.path.dirname(os.path.join(target_dir, name)))
            tf.io.gfile.copy(os.path.join(lineage_from, name), os.path.join(target_dir, name),
                             overwrite=True)
