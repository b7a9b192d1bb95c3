"""The default pipeline with its Tuner against the same pipeline without one, back to back.

Each arm is a whole `imdb-pipeline run` on full IMDB in its own output dir (nothing cached or
served), one after the other on this machine:

  fixed  --tuning fixed --epochs 4   the untuned default before the Tuner came back
  auto   the defaults                 Tuner (3 trials on 20% of an epoch; the Trainer
                                      continues the best) and 3 Trainer epochs

Prints one JSON line per arm (wall and per-component seconds, eval and test accuracy, what
the Tuner did) and then each arm's wall time as a ratio of the first arm's. Choices are made on
`eval`; the test accuracy is reported, never used.

    .venv/bin/python benchmarks/tuner_budget.py --work-dir tuner-budget
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.machine import cpu_model  # noqa: E402
from pipeline.config import make_config  # noqa: E402
from reports import run_record  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARMS = {"fixed": "--tuning fixed --epochs 4", "auto": ""}


def run_arm(work: str, name: str, flags: str) -> dict:
    out = os.path.join(work, name)
    command = [sys.executable, "-m", "cli.main", "run", "--output-dir", out,
               *shlex.split(flags)]
    start = time.time()
    with open(os.path.join(work, f"{name}.log"), "w") as log:
        code = subprocess.run(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT).returncode
    result = {"arm": name, "flags": flags, "exit_code": code,
              "seconds": round(time.time() - start)}
    if code == 0:
        latest = run_record.latest_run(make_config(output_dir=out))
        summary = latest.training_summary() or {}
        result.update({
            "components": {node: round(run.seconds) for node, run in latest.nodes.items()},
            "pipeline_seconds": round(sum(run.seconds for run in latest.nodes.values())),
            "tuning": latest.tuning(), "trials": latest.trials(),
            "hparams": summary.get("hparams"),
            "continued_trial": summary.get("continued_trial"),
            "epochs": len(summary.get("history", {}).get("loss", [])),
            "eval_accuracy": summary.get("wide_and_deep", {}).get("eval_accuracy"),
            "deep_eval_accuracy": summary.get("wide_and_deep", {}).get("deep_eval_accuracy"),
            "test_accuracy": latest.test_metrics().get("binary_accuracy"),
            "test_auc": latest.test_metrics().get("auc")})
    print(json.dumps(result), flush=True)
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--arms", nargs="*", default=list(ARMS), choices=list(ARMS))
    parser.add_argument("--arm", action="append", default=[], metavar="NAME=FLAGS",
                        help="Another arm: its name and `imdb-pipeline run` flags.")
    args = parser.parse_args(argv)
    os.makedirs(args.work_dir, exist_ok=True)
    print(json.dumps({"cpu": cpu_model(), "cores": os.cpu_count()}), flush=True)
    arms = [(name, ARMS[name]) for name in args.arms] + [
        tuple(arm.split("=", 1)) for arm in args.arm]
    results = [run_arm(args.work_dir, name, flags) for name, flags in arms]
    first = results[0]
    for result in results:
        if result.get("pipeline_seconds") and first.get("pipeline_seconds"):
            print(f"{result['arm']:<6} pipeline {result['pipeline_seconds']:>5} s "
                  f"({result['pipeline_seconds'] / first['pipeline_seconds']:.2f}x "
                  f"{first['arm']}), test accuracy {result['test_accuracy']:.4f}", flush=True)


if __name__ == "__main__":
    main()
