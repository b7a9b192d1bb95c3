"""Training throughput (reviews/s) of the same model on the same Transform output, three ways:

  plain_keras   a plain Keras script: TFRecords -> parse -> fixed [64, max_len] batches
  trainer_fixed the Trainer's input pipeline without length buckets (batches cut to their
                longest review, which for random batches is nearly max_len)
  trainer_buckets the Trainer's default: reviews of similar length batched together, each batch
                cut to its longest review (trainer/data.py)

The model is the default one, BiGRU(64) with max+mean pooling and GloVe-sized embeddings.
Steps are timed after a warm-up; the CPU model is printed so ratios are read per machine.

    .venv/bin/python benchmarks/trainer_throughput.py PIPELINE_ROOT --steps 60
"""
import argparse
import glob
import json
import os
import sys
import time

import tensorflow as tf
import tensorflow_transform as tft

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pipeline.config import PipelineConfig  # noqa: E402
from trainer import data, models, preprocessing  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import cpu_model  # noqa: E402


class _FnArgs:
    """The part of TFX's FnArgs that `data.make_dataset` uses."""

    def __init__(self, examples_uri: str):
        from tfx.components.trainer import fn_args_utils
        from tfx.components.util import tfxio_utils
        from tfx.types import standard_artifacts

        examples = standard_artifacts.Examples()
        examples.uri = examples_uri
        examples.split_names = '["train", "eval"]'
        self.data_accessor = fn_args_utils.DataAccessor(
            tf_dataset_factory=tfxio_utils.get_tf_dataset_factory_from_artifact([examples], []),
            record_batch_factory=None, data_view_decode_fn=None)


def plain_keras(files, spec, batch_size: int) -> tf.data.Dataset:
    records = tf.data.TFRecordDataset(files, compression_type="GZIP").repeat()
    return records.shuffle(10000, seed=1).batch(batch_size).map(
        lambda r: tf.io.parse_example(r, spec)).map(
        lambda f: (f[preprocessing.TOKENS_FEATURE], f["label"])).prefetch(4)


def time_steps(model: tf.keras.Model, dataset: tf.data.Dataset, steps: int, batch: int) -> dict:
    model.fit(dataset, steps_per_epoch=5, epochs=1, verbose=0)  # Warm-up (tracing, caches).
    start = time.perf_counter()
    model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    return {"seconds": round(seconds, 2), "reviews_per_s": round(steps * batch / seconds, 1)}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pipeline_root")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--ways", default="plain_keras,trainer_fixed,trainer_buckets")
    parser.add_argument("--batch-size", type=int, default=PipelineConfig().batch_size)
    args = parser.parse_args(argv)
    config = PipelineConfig()
    output = tft.TFTransformOutput(
        glob.glob(os.path.join(args.pipeline_root, "Transform/transform_graph/*"))[0])
    examples_uri = glob.glob(os.path.join(args.pipeline_root,
                                          "Transform/transformed_examples/*"))[0]
    train_files = glob.glob(os.path.join(examples_uri, "Split-train", "*.gz"))
    rows = preprocessing.embedding_rows(output.vocabulary_size_by_name(preprocessing.VOCAB_NAME),
                                        config.num_oov_buckets)
    spec = {preprocessing.TOKENS_FEATURE: output.transformed_feature_spec()[
        preprocessing.TOKENS_FEATURE], "label": tf.io.FixedLenFeature([], tf.int64)}
    fn_args = _FnArgs(examples_uri)
    batch = args.batch_size
    datasets = {
        "plain_keras": lambda: plain_keras(train_files, spec, batch),
        "trainer_fixed": lambda: data.make_dataset(
            fn_args, train_files, output, "label", batch, True, (), config.seed),
        "trainer_buckets": lambda: data.make_dataset(
            fn_args, train_files, output, "label", batch, True, config.length_buckets,
            config.seed),
    }
    result = {"cpu": cpu_model(), "cores": os.cpu_count(), "batch_size": batch,
              "steps": args.steps}
    for way in args.ways.split(","):
        tf.keras.utils.set_random_seed(0)
        model = models.build_model(config.model_hparams(), rows, embedding_dim=50)
        result[way] = time_steps(model, datasets[way](), args.steps, batch)
        print(way, result[way], flush=True)
    base = result.get("plain_keras", {}).get("reviews_per_s")
    if base:
        for way in ("trainer_fixed", "trainer_buckets"):
            if way in result:
                result[way]["vs_plain_keras"] = round(result[way]["reviews_per_s"] / base, 2)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
