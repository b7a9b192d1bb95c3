"""Fault test too long for `make test`: SIGKILL in the middle of Transform, Tuner and Trainer.

One output dir, four `imdb-pipeline run` processes with the same settings: the first is killed
(SIGKILL to its whole process group) a few seconds after Transform starts, the second a few
seconds after the Tuner starts, the third after the Trainer starts, the fourth runs to the end.
After each kill, ML Metadata must show the killed component not complete; after each restart,
every component that had finished before must come from the cache, the killed one must run
again, and what the next component consumed must be the new run's output, not the killed run's
partial directory. A reference run in a second output dir, never killed, gives the test
accuracy the resumed run must match within `--tolerance` (TF's CPU training is not bitwise
reproducible across processes: float sums in threaded kernels; measured differences are a
review or two).

    .venv/bin/python scripts/fault_sigkill.py --work-dir /tmp/sigkill [run flags...]

Run flags default to the smoke preset on a slice of IMDB; prints a JSON summary and exits 1 if
an expectation fails.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time
from typing import Dict, List, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from reports import run_record
from pipeline.config import make_config  # noqa: E402

DEFAULT_FLAGS = ["--preset", "smoke", "--max-examples", "2000", "--epochs", "2"]
ORDER = ["TfdsExampleGen", "StatisticsGen", "CuratedSchemaGen", "ExampleValidator",
         "AnomaliesGate", "Transform", "Tuner", "Trainer", "ServingBaseline", "Evaluator",
         "Pusher"]
# Which output of the killed node the next node reads, to check it got the new one.
CONSUMED = {"Transform": ("Tuner", "transform_graph", "transform_graph"),
            "Tuner": ("Trainer", "hyperparameters", "best_hyperparameters"),
            "Trainer": ("Evaluator", "model", "model")}


def _command(output_dir: str, flags: List[str]) -> List[str]:
    return [sys.executable, "-m", "cli.main", "run", "--output-dir", output_dir, *flags]


def run_until(output_dir: str, flags: List[str], kill_in: Optional[str], delay: float,
              log_path: str) -> Dict:
    """Runs the pipeline; with `kill_in`, SIGKILLs it `delay` s after that component starts."""
    start = time.time()
    with open(log_path, "w") as log:
        process = subprocess.Popen(_command(output_dir, flags), cwd=ROOT, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, start_new_session=True)
        killed_at = None
        for line in process.stdout:
            log.write(line)
            if kill_in and f"node {kill_in} is running" in line:
                log.flush()
                time.sleep(delay)
                os.killpg(process.pid, signal.SIGKILL)
                killed_at = time.time() - start
                break
        code = process.wait()
    return {"exit_code": code, "killed_after_s": killed_at, "seconds": time.time() - start}


def node_states(output_dir: str) -> Dict[str, str]:
    run = run_record.latest_run(make_config(output_dir=output_dir))
    return {node: run.nodes[node].state for node in ORDER if node in run.nodes}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work-dir", default="/tmp/fault_sigkill")
    parser.add_argument("--delay", type=float, default=4.0,
                        help="Seconds after the component starts before the kill.")
    parser.add_argument("--tolerance", type=float, default=0.005,
                        help="Largest test-accuracy difference from the reference run.")
    args, flags = parser.parse_known_args(argv)
    flags = flags or DEFAULT_FLAGS
    os.makedirs(args.work_dir, exist_ok=True)
    killed_dir = os.path.join(args.work_dir, "killed")
    reference_dir = os.path.join(args.work_dir, "reference")
    failures, steps = [], []

    def expect(condition: bool, message: str) -> None:
        if not condition:
            failures.append(message)
            print("FAILED:", message, flush=True)

    previous = None
    for index, victim in enumerate(["Transform", "Tuner", "Trainer", None]):
        outcome = run_until(killed_dir, flags, victim, args.delay,
                            os.path.join(args.work_dir, f"run{index + 1}.log"))
        states = node_states(killed_dir)
        run = run_record.latest_run(make_config(output_dir=killed_dir))
        step = {"run": index + 1, "killed_in": victim, **outcome, "states": states}
        if victim:
            expect(outcome["killed_after_s"] is not None, f"{victim} never started")
            expect(states.get(victim) not in ("COMPLETE", "CACHED"),
                   f"{victim} finished before the kill: {states.get(victim)}")
            partial = os.path.join(run.metadata_path and os.path.dirname(
                run.metadata_path), "root", victim)
            step["partial_dirs"] = sorted(
                os.path.relpath(os.path.join(d, n), partial)
                for d, subdirs, _ in os.walk(partial) for n in subdirs
                if n.isdigit()) if os.path.isdir(partial) else []
        else:
            expect(outcome["exit_code"] == 0, f"the last run failed: {outcome['exit_code']}")
        if previous:  # The component killed last time reruns; everything before it is cached.
            for node in ORDER[:ORDER.index(previous)]:
                expect(states.get(node) == "CACHED",
                       f"run {index + 1}: {node} is {states.get(node)}, not CACHED")
            expect(states.get(previous) == "COMPLETE",
                   f"run {index + 1}: the killed {previous} is {states.get(previous)}")
            consumer, input_key, output_key = CONSUMED[previous]
            if consumer in run.nodes and run.nodes[consumer].inputs.get(input_key):
                used = run.nodes[consumer].inputs[input_key][0].uri
                made = run.artifact(previous, output_key).uri
                step["consumed"] = {"by": consumer, "uri": used, "made_this_run": used == made}
                expect(used == made, f"{consumer} read {used}, not the rerun's {made}")
        steps.append(step)
        previous = victim
        print(json.dumps(step), flush=True)

    reference = run_until(reference_dir, flags, None, 0,
                          os.path.join(args.work_dir, "reference.log"))
    resumed_accuracy = run_record.latest_run(make_config(output_dir=killed_dir)).test_metrics().get(
        "binary_accuracy")
    reference_accuracy = run_record.latest_run(make_config(
        output_dir=reference_dir)).test_metrics().get("binary_accuracy")
    expect(reference["exit_code"] == 0, "the reference run failed")
    expect(resumed_accuracy is not None and reference_accuracy is not None
           and abs(resumed_accuracy - reference_accuracy) <= args.tolerance,
           f"resumed accuracy {resumed_accuracy} vs reference {reference_accuracy}: more "
           f"than {args.tolerance} apart")
    summary = {"flags": flags, "steps": steps, "resumed_test_accuracy": resumed_accuracy,
               "reference_test_accuracy": reference_accuracy,
               "reference_seconds": round(reference["seconds"], 1), "failures": failures}
    print(json.dumps(summary, indent=1))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
