"""A CSV of about 1 GB through the own-data ingestion, next to TFX's own CsvExampleGen.

Writes `<work>/big/reviews.csv` from the TFDS IMDB data on disk (train and unsupervised reviews,
repeated with a copy number until the size is reached; unsupervised reviews get a label from
their hash) and `<work>/test/reviews.csv` (IMDB test reviews), then times, each in its own
process, with that process's peak resident memory (getrusage):

  imports         the same process doing nothing but import TFX and the pipeline's ingestion
                  (the memory every step starts from)
  preflight       the CLI's check of every row (components/file_example_gen.py: check_input)
  FileExampleGen  the pipeline's ingestion as one-node TFX pipeline (BeamDagRunner, DirectRunner)
  CsvExampleGen   TFX's own CSV ingestion of the same file, the same way

    .venv/bin/python benchmarks/ingest_large_csv.py --work-dir ingest-1gb [--size-gb 1]
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.machine import cpu_model  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_data(work: str, size_bytes: int, data_dir: str) -> int:
    import hashlib

    import tensorflow_datasets as tfds

    def split(name):
        return [(ex["text"].decode("utf-8"), int(ex["label"])) for ex in tfds.as_numpy(
            tfds.load("imdb_reviews/plain_text", split=name, data_dir=data_dir))]

    base = [(t, y if y >= 0 else hashlib.md5(t.encode()).digest()[0] % 2)
            for name in ("train", "unsupervised") for t, y in split(name)]
    path = os.path.join(work, "big", "reviews.csv")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    rows = 0
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["text", "label"])
        copy = 0
        while out.tell() < size_bytes:
            copy += 1
            for text, label in base:
                writer.writerow([f"{text} (copy {copy})", label])
                rows += 1
                if out.tell() >= size_bytes:
                    break
    seen = {t for t, _ in base}
    test = [(t, y) for t, y in split("test") if t not in seen][:2000]
    test_path = os.path.join(work, "test", "reviews.csv")
    os.makedirs(os.path.dirname(test_path), exist_ok=True)
    with open(test_path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["text", "label"])
        writer.writerows(test)
    return rows


def _settings(work: str):
    from contract.settings import FileInputSettings

    return FileInputSettings(
        train_pattern=os.path.join(work, "big", "*.csv"),
        test_pattern=os.path.join(work, "test", "*.csv"), text_feature="text",
        label_feature="label", label_values=(), input_format="auto", window=1, eval_percent=10,
        ledger_dir=os.path.join(work, "ledger"), accepted_spans=(), test_overlap="warn")


def step(name: str, work: str) -> dict:
    """Runs one measured step in this process; returns what it counted."""
    if name == "imports":  # What the steps' processes hold before reading anything.
        import components.file_example_gen  # noqa: F401
        from tfx import v1  # noqa: F401

        return {}
    if name == "preflight":
        from components.file_example_gen import check_input

        return check_input(_settings(work)).counts
    from tfx import v1 as tfx
    from tfx.orchestration import metadata
    from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner

    if name == "FileExampleGen":
        from components.file_example_gen import file_example_gen

        node = file_example_gen(_settings(work))
    else:
        node = tfx.components.CsvExampleGen(input_base=os.path.join(work, "big"))
    root = os.path.join(work, f"root-{name}")
    BeamDagRunner().run(tfx.dsl.Pipeline(
        pipeline_name=f"ingest-{name}", pipeline_root=root, components=[node],
        enable_cache=False, metadata_connection_config=metadata.sqlite_metadata_connection_config(
            os.path.join(work, f"mlmd-{name}.sqlite"))))
    return {"output_bytes": sum(os.path.getsize(os.path.join(d, f))
                                for d, _, files in os.walk(root) for f in files)}


def measure(name: str, work: str) -> dict:
    start = time.time()
    child = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--step", name,
                              "--work-dir", work], stdout=subprocess.PIPE, cwd=REPO)
    out, _ = child.communicate()
    status = child.returncode
    seconds = time.time() - start
    lines = out.decode().strip().splitlines()
    result = json.loads(lines[-1]) if lines else {}
    result.update(seconds=seconds, status=status)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--size-gb", type=float, default=1.0)
    parser.add_argument("--tfds-data-dir", default=os.path.expanduser("~/tensorflow_datasets"))
    parser.add_argument("--steps", default="imports,preflight,FileExampleGen,CsvExampleGen",
                        help="Which steps to time (comma-separated) [default: %(default)s].")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    args = parser.parse_args()
    work = os.path.abspath(args.work_dir)
    if args.step:
        import resource

        counted = step(args.step, work)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"counted": counted, "peak_rss_mb": round(peak)}))
        return
    big = os.path.join(work, "big", "reviews.csv")
    if not os.path.exists(big):
        rows = write_data(work, int(args.size_gb * 2**30), args.tfds_data_dir)
    else:
        with open(big, encoding="utf-8", newline="") as f:
            rows = sum(1 for _ in csv.reader(f)) - 1
    size = os.path.getsize(big)
    print(f"CPU: {cpu_model()}; {big}: {size / 2**30:.2f} GiB, {rows:,} reviews")
    print("| step | seconds | reviews/s | peak memory (RSS) |")
    print("|---|---|---|---|")
    steps = args.steps.split(",")
    for name in steps:
        result = measure(name, work)
        print(f"| {name} | {result['seconds']:.0f} | {rows / result['seconds']:,.0f} | "
              f"{result.get('peak_rss_mb', '?')} MB |" + (
                  f" exit {result['status']}" if result["status"] else ""), flush=True)


if __name__ == "__main__":
    main()
