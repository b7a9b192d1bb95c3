"""Does the Tuner's pick beat IMDB's defaults on short text? Judged on held-out sentences.

Data: IMDB reviews cut to their first sentence (labels kept; a short-text set unlike IMDB's
reviews), a fixed shuffle of TFDS `train` split three ways: one CSV span the pipeline trains on
(its `eval` split is hashed out of it, and every choice is made there), `--holdout` sentences
it never sees (the validation data this benchmark judges on), and the first sentences of TFDS
`test` as the Evaluator's test file (reported, never used). Normalized repeats of training
sentences are dropped from holdout and test.

Arms, each a separate `imdb-pipeline run` in its own output dir (nothing served):

  defaults   --tuning fixed             IMDB's model flags as given
  tuned      --tuning tune               the default search space (units x dropout)
  wide       --tuning tune + learning rates and units x dropout, full-epoch trials

Each arm's exported model scores the holdout sentences in process (its raw-text signature); the
script prints one JSON line per arm and then each arm's holdout accuracy against the defaults'
with the paired difference's standard error (the same sentences).

    .venv/bin/python benchmarks/short_text_tuning.py --work-dir short-tuning
"""
import argparse
import json
import math
import os
import random
import shlex
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.machine import cpu_model  # noqa: E402
from benchmarks.own_data_trial import first_sentence, write_csv  # noqa: E402
from contract.review_hashes import review_hash  # noqa: E402
from pipeline.config import make_config  # noqa: E402
from reports import run_record  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARMS = {
    "defaults": "--tuning fixed",
    "tuned": "--tuning tune",
    "wide": "--tuning tune --tune-learning-rates 0.0005,0.002,0.006 --tuner-max-trials 8 "
            "--tuner-train-fraction 1.0",
}


def write_data(root: str, data_dir: str, holdout: int, test_size: int) -> dict:
    import tensorflow_datasets as tfds

    def split(name):
        return [(first_sentence(ex["text"].decode("utf-8")), int(ex["label"]))
                for ex in tfds.as_numpy(tfds.load("imdb_reviews/plain_text", split=name,
                                                  data_dir=data_dir))]

    train = [(t, y) for t, y in split("train") if len(t) > 3]
    random.Random(0).shuffle(train)
    training, rest = train[:-holdout], train[-holdout:]
    seen = {review_hash(t.encode()) for t, _ in training}
    kept = [(t, y) for t, y in rest if review_hash(t.encode()) not in seen]
    test = [(t, y) for t, y in split("test") if len(t) > 3]
    random.Random(1).shuffle(test)
    test = [(t, y) for t, y in test if review_hash(t.encode()) not in seen][:test_size]
    write_csv(os.path.join(root, "span-1", "reviews.csv"), training)
    write_csv(os.path.join(root, "test", "reviews.csv"), test)
    with open(os.path.join(root, "holdout.json"), "w") as out:
        json.dump(kept, out)
    return {"train_sentences": len(training), "holdout": len(kept), "test": len(test),
            "mean_words": round(sum(len(t.split()) for t, _ in training) / len(training), 1)}


def holdout_predictions(model_dir: str, holdout) -> list:
    import tensorflow as tf

    from contract.signatures import RAW_TEXT_SIGNATURE

    serve = tf.saved_model.load(model_dir).signatures[RAW_TEXT_SIGNATURE]
    predictions = []
    for start in range(0, len(holdout), 256):
        texts = tf.constant([t for t, _ in holdout[start:start + 256]])
        predictions += [int(p > 0.5) for p in serve(text=texts)["probability"].numpy()[:, 0]]
    return predictions


def run_arm(work: str, data: str, name: str, flags: str, holdout) -> dict:
    out = os.path.join(work, name)
    command = [sys.executable, "-m", "cli.main", "run", "--output-dir", out,
               "--input-pattern", os.path.join(data, "span-{SPAN}", "*.csv"),
               "--test-pattern", os.path.join(data, "test", "*.csv"), *shlex.split(flags)]
    start = time.time()
    with open(os.path.join(work, f"{name}.log"), "w") as log:
        code = subprocess.run(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT).returncode
    result = {"arm": name, "flags": flags, "exit_code": code,
              "seconds": round(time.time() - start)}
    if code != 0:
        print(json.dumps(result), flush=True)
        return result
    latest = run_record.latest_run(make_config(output_dir=out, input_pattern="x", test_pattern="y"))
    summary = latest.training_summary() or {}
    # The Trainer's export, pushed or not (the bar is the test set's majority class).
    model_dir = os.path.join(latest.artifact("Trainer", "model").uri, "Format-Serving")
    predictions = holdout_predictions(model_dir, holdout)
    result.update({
        "trials": latest.trials(), "hparams": summary.get("hparams"),
        "epochs": len(summary.get("history", {}).get("loss", [])),
        "eval_accuracy": summary.get("wide_and_deep", {}).get("eval_accuracy"),
        "deep_eval_accuracy": summary.get("wide_and_deep", {}).get("deep_eval_accuracy"),
        "holdout_accuracy": sum(p == y for p, (_, y) in zip(predictions, holdout)) / len(
            holdout),
        "test_accuracy": latest.test_metrics().get("binary_accuracy"),
        "components": {node: round(r.seconds) for node, r in latest.nodes.items()}})
    print(json.dumps(result), flush=True)
    result["correct"] = [int(p == y) for p, (_, y) in zip(predictions, holdout)]
    return result


def paired(a, b) -> tuple:
    """(mean of a - b, its standard error) over the same sentences."""
    diffs = [x - y for x, y in zip(a, b)]
    mean = sum(diffs) / len(diffs)
    var = sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1)
    return mean, math.sqrt(var / len(diffs))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--tfds-data-dir", default=os.path.expanduser("~/tensorflow_datasets"))
    parser.add_argument("--holdout", type=int, default=4000)
    parser.add_argument("--test-size", type=int, default=5000)
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    args = parser.parse_args(argv)
    work = os.path.abspath(args.work_dir)
    data = os.path.join(work, "sentences")
    written = write_data(data, args.tfds_data_dir, args.holdout, args.test_size)
    with open(os.path.join(data, "holdout.json")) as f:
        holdout = [tuple(row) for row in json.load(f)]
    print(json.dumps({"cpu": cpu_model(), **written}), flush=True)
    results = [run_arm(work, data, name, ARMS[name], holdout) for name in args.arms]
    base = results[0]
    for result in results[1:]:
        if "correct" in result and "correct" in base:
            mean, se = paired(result["correct"], base["correct"])
            print(f"{result['arm']}: holdout {result['holdout_accuracy']:.4f} vs "
                  f"{base['arm']} {base['holdout_accuracy']:.4f}: {100 * mean:+.2f} points "
                  f"(paired standard error {100 * se:.2f})", flush=True)


if __name__ == "__main__":
    main()
