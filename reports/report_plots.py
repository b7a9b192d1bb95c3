"""The HTML report's charts, as PNG bytes ready to embed (the page loads nothing else)."""
import io
import os
import tempfile
from typing import Callable, List, Sequence

import numpy as np
import tensorflow as tf

from reports.report_data import Bucket, CalibrationBin

EXECUTED, CACHED, OTHER = "tab:blue", "tab:gray", "tab:red"


def short_value(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(figure) -> bytes:
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    _pyplot().close(figure)
    return buffer.getvalue()


def via_file(write: Callable[[str], None]) -> bytes:
    """PNG bytes from an existing plotter that writes to a path (plot_trials,
    trainer.plots.plot_history)."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "plot.png")
        write(path)
        with open(path, "rb") as handle:
            return handle.read()


def timeline(names: Sequence[str], starts: Sequence[float], seconds: Sequence[float],
             states: Sequence[str]) -> bytes:
    """Gantt chart of the components: when each ran, how long, executed or cached."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(9, 0.35 * len(names) + 1.2))
    colors = [EXECUTED if s == "COMPLETE" else CACHED if s == "CACHED" else OTHER
              for s in states]
    rows = range(len(names))[::-1]
    axis.barh(rows, [max(s, 0.2) for s in seconds], left=starts, color=colors)
    total = max(a + b for a, b in zip(starts, seconds)) if names else 1.0
    for row, start, length, state in zip(rows, starts, seconds, states):
        axis.text(start + max(length, 0.2) + total * 0.005, row,
                  f"{length:.1f} s" + (" (cached)" if state == "CACHED" else ""),
                  va="center", fontsize=8)
    axis.set_yticks(list(rows))
    axis.set_yticklabels(names, fontsize=8)
    axis.set_xlim(0, total * 1.18)
    axis.set_xlabel("seconds since the run started")
    axis.set_title("Components: blue executed, gray cached, red other")
    axis.grid(axis="x", alpha=0.3)
    return _png(figure)


def length_histogram(lengths: np.ndarray, max_len: int) -> bytes:
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(8, 3.2))
    axis.hist(lengths, bins=min(60, max(5, len(np.unique(lengths)))), color="tab:blue")
    axis.axvline(max_len, color="tab:red", linestyle="--", label=f"--max-len {max_len}")
    axis.set_xlabel("tokens per review (before truncation)")
    axis.set_ylabel("reviews")
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    return _png(figure)


def confusion(matrix: np.ndarray) -> bytes:
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(3.8, 3.3))
    axis.imshow(matrix, cmap="Blues")
    for (row, column), value in np.ndenumerate(matrix):
        axis.text(column, row, str(value), ha="center", va="center",
                  color="white" if value > matrix.max() / 2 else "black", fontsize=12)
    axis.set_xticks([0, 1], ["negative", "positive"])
    axis.set_yticks([0, 1], ["negative", "positive"])
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    return _png(figure)


def length_accuracy(buckets: List[Bucket]) -> bytes:
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(7, 3.2))
    axis.bar(range(len(buckets)), [b.accuracy for b in buckets], color="tab:blue")
    for index, bucket in enumerate(buckets):
        axis.text(index, bucket.accuracy, f"{bucket.accuracy:.3f}\n(n={bucket.count})",
                  ha="center", va="bottom", fontsize=8)
    axis.set_xticks(range(len(buckets)), [b.label for b in buckets])
    axis.set_ylim(0, 1.15)
    axis.set_xlabel("tokens per review")
    axis.set_ylabel("accuracy")
    axis.grid(axis="y", alpha=0.3)
    return _png(figure)


def reliability(bins: List[CalibrationBin]) -> bytes:
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(4.6, 4.2))
    axis.plot([0, 1], [0, 1], ":", color="gray", label="perfectly calibrated")
    axis.plot([b.mean_probability for b in bins], [b.positive_rate for b in bins], "o-",
              color="tab:blue", label="model")
    for b in bins:
        axis.annotate(str(b.count), (b.mean_probability, b.positive_rate), fontsize=7,
                      textcoords="offset points", xytext=(4, -10))
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1)
    axis.set_xlabel("predicted P(positive), bin mean")
    axis.set_ylabel("share of positive reviews")
    axis.legend(fontsize=8, loc="upper left")
    axis.grid(alpha=0.3)
    return _png(figure)


def _trial_labels(trials: List[dict]) -> List[str]:
    """'#id name=value ...' with only the hyperparameters that vary between trials."""
    names = [k for k in trials[0] if k not in ("trial_id", "score")]
    varying = [n for n in names if len({str(t.get(n)) for t in trials}) > 1] or names
    return [f"#{t['trial_id']} " + " ".join(f"{n}={short_value(t.get(n))}" for n in varying)
            for t in trials]


def plot_trials(trials: List[dict], path: str, objective: str = "eval-split accuracy") -> None:
    """Bar chart of every trial's eval accuracy, best on top, so the spread is visible."""
    plt = _pyplot()
    ordered = sorted(trials, key=lambda t: t["score"])
    scores = [t["score"] for t in ordered]
    figure, axis = plt.subplots(figsize=(9, 0.45 * len(ordered) + 1.4))
    colors = ["tab:orange" if t is ordered[-1] else "tab:blue" for t in ordered]
    axis.barh(range(len(ordered)), scores, color=colors)
    axis.set_yticks(range(len(ordered)))
    axis.set_yticklabels(_trial_labels(ordered), fontsize=8)
    margin = max(max(scores) - min(scores), 0.01)
    axis.set_xlim(max(0.0, min(scores) - margin), max(scores) + 0.25 * margin)
    for index, score in enumerate(scores):
        axis.text(score, index, f" {score:.4f}", va="center", fontsize=8)
    axis.set_xlabel(f"Tuner objective: {objective}", fontsize=8)
    axis.set_title(f"Tuner trials ({len(ordered)}), best in orange")
    axis.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    with tf.io.gfile.GFile(path, "wb") as out:
        figure.savefig(out, format="png", dpi=110)
    plt.close(figure)
