import numpy as np
import tensorflow as tf

from trainer.averaging import EpochWeightAveraging, KeepBestEpoch, keep_better_weights


def _model_and_data():
    tf.keras.utils.set_random_seed(0)
    features = np.random.normal(size=(256, 4)).astype("float32")
    labels = (features[:, 0] + features[:, 1] > 0).astype("float32")
    model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(1, "sigmoid")])
    model.compile(tf.keras.optimizers.Adam(0.05), "binary_crossentropy", metrics=[
        tf.keras.metrics.BinaryAccuracy(name="accuracy")])
    return model, tf.data.Dataset.from_tensor_slices((features, labels)).batch(32)


def _trained(start_epoch: int, epochs: int):
    model, data = _model_and_data()
    averaging = EpochWeightAveraging(start_epoch=start_epoch)
    model.fit(data, epochs=epochs, verbose=0, callbacks=[averaging])
    return model, data, averaging


class _Snapshots(tf.keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())


def test_averages_the_weights_of_the_epochs_from_the_start_epoch_on():
    model, data = _model_and_data()
    averaging, snapshots = EpochWeightAveraging(start_epoch=2), _Snapshots()
    model.fit(data, epochs=4, verbose=0, callbacks=[averaging, snapshots])
    assert averaging.epochs == [2, 3, 4]
    for index, average in enumerate(averaging.average):
        expected = np.mean([w[index] for w in snapshots.weights[1:]], axis=0)
        np.testing.assert_allclose(average, expected, rtol=1e-5, atol=1e-6)


def test_keeps_the_trained_weights_when_the_average_does_worse_on_eval():
    model, data, averaging = _trained(start_epoch=1, epochs=5)
    trained = model.get_weights()
    averaging.average = [-10 * w for w in trained]  # An average that gets most labels wrong.
    result = keep_better_weights(model, averaging, data)
    assert result["used"] is False and result["eval_accuracy"] < result["trained_eval_accuracy"]
    for kept, original in zip(model.get_weights(), trained):
        np.testing.assert_array_equal(kept, original)


def test_uses_the_average_when_it_does_at_least_as_well():
    model, data, averaging = _trained(start_epoch=1, epochs=5)
    trained = model.get_weights()
    # Nudge the average by a hair: same eval accuracy (a tie goes to the average), new weights.
    averaging.average = [w + 1e-6 for w in trained]
    result = keep_better_weights(model, averaging, data)
    assert result["trained_eval_accuracy"] > 0.8  # Learnt the task: the comparison means something.
    assert result["used"] is True and result["eval_accuracy"] == result["trained_eval_accuracy"]
    for kept, average in zip(model.get_weights(), averaging.average):
        np.testing.assert_array_equal(kept, average)


def test_one_averaged_epoch_is_not_an_average():
    model, data, averaging = _trained(start_epoch=3, epochs=3)
    before = model.get_weights()
    assert keep_better_weights(model, averaging, data) == {"epochs": [3], "used": False}
    for kept, original in zip(model.get_weights(), before):
        np.testing.assert_array_equal(kept, original)


def test_the_best_epoch_is_kept_even_when_training_runs_to_its_last_epoch():
    """Keras' EarlyStopping(restore_best_weights=True) restores only when it stops early."""
    model, _ = _model_and_data()
    best = KeepBestEpoch("val_accuracy")
    best.set_model(model)
    best.on_train_begin()
    good = model.get_weights()
    best.on_epoch_end(0, {"val_accuracy": 0.9})
    model.set_weights([w + 1.0 for w in good])
    best.on_epoch_end(1, {"val_accuracy": 0.6})  # Worse, and the last epoch.
    best.on_train_end()
    assert best.best_epoch == 1
    for kept, original in zip(model.get_weights(), good):
        np.testing.assert_array_equal(kept, original)


def test_fit_ends_with_the_best_eval_epoch_weights():
    """Through a real fit: a callback spoils the weights after epoch 2, eval drops, and the
    model still ends with epoch 2's weights."""
    model, data = _model_and_data()

    class Spoil(tf.keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                self.model.set_weights([-10 * w for w in self.model.get_weights()])
                self.model.optimizer.learning_rate.assign(0.0)

    snapshots, best = _Snapshots(), KeepBestEpoch("val_accuracy")
    history = model.fit(data, validation_data=data, epochs=3, verbose=0,
                        callbacks=[Spoil(), snapshots, best]).history
    assert history["val_accuracy"][2] < history["val_accuracy"][1]
    expected = snapshots.weights[int(np.argmax(history["val_accuracy"]))]
    for kept, original in zip(model.get_weights(), expected):
        np.testing.assert_array_equal(kept, original)
