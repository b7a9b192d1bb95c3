"""How often the Evaluator's rules bless an equivalent model, and a worse one, on IMDB.

Trains one configuration with several seeds and one deliberately worse variant, each a whole
`imdb-pipeline run` into one output dir (the data nodes come from the cache; `--min-accuracy 1`
so nothing is pushed and every run is scored alone), scores the official test split with each
exported model, and gates every model against every other as the served one:

  point rule     candidate accuracy >= served accuracy (the gate before: --max-accuracy-drop 0
                 on point estimates)
  interval rule  lower end of the 95 % paired bootstrap interval of candidate - served
                 >= -margin (components/gate_metrics.py; the pipeline's default margin)

on all test reviews and on random subsets of 1,000 and 5,000 (a user's smaller test set).
Nothing is chosen on test: the test split is only what the gate looks at.

    .venv/bin/python benchmarks/gate_noise.py --work-dir gate-noise
"""
import argparse
import itertools
import json
import os
import shlex
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.machine import cpu_model  # noqa: E402
from components import gate_metrics  # noqa: E402
from pipeline.config import make_config  # noqa: E402
from reports import report_data  # noqa: E402
from reports import run_record  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def train(work: str, name: str, flags: str) -> dict:
    """One pipeline run; the test split scored with its model (cached in <work>/<name>.npz)."""
    scores = os.path.join(work, f"{name}.npz")
    out = os.path.join(work, "pipeline")
    if not os.path.exists(scores):
        command = [sys.executable, "-m", "cli.main", "run", "--output-dir", out,
                   "--min-accuracy", "1", *shlex.split(flags)]
        start = time.time()
        with open(os.path.join(work, f"{name}.log"), "w") as log:
            subprocess.run(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, check=True)
        run = run_record.latest_run(make_config(output_dir=out))
        model_dir = os.path.join(run.artifact("Trainer", "model").uri, "Format-Serving")
        config = make_config()
        scored = report_data.predict_split(
            model_dir, report_data.split_files(run.examples().uri, "test"),
            config.text_feature, config.label_feature)
        np.savez(scores, labels=scored.labels, probabilities=scored.probabilities,
                 seconds=time.time() - start,
                 evaluator_seconds=run.nodes["Evaluator"].seconds)
    found = np.load(scores)
    return {"labels": found["labels"].astype(float), "scores": found["probabilities"],
            "seconds": float(found["seconds"]),
            "evaluator_seconds": float(found["evaluator_seconds"])}


def rules(labels, candidate, served, margin: float, samples: int, seed: int) -> tuple:
    point = np.mean((candidate > 0.5) == labels) >= np.mean((served > 0.5) == labels)
    paired = gate_metrics.paired_intervals(labels, candidate, served, samples=samples,
                                           seed=seed)
    return bool(point), paired[gate_metrics.NON_INFERIORITY] >= -margin - 1e-10, paired


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--flags", default="--tuning fixed --epochs 3",
                        help="The configuration trained with each seed.")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--worse", default="--epochs 1 --wide-c-values 0.01",
                        help="Added to --flags for the deliberately worse model.")
    parser.add_argument("--subsets", type=int, default=100,
                        help="Random test subsets per size and pair.")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    args = parser.parse_args(argv)
    work = os.path.abspath(args.work_dir)
    os.makedirs(work, exist_ok=True)
    margin = make_config().max_accuracy_drop
    models = {f"seed {s}": train(work, f"seed{s}", f"{args.flags} --seed {s}")
              for s in args.seeds}
    models["worse"] = train(work, "worse", f"{args.flags} {args.worse} --seed {args.seeds[0]}")
    labels = models[f"seed {args.seeds[0]}"]["labels"]
    for name, model in models.items():
        assert np.array_equal(model["labels"], labels), name
        print(json.dumps({"model": name, "test_accuracy": round(float(np.mean(
            (model["scores"] > 0.5) == labels)), 4), "run_seconds": round(model["seconds"]),
            "evaluator_seconds": round(model["evaluator_seconds"], 1)}), flush=True)

    kinds = {"equivalent": [(a, b) for a, b in itertools.permutations(models, 2)
                            if "worse" not in (a, b)],
             "worse candidate": [("worse", b) for b in models if b != "worse"],
             "better candidate": [(a, "worse") for a in models if a != "worse"]}
    rng = np.random.default_rng(0)
    table = []
    for kind, pairs in kinds.items():
        full = [rules(labels, models[a]["scores"], models[b]["scores"], margin, 1000, 0)
                for a, b in pairs]
        row = {"pairs": kind, "n_pairs": len(pairs), "test_reviews": len(labels),
               "point_blessed": sum(f[0] for f in full) / len(full),
               "interval_blessed": sum(f[1] for f in full) / len(full),
               "difference": [round(f[2][gate_metrics.ACCURACY_DIFF], 4) for f in full],
               "interval": [[round(f[2][gate_metrics.lower(gate_metrics.ACCURACY_DIFF)], 4),
                             round(f[2][gate_metrics.upper(gate_metrics.ACCURACY_DIFF)], 4)]
                            for f in full],
               "churn": [round(f[2][gate_metrics.FLIP_RATE], 4) for f in full]}
        print(json.dumps(row), flush=True)
        table.append(row)
        for size in args.sizes:
            point = interval = 0
            for a, b in pairs:
                for index in range(args.subsets):
                    pick = rng.choice(len(labels), size, replace=False)
                    p, i, _ = rules(labels[pick], models[a]["scores"][pick],
                                    models[b]["scores"][pick], margin, 500, index)
                    point, interval = point + p, interval + i
            trials = len(pairs) * args.subsets
            row = {"pairs": kind, "n_pairs": len(pairs), "test_reviews": size,
                   "subsets": trials, "point_blessed": round(point / trials, 3),
                   "interval_blessed": round(interval / trials, 3)}
            print(json.dumps(row), flush=True)
            table.append(row)
    print(json.dumps({"cpu": cpu_model(), "cores": os.cpu_count(), "margin": margin,
                      "flags": args.flags, "worse": args.worse}))


if __name__ == "__main__":
    main()
