"""Batch scoring speed: `imdb-pipeline score` (CSV in, JSON lines out) against calling the
serving signature directly on the same reviews, in one process, same batch size.

    .venv/bin/python benchmarks/batch_scoring.py --model-dir pipeline_output/serving_model \
        --reviews reviews.csv

`--reviews`: a CSV with a `text` column (e.g. IMDB's test split as written by
benchmarks/continuous_training.py). Prints reviews/s of both, their ratio, and the largest
difference between the two sets of scores.
"""
import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.machine import cpu_model  # noqa: E402
from contract.review_files import ReviewFormat, read_texts  # noqa: E402
from serving.batch import score_files  # noqa: E402
from serving.client import ClientOptions, LocalClient  # noqa: E402
from serving.saved_models import resolve_model_dir  # noqa: E402


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--reviews", required=True)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args(argv)
    review_format = ReviewFormat("text", "", (), "auto")
    model_dir = resolve_model_dir(args.model_dir)
    texts = [text for _, text in read_texts(args.reviews, review_format)]
    function = tf.saved_model.load(model_dir).signatures["serving_raw_text"]
    function(text=tf.constant(texts[:args.batch_size]))  # Traced once, outside the timing.
    start = time.perf_counter()
    direct = np.concatenate([
        function(text=tf.constant(texts[i:i + args.batch_size]))["probability"].numpy()[:, 0]
        for i in range(0, len(texts), args.batch_size)])
    direct_seconds = time.perf_counter() - start

    with tempfile.TemporaryDirectory() as scratch:
        output = os.path.join(scratch, "scores.jsonl")
        client = LocalClient(model_dir, ClientOptions(batch_size=args.batch_size))
        client.predict(["warm up"])
        summary = score_files(client, [args.reviews], review_format, output, args.batch_size)
        with open(output) as f:
            scored = np.array([json.loads(line)["probability"] for line in f])
    result = {"cpu": cpu_model(), "reviews": len(texts),
              "signature_reviews_per_s": round(len(texts) / direct_seconds, 1),
              "score_reviews_per_s": round(summary.reviews_per_second, 1),
              "signature_seconds": round(direct_seconds, 1),
              "score_seconds": round(summary.seconds, 1),
              "ratio_signature_over_score": round(summary.seconds / direct_seconds, 3),
              "max_abs_difference": float(np.max(np.abs(scored - direct)))}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
