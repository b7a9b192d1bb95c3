"""Which Tuner objective predicts the finished model? Learning curves of a grid of the search
space, each trained to completion the way the Trainer trains (its epochs, LR cuts, best-epoch
and weight-averaging rules), scored against candidate objectives on data that is not `test`.

Data: a run's Transform output. `validation` = the run's `eval` split plus the training reviews
whose md5 bucket is below `--validation-percent` (exactly what `--eval-percent` of that value
would hold out); the models train on the rest. Every checkpoint's predictions on `validation`
are kept, so each objective (accuracy after 1/4, 1/2, 1, 2 ... epochs; successive halving over
those curves) can be scored on the run's own `eval` reviews or on all of `validation`, and its
rank correlation with the finished models' accuracy computed, with the cost in seconds.
Noise: bootstrap standard errors of one model's accuracy and of two models' difference, and
the spread of one configuration over seeds.

    .venv/bin/python benchmarks/tuner_objectives.py train --output-dir pipeline_output \\
        --work-dir bench/tuner            # resumable: finished runs are kept in --work-dir
    .venv/bin/python benchmarks/tuner_objectives.py analyse --work-dir bench/tuner
"""
import argparse
import glob
import hashlib
import itertools
import json
import os
import sys
import time
from typing import Dict, List

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# (units, dropout): the default search space's corners and middle.
GRID = [(64, 0.3), (64, 0.2), (64, 0.4), (32, 0.2), (32, 0.3), (32, 0.4)]
CHECKPOINTS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0)  # In epochs of `train`.


def _bucket(text: bytes) -> int:  # components/tfds_example_gen.py:hash_bucket
    return int.from_bytes(hashlib.md5(text).digest()[:8], "little") % 100


def prepare_data(output_dir: str, work_dir: str, validation_percent: int) -> Dict[str, str]:
    """Transformed records re-split into train / validation_eval / validation_extra files."""
    import tensorflow as tf

    from reports import run_record
    from pipeline.config import make_config
    from trainer import preprocessing

    paths = {name: os.path.join(work_dir, "data", f"{name}.gz")
             for name in ("train", "validation_eval", "validation_extra")}
    run = run_record.latest_run(make_config(output_dir=output_dir))
    transformed = run.artifact("Transform", "transformed_examples").uri
    graph = run.artifact("Transform", "transform_graph").uri
    with open(os.path.join(work_dir, "source.json"), "w") as out:
        json.dump({"output_dir": output_dir, "transform_graph": graph,
                   "validation_percent": validation_percent}, out)
    if all(os.path.exists(p) for p in paths.values()):
        return {**paths, "transform_graph": graph}
    os.makedirs(os.path.dirname(paths["train"]), exist_ok=True)
    spec = {preprocessing.REVIEW_FEATURE: tf.io.FixedLenFeature([], tf.string)}
    writers = {name: tf.io.TFRecordWriter(path + ".tmp", options="GZIP")
               for name, path in paths.items()}
    for split in ("train", "eval"):
        files = glob.glob(os.path.join(transformed, f"Split-{split}", "*.gz"))
        for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
            if split == "eval":
                writers["validation_eval"].write(record.numpy())
                continue
            review = tf.io.parse_single_example(record, spec)[preprocessing.REVIEW_FEATURE]
            held_out = _bucket(review.numpy()) < validation_percent
            writers["validation_extra" if held_out else "train"].write(record.numpy())
    for name, writer in writers.items():
        writer.close()
        os.rename(paths[name] + ".tmp", paths[name])
    return {**paths, "transform_graph": graph}


