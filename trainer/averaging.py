"""Which weights a trained model keeps: its best epoch, or the average of its late epochs."""
import logging
from typing import Any, Dict, List, Optional

import numpy as np
import tensorflow as tf


class KeepBestEpoch(tf.keras.callbacks.Callback):
    """Leaves the model with the weights of its best epoch on `monitor`, whenever training ends.

    Keras 2.15's `EarlyStopping(restore_best_weights=True)` restores only when it stops
    training early: a run that reaches its last epoch keeps that epoch's weights even when an
    earlier one did better on eval.
    """

    def __init__(self, monitor: str = "val_accuracy"):
        super().__init__()
        self.monitor = monitor
        self.best: Optional[float] = None
        self.best_epoch: Optional[int] = None
        self.best_weights: Optional[List[np.ndarray]] = None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is not None and (self.best is None or value > self.best):
            self.best, self.best_epoch = float(value), epoch + 1
            self.best_weights = self.model.get_weights()

    def resume_state(self) -> Dict[str, Any]:  # trainer/resume.py
        return {"best": self.best, "best_epoch": self.best_epoch,
                "best_weights": self.best_weights}

    def restore_state(self, state: Dict[str, Any]) -> None:
        self.best, self.best_epoch = state["best"], state["best_epoch"]
        self.best_weights = state["best_weights"]

    def on_train_end(self, logs=None):
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)
            logging.info("Kept epoch %d (%s %.4f)", self.best_epoch, self.monitor, self.best)


class EpochWeightAveraging(tf.keras.callbacks.Callback):
    """Running mean of the weights at the end of every epoch from `start_epoch` (1-based) on.

    Stochastic weight averaging (Izmailov et al., 2018): the mean of a few late epochs sits in a
    flatter region than any one of them. An undertrained epoch in the mean can make it worse,
    hence the eval check in `keep_better_weights`.
    """

    def __init__(self, start_epoch: int):
        super().__init__()
        self.start_epoch = start_epoch
        self.average: Optional[List] = None
        self.epochs: List[int] = []

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 < self.start_epoch:
            return
        weights = self.model.get_weights()
        count = len(self.epochs)
        self.average = weights if self.average is None else [
            mean + (new - mean) / (count + 1) for mean, new in zip(self.average, weights)]
        self.epochs.append(epoch + 1)

    def resume_state(self) -> Dict[str, Any]:  # trainer/resume.py
        return {"average": self.average, "epochs": list(self.epochs)}

    def restore_state(self, state: Dict[str, Any]) -> None:
        self.average, self.epochs = state["average"], list(state["epochs"])


def keep_better_weights(model: tf.keras.Model, averaging: EpochWeightAveraging,
                        evaluation: tf.data.Dataset) -> Dict[str, Any]:
    """Leaves `model` with the averaged weights unless they do worse on eval than the weights it
    holds (its best epoch, see KeepBestEpoch); returns what was compared, for the summary."""
    if len(averaging.epochs) < 2:
        return {"epochs": averaging.epochs, "used": False}
    trained = model.get_weights()
    trained_accuracy = model.evaluate(evaluation, verbose=0, return_dict=True)["accuracy"]
    model.set_weights(averaging.average)
    averaged_accuracy = model.evaluate(evaluation, verbose=0, return_dict=True)["accuracy"]
    used = averaged_accuracy >= trained_accuracy
    if not used:
        model.set_weights(trained)
    logging.info("Weight averaging of epochs %s: eval accuracy %.4f vs %.4f trained; exporting "
                 "the %s weights", averaging.epochs, averaged_accuracy, trained_accuracy,
                 "averaged" if used else "trained")
    return {"epochs": averaging.epochs, "eval_accuracy": averaged_accuracy,
            "trained_eval_accuracy": trained_accuracy, "used": used}


