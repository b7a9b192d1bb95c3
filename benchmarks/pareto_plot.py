"""Test accuracy against pipeline wall time for the measured variants (benchmarks/results.json),
with the Pareto front: what each extra minute buys. Writes docs/pareto.png for docs/results.md.

    .venv/bin/python benchmarks/pareto_plot.py [--results benchmarks/results.json] \\
        [--out docs/pareto.png]
"""
import argparse
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def pareto_front(points):
    """Points no other point beats on both time (lower) and accuracy (higher), by time."""
    front, best = [], -1.0
    for seconds, accuracy, name in sorted(points):
        if accuracy > best:
            front.append((seconds, accuracy, name))
            best = accuracy
    return front


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default=os.path.join(HERE, "results.json"))
    parser.add_argument("--out", default=os.path.join(HERE, "..", "docs", "pareto.png"))
    args = parser.parse_args(argv)
    with open(args.results) as source:
        results = json.load(source)
    points = [(v["pipeline_seconds"] / 60, v["test_accuracy"], v["name"])
              for v in results["variants"] if v.get("pipeline_seconds") and v.get("plot", True)]
    figure, axis = plt.subplots(figsize=(8, 4.8))
    for minutes, accuracy, name in points:
        axis.plot(minutes, accuracy, "o", color="tab:blue")
        axis.annotate(name, (minutes, accuracy), textcoords="offset points", xytext=(6, 4),
                      fontsize=8)
    front = pareto_front(points)
    axis.plot([p[0] for p in front], [p[1] for p in front], "--", color="tab:orange",
              label="Pareto front")
    axis.set_xlim(0, max(p[0] for p in points) * 1.45)  # Room for the labels.
    # At least two points of accuracy on the axis: a difference far below the seed-to-seed
    # spread must not look like a slope.
    low, high = min(p[1] for p in points), max(p[1] for p in points)
    middle, half = (low + high) / 2, max((high - low) / 2 * 1.3, 0.01)
    axis.set_ylim(middle - half, middle + half)
    axis.set_xlabel("wall time (minutes)")
    axis.set_ylabel("test accuracy (official 25k IMDB test split)")
    axis.set_title(results["machine"], fontsize=9)
    axis.grid(alpha=0.3)
    axis.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(args.out, dpi=110)
    print(args.out)
    return args.out


if __name__ == "__main__":
    main()