def train_one(paths: Dict[str, str], units: int, dropout: float, seed: int,
              out_path: str) -> dict:
    """One configuration trained like the Trainer, with predictions at every checkpoint."""
    import tensorflow as tf
    import tensorflow_transform as tft

    from pipeline.config import make_config
    from trainer import data, training
    from contract.settings import TrainerSettings
    from trainer_throughput import _FnArgs

    config = make_config(units=units, dropout=dropout, seed=seed)
    settings = TrainerSettings.from_custom_config(config.trainer_config())
    tft_output = tft.TFTransformOutput(paths["transform_graph"])
    fn_args = _FnArgs(os.path.dirname(paths["train"]))
    matrix, rows, _ = training.embedding_for(tft_output, settings.glove_path,
                                             settings.num_oov_buckets)
    import trainer.models as models

    def dataset(files, repeat):
        return data.make_dataset(fn_args, files, tft_output, settings.label_feature,
                                 settings.batch_size, repeat, settings.length_buckets, seed)

    validation_parts = [dataset([paths["validation_eval"]], False),
                        dataset([paths["validation_extra"]], False)]
    labels = np.concatenate([np.concatenate([y.numpy() for _, y in part])
                             for part in validation_parts]).ravel()
    eval_rows = sum(int(tf.shape(y)[0]) for _, y in validation_parts[0])
    steps = int(np.ceil(data.count_records(paths["train"]) / settings.batch_size))

    def predict(model):
        return np.concatenate([model.predict(part, verbose=0).ravel()
                               for part in validation_parts])

    class Curve(tf.keras.callbacks.Callback):
        """Predictions on validation at CHECKPOINTS; the seconds of training up to each
        (Keras' own epoch-end validation passes included, these predictions excluded)."""

        def __init__(self):
            super().__init__()
            self.points, self.epoch, self.start, self.excluded = [], 0, 0.0, 0.0
            self.predict_seconds = []
            self.pending = set(CHECKPOINTS)

        def on_train_begin(self, logs=None):
            self.start = time.perf_counter()

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def _record(self, at: float):
            seconds = time.perf_counter() - self.start - self.excluded
            begin = time.perf_counter()
            probabilities = predict(self.model)
            self.predict_seconds.append(time.perf_counter() - begin)
            self.excluded += self.predict_seconds[-1]
            self.points.append({"epochs": at, "seconds": seconds,
                                "probabilities": probabilities})
            print(f"  {at:.2f} epochs, {seconds:.0f} s: validation "
                  f"{np.mean((probabilities > 0.5) == labels):.4f}", flush=True)

        def on_train_batch_end(self, batch, logs=None):
            at = self.epoch + (batch + 1) / steps
            due = [c for c in self.pending if c < self.epoch + 1 and at >= c]
            if due:
                self.pending.difference_update(due)
                self._record(max(due))

        def on_epoch_end(self, epoch, logs=None):
            self.pending.discard(float(epoch + 1))
            self._record(float(epoch + 1))

    tf.keras.utils.set_random_seed(seed)
    model = models.build_model(config.model_hparams(), rows, matrix)
    curve = Curve()
    evaluation = dataset([paths["validation_eval"], paths["validation_extra"]], False)
    started = time.perf_counter()
    run = training.fit_with_callbacks(model, dataset([paths["train"]], True), evaluation, steps,
                                      settings, os.path.join(os.path.dirname(out_path), "tb"),
                                      extra_callbacks=[curve])
    wall = time.perf_counter() - started
    final = predict(model)
    np.savez_compressed(out_path + ".npz", labels=labels, final=final,
                        **{f"at_{p['epochs']:.2f}": p["probabilities"] for p in curve.points})
    result = {"units": units, "dropout": dropout, "seed": seed, "eval_rows": eval_rows,
              "validation_rows": int(len(labels)), "train_steps_per_epoch": steps,
              "wall_seconds": wall, "best_epoch": run["best_epoch"],
              "weight_averaging": run["weight_averaging"],
              "predict_seconds_mean": float(np.mean(curve.predict_seconds)),
              "checkpoints": [{"epochs": p["epochs"], "seconds": p["seconds"]}
                              for p in curve.points]}
    with open(out_path + ".json", "w") as out:
        json.dump(result, out, indent=1, default=float)
    return result


def _runs(work_dir: str) -> List[dict]:
    runs = []
    for path in sorted(glob.glob(os.path.join(work_dir, "runs", "*.json"))):
        with open(path) as handle:
            run = json.load(handle)
        arrays = np.load(path[:-5] + ".npz")
        run["labels"], run["final"] = arrays["labels"], arrays["final"]
        run["at"] = {float(k[3:]): arrays[k] for k in arrays.files if k.startswith("at_")}
        runs.append(run)
    return runs


def _accuracy(probabilities, labels, rows=slice(None)) -> float:
    return float(np.mean((probabilities[rows] > 0.5) == labels[rows]))


