"""Prints, as JSON, what each of 2 replicas (logical CPU devices) receives from odd-sized,
length-bucketed evaluation batches, with and without `distribution.prepare`, and the
accuracy `evaluate` reports both ways against the plain one-device accuracy.

    python -m tests.support.replica_batches
"""
import json

import numpy as np
import tensorflow as tf


def main() -> None:
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from trainer import data, distribution, models, preprocessing
    from trainer.hparams import ModelHParams

    strategy = distribution.make_strategy()
    rng = np.random.default_rng(0)
    # 13 reviews in 3 length buckets (batches of 4): 5 short ones leave a batch of 1 row.
    lengths = np.array([3, 5, 7, 2, 9, 12, 15, 18, 11, 22, 25, 28, 21])
    tokens = np.zeros((13, 30), np.int64)
    for row, length in enumerate(lengths):
        tokens[row, :length] = rng.integers(1, 50, size=length)
    labels = rng.integers(0, 2, size=(13, 1)).astype(np.float32)
    features = {preprocessing.TOKENS_FEATURE: tokens,
                preprocessing.LENGTH_FEATURE: lengths.astype(np.int64)}
    unbatched = tf.data.Dataset.from_tensor_slices((features, labels))
    eval_batches = data.bucketed(unbatched, 4, [10, 20])

    def replica_rows(dataset):
        rows = []
        for batch in strategy.experimental_distribute_dataset(dataset):
            rows.append([int(tf.shape(part)[0]) for part in
                         strategy.experimental_local_results(batch[1])])
        return rows

    tf.keras.utils.set_random_seed(1)
    with strategy.scope():
        model = models.build_model(ModelHParams(units=4, dense_units=4), 50, embedding_dim=4)
    prepared = distribution.prepare(eval_batches, strategy, 4, repeat=False)
    direct = data.predict_probabilities(
        model, tf.data.Dataset.from_tensor_slices(tokens).batch(4).map(data.trim_padding))
    print(json.dumps({
        "replicas": strategy.num_replicas_in_sync,
        "rows_plain": replica_rows(eval_batches),
        "rows_prepared": replica_rows(prepared),
        "accuracy_prepared": model.evaluate(prepared, verbose=0, return_dict=True)["accuracy"],
        "accuracy_direct": float(np.mean((direct > 0.5) == (labels.ravel() > 0.5))),
    }))


if __name__ == "__main__":
    main()
