"""Preemption-safe training: a rerun of the same training resumes after its last finished epoch.

Keras' `BackupAndRestore` checkpoints the model and optimizer (learning-rate cuts included) at
every epoch end and restores them when `fit` starts again; it keeps nothing of the other
callbacks. `CallbackState` does that for the callbacks whose decisions span epochs (best epoch,
weight averaging, early stopping, learning-rate plateau) and for the history, so a resumed run
exports what an uninterrupted one would have.

Where: `<backup root>/<key>`, the key a hash of what the training depends on (input files,
Transform output, settings, tuned hyperparameters, ensemble member), so only a rerun of the
same training finds it. A finished training deletes its backup.
"""
import hashlib
import json
import logging
import os
import pickle
from typing import Any, Dict, List, Optional, Sequence

import tensorflow as tf

STATE_PREFIX = "callback_state-"
# Attributes of Keras' own callbacks that carry across epochs (Keras 2.15 names).
KERAS_STATE = {
    tf.keras.callbacks.EarlyStopping: ("wait", "best", "best_weights", "best_epoch",
                                       "stopped_epoch"),
    tf.keras.callbacks.ReduceLROnPlateau: ("wait", "best", "cooldown_counter"),
}


def backup_key(parts: Dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _state_of(callback) -> Optional[Dict[str, Any]]:
    if hasattr(callback, "resume_state"):
        return callback.resume_state()
    for cls, names in KERAS_STATE.items():
        if isinstance(callback, cls):
            return {name: getattr(callback, name, None) for name in names}
    return None


def _restore(callback, state: Dict[str, Any]) -> None:
    if hasattr(callback, "restore_state"):
        callback.restore_state(state)
    else:
        for name, value in state.items():
            setattr(callback, name, value)


class CallbackState(tf.keras.callbacks.Callback):
    """Writes the state of `callbacks` and the history after every epoch; when `fit` resumes at
    epoch k (BackupAndRestore), reads back the state written after epoch k.

    Must come after those callbacks (it records what they decided this epoch) and before
    BackupAndRestore: a kill between the two writes leaves this one a step ahead, so the last
    two states are kept.
    """

    def __init__(self, directory: str, callbacks: Sequence[tf.keras.callbacks.Callback],
                 write: bool = True):
        super().__init__()
        self.directory, self.callbacks, self.write = directory, list(callbacks), write
        self.history: Dict[str, List[float]] = {}
        self.resumed_from_epoch = 0
        self.epochs_run: List[int] = []
        self._first = True

    def _path(self, epochs_done: int) -> str:
        return os.path.join(self.directory, f"{STATE_PREFIX}{epochs_done}.pkl")

    def on_epoch_begin(self, epoch, logs=None):
        if self._first and epoch > 0:
            with tf.io.gfile.GFile(self._path(epoch), "rb") as stored:
                state = pickle.load(stored)
            for callback, values in zip(self.callbacks, state["callbacks"]):
                if values is not None:
                    _restore(callback, values)
            self.history = state["history"]
            self.resumed_from_epoch = epoch
            logging.info("Resumed after epoch %d from %s", epoch, self.directory)
        self._first = False
        self.epochs_run.append(epoch + 1)

    def on_epoch_end(self, epoch, logs=None):
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(float(value))
        if not self.write:
            return
        tf.io.gfile.makedirs(self.directory)
        state = {"callbacks": [_state_of(c) for c in self.callbacks], "history": self.history}
        path = self._path(epoch + 1)
        with tf.io.gfile.GFile(path + ".tmp", "wb") as out:
            pickle.dump(state, out)
        tf.io.gfile.rename(path + ".tmp", path, overwrite=True)
        stale = self._path(epoch - 1)
        if tf.io.gfile.exists(stale):
            tf.io.gfile.remove(stale)

    def on_train_end(self, logs=None):
        if self.write and tf.io.gfile.isdir(self.directory):
            tf.io.gfile.rmtree(self.directory)
