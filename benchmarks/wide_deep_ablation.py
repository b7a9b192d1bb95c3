"""Test accuracy of the exported model's parts: the recurrent model alone, the wide (n-gram) part
alone, and their mix, read from one run's Trainer output.

The parts are the ones the Trainer fitted (the mix weights were fitted on `eval`); the official
test split is only scored here, for the ablation in docs/results.md, never used to choose anything.

    .venv/bin/python benchmarks/wide_deep_ablation.py --output-dir pipeline_output
"""
import argparse
import glob
import json
import os
import sys

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from reports import run_record
from pipeline.config import make_config  # noqa: E402
from trainer import data  # noqa: E402


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output-dir", default="pipeline_output")
    parser.add_argument("--label", default="label")
    args = parser.parse_args(argv)
    run = run_record.latest_run(make_config(output_dir=args.output_dir))
    model_dir = os.path.join(run.artifact("Trainer", "model").uri, "Format-Serving")
    model = tf.keras.models.load_model(model_dir)
    if len(model.inputs) == 1:
        raise SystemExit("this run's model has no wide part (--ngram-vocab-size 0)")
    logits = tf.keras.Model(model.inputs, model.get_layer("logits").output)
    tft_output = tft.TFTransformOutput(run.artifact("Transform", "transform_graph").uri)
    layer = tft_output.transform_features_layer()
    raw_spec = tft_output.raw_feature_spec()
    files = glob.glob(os.path.join(run.artifact("TfdsExampleGen", "examples").uri,
                                   "Split-test", "*.gz"))
    parts, mixed, labels = [], [], []
    for batch in tf.data.TFRecordDataset(files, compression_type="GZIP").batch(512):
        raw = tf.io.parse_example(batch, raw_spec)
        labels.append(raw.pop(args.label).numpy().ravel())
        inputs = data.model_inputs(model, layer(raw))
        parts.append(logits(inputs).numpy())
        mixed.append(model(inputs).numpy().ravel())
    parts, mixed, labels = np.concatenate(parts), np.concatenate(mixed), np.concatenate(labels)
    positive = labels == 1
    result = {"test_reviews": int(len(labels)),
              "recurrent_alone": float(np.mean((parts[:, 0] > 0) == positive)),
              "wide_alone": float(np.mean((parts[:, 1] > 0) == positive)),
              "both": float(np.mean((mixed >= 0.5) == positive)),
              "evaluator_binary_accuracy": run.test_metrics().get("binary_accuracy")}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