def _neg_log_loss(probabilities, labels, rows=slice(None)) -> float:
    """Minus the binary cross-entropy (higher is better, like accuracy)."""
    p = np.clip(probabilities[rows], 1e-7, 1 - 1e-7)
    y = labels[rows]
    return float(np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _spearman(a, b) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).correlation)


def _train_seconds(run: dict, epochs: float) -> float:
    if not epochs:
        return 0.0
    return min(run["checkpoints"], key=lambda p: abs(p["epochs"] - epochs))["seconds"]


def _scoring_seconds(run: dict) -> float:
    """One prediction pass over the `eval` reviews (what a trial's score costs)."""
    return run["predict_seconds_mean"] * run["eval_rows"] / run["validation_rows"]


def _seconds_to(run: dict, epochs: float) -> float:
    """What a trial of `epochs` costs: its training up to there, plus one scoring pass."""
    return _train_seconds(run, epochs) + _scoring_seconds(run)


def successive_halving(runs: List[dict], rungs, keep, score_rows) -> tuple:
    """Idealized successive halving over recorded curves: all at rungs[0], the best `keep[i]`
    continue to rungs[i + 1] (training on, not restarting); (pick, seconds)."""
    alive, seconds, previous = list(range(len(runs))), 0.0, 0.0
    for index, rung in enumerate(rungs):
        seconds += sum(_train_seconds(runs[i], rung) - _train_seconds(runs[i], previous)
                       + _scoring_seconds(runs[i]) for i in alive)
        scores = {i: _accuracy(runs[i]["at"][rung], runs[i]["labels"], score_rows)
                  for i in alive}
        alive = sorted(alive, key=lambda i: -scores[i])[:keep[index] if index < len(keep)
                                                         else 1]
        previous = rung
    return alive[0], seconds


