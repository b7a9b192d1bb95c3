"""A data set in the few numbers that show drift in review text, and the comparison rule.

Each exported model carries the profile of the reviews it was trained on
(`<export>/assets.extra/data_profile.json`); before training on a new span, the pipeline's
DriftGate profiles the span against that model's own vocabulary (`<export>/assets/vocab`) and
compares. Per-review statistics are the point: every review is unique, so a drift comparator
over the raw text feature itself (TFDV's L-infinity on its values) would say nothing.
"""
import dataclasses
import json
import os
from typing import Any, Dict, Iterable, List, Optional, Sequence

PROFILE_FILE = os.path.join("assets.extra", "data_profile.json")  # In an export.
VOCABULARY_FILE = os.path.join("assets", "vocab")  # Transform's word vocabulary in an export.
TRANSFORM_GRAPH_KEY = "transform_graph"  # In a profile: the TransformGraph URI trained on.
# In a profile: the reviews its oov_share was measured on ("eval": reviews the vocabulary was
# not built from, like a new span's). Profiles without it measured it on the training reviews,
# where it is 0 by construction for small data: their OOV share is not compared.
OOV_MEASURED_ON_KEY = "oov_measured_on"
_BATCH = 1024
DRIFT_ACTIONS = ("block", "warn", "off")  # What a breach does (--drift-action).


@dataclasses.dataclass(frozen=True)
class DriftThresholds:
    max_label_shift: float  # Largest |change| of the share of positive reviews.
    max_length_change: float  # Largest relative change of the mean review length in tokens.
    max_oov_increase: float  # Largest rise of the share of tokens outside the vocabulary.


def count(texts: Sequence[bytes], labels: Sequence[int]) -> Dict[str, Any]:
    """What a profile is made of, in a form that adds up over batches (`merge`): reviews,
    positive, length_histogram {tokens: reviews}, token_counts {token: occurrences}; tokenized as
    Transform tokenizes."""
    from collections import Counter

    from contract.tokens import tokenize

    lengths: Counter = Counter()
    tokens: Counter = Counter()
    for start in range(0, len(texts), _BATCH):
        import tensorflow as tf

        batch = tokenize(tf.constant(list(texts[start:start + _BATCH]), tf.string))
        lengths.update(batch.row_lengths().numpy().tolist())
        # Counted in TF, so Python touches each distinct token of the batch once.
        unique, _, counts = tf.unique_with_counts(batch.flat_values)
        for token, count in zip(unique.numpy(), counts.numpy().tolist()):
            tokens[token.decode("utf-8", "replace")] += count
    return {"reviews": len(texts), "positive": int(sum(labels)),
            "length_histogram": dict(lengths), "token_counts": dict(tokens)}


def merge(parts: Iterable[Dict[str, Any]]) -> Dict[str, Any]:
    from collections import Counter

    total = {"reviews": 0, "positive": 0}
    lengths: Counter = Counter()
    tokens: Counter = Counter()
    for part in parts:
        total["reviews"] += part["reviews"]
        total["positive"] += part["positive"]
        lengths.update({int(k): v for k, v in part["length_histogram"].items()})
        tokens.update(part["token_counts"])
    return {**total, "length_histogram": dict(lengths), "token_counts": dict(tokens)}


def profile_of(counts: Dict[str, Any], vocabulary: Iterable[str]) -> Dict[str, float]:
    """reviews, positive_share, mean_tokens, median_tokens and oov_share (the share of tokens
    not in `vocabulary`) from `count`'s result."""
    known = set(vocabulary)
    reviews = counts["reviews"]
    histogram = sorted((int(k), v) for k, v in counts["length_histogram"].items())
    total_tokens = sum(length * n for length, n in histogram)
    median, seen = 0.0, 0
    for length, n in histogram:  # The middle review's length (the mean of the middle two).
        low = seen < (reviews + 1) // 2 <= seen + n
        high = seen < reviews // 2 + 1 <= seen + n
        median += (length if low else 0) + (length if high else 0)
        seen += n
    inside = sum(n for token, n in counts["token_counts"].items() if token in known)
    return {"reviews": reviews, "positive_share": counts["positive"] / reviews if reviews else 0.0,
            "mean_tokens": total_tokens / reviews if reviews else 0.0,
            "median_tokens": median / 2, "oov_share": 1 - inside / max(total_tokens, 1)}


def profile(texts: Sequence[bytes], labels: Sequence[int],
            vocabulary: Iterable[str]) -> Dict[str, float]:
    """The profile of labelled reviews (see `profile_of`)."""
    return profile_of(count(texts, labels), vocabulary)


def breaches(served: Dict[str, float], new: Dict[str, float],
             limits: DriftThresholds) -> List[str]:
    """One line per statistic beyond its threshold, naming both values and the threshold."""
    found = []
    shift = new["positive_share"] - served["positive_share"]
    if abs(shift) > limits.max_label_shift:
        found.append(f"label balance: {new['positive_share']:.1%} positive vs "
                     f"{served['positive_share']:.1%} in the served model's training data "
                     f"(change {shift:+.1%}, threshold ±{limits.max_label_shift:.1%}, "
                     "--max-label-shift)")
    change = new["mean_tokens"] / max(served["mean_tokens"], 1e-9) - 1
    if abs(change) > limits.max_length_change:
        found.append(f"review length: {new['mean_tokens']:.1f} tokens on average vs "
                     f"{served['mean_tokens']:.1f} (change {change:+.1%}, threshold "
                     f"±{limits.max_length_change:.1%}, --max-length-change)")
    rise = new["oov_share"] - served["oov_share"]
    if served.get(OOV_MEASURED_ON_KEY) == "eval" and rise > limits.max_oov_increase:
        found.append(f"vocabulary coverage: {new['oov_share']:.1%} of tokens outside the "
                     f"served model's vocabulary vs {served['oov_share']:.1%} on its eval "
                     f"reviews (rise "
                     f"{rise:+.1%}, threshold +{limits.max_oov_increase:.1%}, "
                     "--max-oov-increase)")
    return found


def read_profile(export_dir: str) -> Optional[Dict[str, float]]:
    import tensorflow as tf

    path = os.path.join(export_dir, PROFILE_FILE)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


def read_vocabulary(export_dir: str) -> List[str]:
    import tensorflow as tf

    with tf.io.gfile.GFile(os.path.join(export_dir, VOCABULARY_FILE), "rb") as f:
        return [line.rstrip(b"\n").decode("utf-8", "replace") for line in f]
