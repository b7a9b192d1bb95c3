"""Training curves as a PNG, for people rather than for TensorBoard."""
from typing import Dict, List

import tensorflow as tf


def plot_history(histories: List[Dict[str, List[float]]], path: str) -> None:
    """Loss and accuracy per epoch, train and eval, one line pair per trained model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    metrics = [m for m in ("loss", "accuracy") if m in histories[0]]
    figure, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.8))
    for axis, metric in zip(list(axes) if len(metrics) > 1 else [axes], metrics):
        for index, history in enumerate(histories):
            member = f" (model {index + 1})" if len(histories) > 1 else ""
            epochs = range(1, len(history[metric]) + 1)
            axis.plot(epochs, history[metric], "o-", label="train" + member)
            if f"val_{metric}" in history:
                axis.plot(epochs, history[f"val_{metric}"], "s--", label="eval" + member)
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        axis.set_title(metric)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    with tf.io.gfile.GFile(path, "wb") as out:
        figure.savefig(out, format="png", dpi=110)
    plt.close(figure)
