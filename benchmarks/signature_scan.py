"""How long plain TF takes to score the test split with the exported model, to compare with the
Evaluator's (TFMA's) wall time for the same work, read from ML Metadata.

Runs `serving_default` (serialized tf.Example -> P(positive)) over every test example of the
run's TfdsExampleGen output, in batches, and reports seconds, reviews/s and the accuracy it
computes (which should equal the Evaluator's BinaryAccuracy).

    .venv/bin/python benchmarks/signature_scan.py --output-dir pipeline_output
"""
import argparse
import glob
import json
import os
import sys
import time

import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from reports import run_record
from pipeline.config import make_config  # noqa: E402
from contract import signatures  # noqa: E402


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output-dir", default="pipeline_output")
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args(argv)
    run = run_record.latest_run(make_config(output_dir=args.output_dir))
    examples = run.artifact("TfdsExampleGen", "examples")
    model = run.artifact("Trainer", "model")
    files = sorted(glob.glob(os.path.join(examples.uri, "Split-test", "*.gz")))
    start = time.perf_counter()
    loaded = tf.saved_model.load(os.path.join(model.uri, "Format-Serving"))
    serve = loaded.signatures[signatures.EXAMPLES_SIGNATURE]
    loaded_at = time.perf_counter()
    spec = {"label": tf.io.FixedLenFeature([1], tf.int64)}
    correct = total = 0
    for batch in tf.data.TFRecordDataset(files, compression_type="GZIP").batch(args.batch_size):
        probability = serve(examples=batch)[signatures.EXAMPLES_OUTPUT].numpy()[:, 0]
        labels = tf.io.parse_example(batch, spec)["label"].numpy()[:, 0]
        correct += int(np.sum((probability >= 0.5) == (labels == 1)))
        total += len(labels)
    end = time.perf_counter()
    evaluator = run.nodes.get("Evaluator")
    result = {"examples": total, "accuracy": correct / max(total, 1),
              "load_seconds": round(loaded_at - start, 1),
              "scan_seconds": round(end - loaded_at, 1), "total_seconds": round(end - start, 1),
              "reviews_per_s": round(total / (end - loaded_at), 1),
              "evaluator_seconds": round(evaluator.seconds, 1) if evaluator else None,
              "evaluator_accuracy": run.test_metrics().get("binary_accuracy")}
    if result["evaluator_seconds"]:
        result["evaluator_vs_plain_tf"] = round(result["evaluator_seconds"]
                                                / result["total_seconds"], 2)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
