"""Own data across runs, as a new user lives it, on a short-text set that is not IMDB's reviews:
IMDB reviews cut to their first sentence (labels kept), in numbered CSV spans.

  span 1          defaults: the first model on this data (its own accuracy bar)
  span 2          --window 2 --warm-start: an undrifted span trains warm
  test changed    the test file loses 200 rows; the same flags score the new test set
  span 3          long, positive-only full reviews (another source): blocked by DriftGate
  span 4          --window 2 --warm-start: trains on spans [2, 4], span 3 stays out

Each step is a separate `imdb-pipeline run` process in one output dir; the script prints one
Markdown row per step (exit code, wall time, window, drift verdicts, test reviews, accuracy,
push) and the CPU. Test sentences whose normalized text repeats a training sentence are left
out of the test file (the pipeline would refuse them as leakage, naming the count).

    .venv/bin/python benchmarks/own_data_trial.py --work-dir trial-short
"""
import argparse
import csv
import os
import random
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.machine import cpu_model  # noqa: E402
from components import span_ledger  # noqa: E402
from contract.review_hashes import review_hash  # noqa: E402
from pipeline.config import make_config  # noqa: E402
from reports import run_record  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SENTENCE_END = re.compile(r"(?<=[.!?])(\s|<br)")


def first_sentence(text: str) -> str:
    match = _SENTENCE_END.search(text)
    return (text[:match.start()] if match else text).strip()


def write_csv(path: str, rows) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(rows)


def write_data(root: str, data_dir: str, span_size: int, test_size: int) -> dict:
    import tensorflow_datasets as tfds

    def split(name):
        return [(ex["text"].decode("utf-8"), int(ex["label"])) for ex in tfds.as_numpy(
            tfds.load("imdb_reviews/plain_text", split=name, data_dir=data_dir))]

    train, test = split("train"), split("test")
    random.Random(0).shuffle(train)
    random.Random(1).shuffle(test)
    short = [(first_sentence(t), y) for t, y in train if len(first_sentence(t)) > 3]
    spans = {1: short[:span_size], 2: short[span_size:2 * span_size],
             4: short[2 * span_size:3 * span_size]}
    # Span 3: another source: whole reviews, positive only.
    spans[3] = [(t, y) for t, y in test[-4 * span_size:] if y == 1][:span_size]
    for number, rows in spans.items():
        write_csv(os.path.join(root, f"span-{number}", "reviews.csv"), rows)
    seen = {review_hash(t.encode()) for n in (1, 2, 4) for t, _ in spans[n]}
    candidates = [(first_sentence(t), y) for t, y in test[:3 * test_size]]
    kept = [(t, y) for t, y in candidates if len(t) > 3 and review_hash(t.encode()) not in seen]
    write_csv(os.path.join(root, "test", "reviews.csv"), kept[:test_size])
    return {"dropped_test_repeats": sum(1 for t, _ in candidates[:test_size + 200]
                                        if review_hash(t.encode()) in seen)}


def run(flags, log) -> tuple:
    start = time.time()
    with open(log, "a") as out:
        code = subprocess.call([os.path.join(REPO, ".venv", "bin", "imdb-pipeline"), "run",
                                *flags], stdout=out, stderr=subprocess.STDOUT)
    return code, time.time() - start


def last_error(log) -> str:
    with open(log) as f:
        lines = [line.strip() for line in f if line.startswith("imdb-pipeline: ")]
    return lines[-1][len("imdb-pipeline: "):] if lines else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--tfds-data-dir", default=os.path.expanduser("~/tensorflow_datasets"))
    parser.add_argument("--span-size", type=int, default=3000)
    parser.add_argument("--test-size", type=int, default=1200)
    args = parser.parse_args()
    work = os.path.abspath(args.work_dir)
    data = os.path.join(work, "reviews")
    written = write_data(data, args.tfds_data_dir, args.span_size, args.test_size)
    out = os.path.join(work, "out")
    log = os.path.join(work, "runs.log")
    base = ["--input-pattern", os.path.join(data, "span-{SPAN}", "*.csv"),
            "--test-pattern", os.path.join(data, "test", "*.csv"), "--output-dir", out]
    warm = ["--window", "2", "--warm-start"]
    config = make_config(output_dir=out, input_pattern=base[1], test_pattern=base[3])
    print(f"CPU: {cpu_model()}; spans of {args.span_size}, test {args.test_size} "
          f"({written['dropped_test_repeats']} test sentences left out: they repeat a "
          "training sentence)")
    print("| step | flags | exit | seconds | window | drift check | test reviews | test "
          "accuracy | push |")
    print("|---|---|---|---|---|---|---|---|---|")
    test_file = os.path.join(data, "test", "reviews.csv")

    def shorten_test():
        with open(test_file, encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f))
        write_csv(test_file, rows[1:-200])

    steps = [("span 1", ["--span", "1"], None), ("span 2", ["--span", "2", *warm], None),
             ("test file changed (200 rows fewer)", ["--span", "2", *warm], shorten_test),
             ("span 3: long positive-only reviews", ["--span", "3", *warm], None),
             ("span 4", ["--span", "4", *warm], None)]
    for name, flags, before in steps:
        if before:
            before()
        code, seconds = run(base + flags, log)
        latest = run_record.latest_run(config)
        drift = latest.drift() or {}
        verdicts = ", ".join(f"span {e['span']}: {e['verdict']}" for e in drift.get("spans", []))
        if code:
            ledger = span_ledger.read(config.span_ledger_dir)
            blocked = [f"span {s}: " + "; ".join(e["breaches"]) for (s, _), e in ledger.items()
                       if e["verdict"] == span_ledger.BLOCKED]
            print(f"| {name} | `{' '.join(flags)}` | {code} | {seconds:.0f} | | "
                  f"{' | '.join(blocked) or last_error(log)} | | | not trained |")
            continue
        metrics = latest.test_metrics()
        spans = latest.spans() or {}
        print(f"| {name} | `{' '.join(flags)}` | {code} | {seconds:.0f} | "
              f"{spans.get('window')} | {verdicts or drift.get('verdict', '')} | "
              f"{int(metrics.get('example_count', 0))} | "
              f"{metrics.get('binary_accuracy', float('nan')):.4f} | {latest.push_status()} |",
              flush=True)


if __name__ == "__main__":
    main()
