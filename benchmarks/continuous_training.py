"""Continuous training on IMDB cut into spans: cold vs warm start, and a drifted span blocked.

Writes IMDB's train split (from the TFDS data on disk) as CSV spans of equal size
(`<work>/reviews/span-<n>/reviews.csv`, a fixed shuffle), its test split as
`<work>/reviews/test/reviews.csv`, and a drifted span (positive reviews only), then runs the
pipeline as a user would, each run a separate `imdb-pipeline run` process:

  chain  span 1 cold, span 2 warm, span 3 warm   (one output dir: each run serves the next)
  cold   span 3 cold                              (its own output dir: nothing served)
  drift  the drifted span after the chain         (must be blocked by the DriftGate)

and prints one JSON line per run (Trainer seconds, eval and test accuracy, warm start used).
Warm runs train `--warm-epochs` epochs, cold runs the config's default.

    .venv/bin/python benchmarks/continuous_training.py --work-dir ct-imdb
"""
import argparse
import csv
import json
import os
import random
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.machine import cpu_model  # noqa: E402
from pipeline.config import make_config  # noqa: E402
from reports import run_record  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_csv(path: str, rows) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows((text, ("negative", "positive")[label]) for text, label in rows)


def write_spans(root: str, spans: int, data_dir: str) -> None:
    import tensorflow_datasets as tfds

    def split(name):
        return [(ex["text"].decode("utf-8"), int(ex["label"])) for ex in tfds.as_numpy(
            tfds.load("imdb_reviews/plain_text", split=name, data_dir=data_dir))]

    train = split("train")
    random.Random(0).shuffle(train)
    size = len(train) // spans
    for index in range(spans):
        write_csv(os.path.join(root, f"span-{index + 1}", "reviews.csv"),
                  train[index * size:(index + 1) * size])
    # IMDB's test split repeats some training reviews verbatim; the pipeline refuses a test
    # set that shares reviews with the training spans, so they are left out of the test file.
    seen = {text for text, _ in train}
    full_test = split("test")
    test = [row for row in full_test if row[0] not in seen]
    print(json.dumps({"test_reviews": len(test),
                      "dropped_as_in_train": len(full_test) - len(test)}))
    write_csv(os.path.join(root, "test", "reviews.csv"), test)
    # The drifted span: positive reviews of the last span only (a broken upstream filter).
    drifted = [row for row in train[(spans - 1) * size:spans * size] if row[1] == 1]
    write_csv(os.path.join(root, f"span-{spans + 1}", "reviews.csv"), drifted)


def run(work: str, name: str, out: str, span: int, flags, log_name: str) -> dict:
    reviews = os.path.join(work, "reviews")
    command = [sys.executable, "-m", "cli.main", "run", "--output-dir", out,
               "--input-pattern", os.path.join(reviews, "span-{SPAN}", "*.csv"),
               "--test-pattern", os.path.join(reviews, "test", "*.csv"),
               "--label-values", "negative,positive", "--span", str(span), *flags]
    start = time.time()
    with open(os.path.join(work, log_name), "w") as log:
        code = subprocess.run(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT).returncode
    result = {"run": name, "span": span, "exit_code": code, "seconds": round(time.time() - start)}
    if code == 0:
        latest = run_record.latest_run(make_config(output_dir=out))
        summary = latest.training_summary() or {}
        result.update({
            "trainer_seconds": round(latest.nodes["Trainer"].seconds, 1),
            "eval_accuracy": summary.get("wide_and_deep", {}).get("eval_accuracy"),
            "test_accuracy": latest.test_metrics().get("binary_accuracy"),
            "warm_start": summary.get("warm_start"),
            "epochs": len(summary.get("history", {}).get("loss", []))})
    else:
        with open(os.path.join(work, log_name)) as log:
            result["error"] = [line.strip() for line in log if line.startswith(
                "imdb-pipeline:")][-1:]
    print(json.dumps(result), flush=True)
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--spans", type=int, default=3)
    parser.add_argument("--warm-epochs", type=int, default=2)
    parser.add_argument("--tfds-data-dir", default=os.path.expanduser(
        os.environ.get("TFDS_DATA_DIR", "~/tensorflow_datasets")))
    args = parser.parse_args(argv)
    work = os.path.abspath(args.work_dir)
    if not os.path.exists(os.path.join(work, "reviews", "test", "reviews.csv")):
        write_spans(os.path.join(work, "reviews"), args.spans, args.tfds_data_dir)
    print(json.dumps({"cpu": cpu_model(), "cores": os.cpu_count()}), flush=True)
    chain, cold = os.path.join(work, "chain"), os.path.join(work, "cold")
    results = [run(work, "chain cold", chain, 1, [], "chain-1.log")]
    for span in range(2, args.spans + 1):
        results.append(run(work, "chain warm", chain, span,
                           ["--warm-start", "--epochs", str(args.warm_epochs)],
                           f"chain-{span}.log"))
    results.append(run(work, "cold", cold, args.spans, [], "cold.log"))
    results.append(run(work, "drifted", chain, args.spans + 1, ["--warm-start"], "drift.log"))
    with open(os.path.join(work, "results.json"), "w") as out:
        json.dump({"cpu": cpu_model(), "runs": results}, out, indent=2)


if __name__ == "__main__":
    main()