def analyse(work_dir: str) -> dict:
    from machine import cpu_model

    runs = _runs(work_dir)
    grid = [r for r in runs if r["seed"] == 42]
    labels = grid[0]["labels"]
    eval_rows = slice(0, grid[0]["eval_rows"])
    final = [_accuracy(r["final"], labels) for r in grid]
    best_final = max(final)
    names = [f"{r['units']}u/d{r['dropout']}" for r in grid]
    table = []

    def add(name, picks_scores, seconds):
        scores = picks_scores
        pick = int(np.argmax(scores))
        table.append({"objective": name, "spearman_vs_final": round(_spearman(scores, final), 3)
                      if len(set(scores)) > 1 else None, "pick": names[pick],
                      "pick_final": round(final[pick], 4),
                      "regret": round(best_final - final[pick], 4),
                      "seconds_all_configs": round(seconds)})

    for epochs in CHECKPOINTS:
        for where, rows in (("eval", eval_rows), ("validation", slice(None))):
            if all(epochs in r["at"] for r in grid):
                add(f"{epochs:g} epoch(s), scored on {where}",
                    [_accuracy(r["at"][epochs], labels, rows) for r in grid],
                    sum(_seconds_to(r, epochs) for r in grid))
                add(f"{epochs:g} epoch(s), log loss on {where}",
                    [_neg_log_loss(r["at"][epochs], labels, rows) for r in grid],
                    sum(_seconds_to(r, epochs) for r in grid))
    for rungs, keep in (((0.25, 1.0), (2,)), ((0.5, 1.5), (2,)), ((0.25, 0.75, 2.0), (3, 1)),
                        ((0.5, 1.0, 2.0), (3, 1))):
        for where, rows in (("eval", eval_rows), ("validation", slice(None))):
            if all(all(g in r["at"] for g in rungs) for r in grid):
                pick, seconds = successive_halving(grid, rungs, keep, rows)
                scores = [0.0] * len(grid)
                scores[pick] = 1.0
                add(f"successive halving {'->'.join(f'{g:g}' for g in rungs)} "
                    f"(keep {keep}), on {where}", scores, seconds)
                table[-1]["spearman_vs_final"] = None
    default = [r for r in runs if (r["units"], r["dropout"]) == (64, 0.3)]
    rng = np.random.default_rng(0)
    boot = rng.integers(0, len(labels), size=(1000, len(labels)))
    boot_eval = rng.integers(0, grid[0]["eval_rows"], size=(1000, grid[0]["eval_rows"]))
    correct = [(r["final"] > 0.5) == labels for r in grid]
    pairs = [np.std(correct[a][boot].mean(1) - correct[b][boot].mean(1))
             for a, b in itertools.combinations(range(len(grid)), 2)]
    pairs_eval = [np.std(correct[a][:grid[0]["eval_rows"]][boot_eval].mean(1)
                         - correct[b][:grid[0]["eval_rows"]][boot_eval].mean(1))
                  for a, b in itertools.combinations(range(len(grid)), 2)]
    noise = {
        "se_accuracy_validation": float(np.std(correct[0][boot].mean(1))),
        "se_accuracy_eval": float(np.std(correct[0][:grid[0]["eval_rows"]][boot_eval].mean(1))),
        "se_paired_difference_validation_median": float(np.median(pairs)),
        "se_paired_difference_eval_median": float(np.median(pairs_eval)),
        "default_over_seeds": {r["seed"]: round(_accuracy(r["final"], labels), 4)
                               for r in default},
        "default_over_seeds_on_eval": {r["seed"]: round(_accuracy(r["final"], labels,
                                                                  eval_rows), 4)
                                       for r in default},
        # The objective's own seed noise next to its spread across the grid, per checkpoint.
        "checkpoint_seed_spread_vs_grid_spread": {
            f"{epochs:g}": {"seeds": [round(_accuracy(r["at"][epochs], labels), 4)
                                      for r in default if epochs in r["at"]],
                            "grid_min_max": [round(min(s), 4), round(max(s), 4)]}
            for epochs in CHECKPOINTS if all(epochs in r["at"] for r in grid)
            for s in [[_accuracy(r["at"][epochs], labels) for r in grid]]},
    }
    result = {"cpu": cpu_model(), "cores": os.cpu_count(),
              "validation_rows": len(labels), "eval_rows": grid[0]["eval_rows"],
              "final_validation_accuracy": dict(zip(names, [round(f, 4) for f in final])),
              "final_eval_accuracy": dict(zip(names, [round(_accuracy(r["final"], labels,
                                                                      eval_rows), 4)
                                                      for r in grid])),
              "wall_seconds": dict(zip(names, [round(r["wall_seconds"]) for r in grid])),
              "best_epoch": dict(zip(names, [r["best_epoch"] for r in grid])),
              "noise": noise, "objectives": table}
    print(json.dumps(result, indent=1))
    print(f"\n{'objective':58} {'rho':>6} {'pick':>9} {'final':>7} {'regret':>7} {'s (6)':>6}")
    for row in table:
        rho = "" if row["spearman_vs_final"] is None else f"{row['spearman_vs_final']:.2f}"
        print(f"{row['objective']:58} {rho:>6} {row['pick']:>9} {row['pick_final']:7.4f} "
              f"{row['regret']:7.4f} {row['seconds_all_configs']:6d}")
    with open(os.path.join(work_dir, "analysis.json"), "w") as out:
        json.dump(result, out, indent=1)
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("train", "analyse"))
    parser.add_argument("--output-dir", default="pipeline_output")
    parser.add_argument("--work-dir", default=os.path.join("bench", "tuner"))
    parser.add_argument("--validation-percent", type=int, default=20)
    parser.add_argument("--extra-seeds", type=int, default=1,
                        help="More seeds of the default configuration (64 units, dropout 0.3).")
    args = parser.parse_args(argv)
    if args.command == "analyse":
        analyse(args.work_dir)
        return
    os.makedirs(os.path.join(args.work_dir, "runs"), exist_ok=True)
    paths = prepare_data(args.output_dir, args.work_dir, args.validation_percent)
    jobs = [(u, d, 42) for u, d in GRID] + [(64, 0.3, 43 + i) for i in range(args.extra_seeds)]
    jobs = jobs[:1] + jobs[-args.extra_seeds:] + jobs[1:len(GRID)] if args.extra_seeds else jobs
    for units, dropout, seed in jobs:
        out = os.path.join(args.work_dir, "runs", f"u{units}_d{dropout}_s{seed}")
        if os.path.exists(out + ".json"):
            continue
        print(f"units {units}, dropout {dropout}, seed {seed}", flush=True)
        result = train_one(paths, units, dropout, seed, out)
        print(json.dumps({k: v for k, v in result.items() if k != "checkpoints"},
                         default=float), flush=True)


if __name__ == "__main__":
    main()
