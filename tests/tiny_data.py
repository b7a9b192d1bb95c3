"""Tiny stand-ins for IMDB and GloVe that tests write themselves (no network, no real data)."""
import random

import numpy as np
import tensorflow_datasets as tfds

POSITIVE = ["great", "wonderful", "excellent", "loved", "best", "brilliant", "moving"]
NEGATIVE = ["awful", "terrible", "boring", "worst", "waste", "dull", "hated"]
NEUTRAL = ["the", "movie", "film", "plot", "actors", "a", "was", "and", "story", "it"]
TINY_DATASET = "tiny_imdb/plain_text"


def synthetic_review(rng: random.Random, label: int) -> str:
    """A review whose sentiment words mostly agree with `label`, with IMDB-style noise."""
    major, minor = (POSITIVE, NEGATIVE) if label else (NEGATIVE, POSITIVE)
    words = ([rng.choice(NEUTRAL) for _ in range(rng.randint(4, 30))]
             + [rng.choice(major) for _ in range(rng.randint(2, 5))]
             + [rng.choice(minor) for _ in range(rng.randint(0, 1))])
    rng.shuffle(words)
    words[0] = words[0].capitalize()
    return " ".join(words) + rng.choice([".", "!", "<br /><br />Really.", "?!"])


class TinyImdb(tfds.core.GeneratorBasedBuilder):
    """Same features and splits as imdb_reviews/plain_text, a few hundred reviews."""

    VERSION = tfds.core.Version("1.0.0")
    BUILDER_CONFIGS = [tfds.core.BuilderConfig(name="plain_text")]
    NUM_EXAMPLES = {"train": 240, "test": 80, "unsupervised": 120}

    def _info(self):
        return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
            "text": tfds.features.Text(), "label": tfds.features.ClassLabel(num_classes=2)}),
            supervised_keys=("text", "label"))

    def _split_generators(self, dl_manager):
        return {split: self._generate_examples(split, count)
                for split, count in self.NUM_EXAMPLES.items()}

    def _generate_examples(self, split, count):
        rng = random.Random(f"{split}-seed")
        for index in range(count):
            label = -1 if split == "unsupervised" else tiny_label(index)  # As in IMDB.
            yield f"{split}-{index}", {"text": tiny_text(rng, index), "label": label}


# Reviews whose bytes a careless reader changes: non-ASCII, quotes, backslashes (also ones that
# look like escapes), IMDB's markup, a newline, and an empty review. Every split starts with
# them; `{}` is a sentiment word that agrees with the review's position parity.
EDGE_REVIEWS = (
    "Risqué, naïve and {}: the Amélie of — ★★★★ — 日本 films.",
    'He said "{}" and I said \'it was {}\', didn\'t I?',
    "A back\\slash, a \\n, \\x41 and \\xc3\\xa9 in a {} film (C:\\path\\).",
    "{}<br /><br />Really {}.<br />",
    "",
    "Line one was {}.\nLine two\ttoo; b'{}' tf.Tensor(x)",
)


def tiny_text(rng: random.Random, index: int) -> str:
    if index < len(EDGE_REVIEWS):
        word = (POSITIVE if index % 2 else NEGATIVE)[index]
        return EDGE_REVIEWS[index].replace("{}", word)
    return synthetic_review(rng, index % 2)


def tiny_label(index: int) -> int:
    """Every 10th label contradicts its text, so no model can reach 100% test accuracy."""
    label = index % 2
    return 1 - label if index % 10 == 3 else label


def build_tiny_tfds(data_dir: str) -> str:
    builder = tfds.builder(TINY_DATASET, data_dir=data_dir)
    builder.download_and_prepare()
    return TINY_DATASET


def write_tiny_glove(path: str, dimension: int = 8, extra_words=("unrelated", "zebra")) -> dict:
    """A GloVe-format text file covering the synthetic vocabulary (minus a few words)."""
    rng = np.random.default_rng(0)
    words = list(dict.fromkeys(POSITIVE + NEGATIVE + NEUTRAL[:-2] + list(extra_words) + ["."]))
    vectors = {w: rng.normal(size=dimension).astype(np.float32).round(5) for w in words}
    with open(path, "w", encoding="utf-8") as out:
        for word, vector in vectors.items():
            out.write(word + " " + " ".join(f"{v:.5f}" for v in vector) + "\n")
    return vectors


def tiny_csv_reviews(name: str, count: int, edges: bool = True):
    """(review, label) rows for a tiny CSV file, the non-empty edge reviews first (or none:
    they are the same in every file)."""
    rng = random.Random(f"csv-{name}")
    rows = [(tiny_text(rng, index) if edges else synthetic_review(rng, index % 2),
             tiny_label(index)) for index in range(count)]
    return [(text, label) for text, label in rows if text]


def write_tiny_csv(path: str, rows, label_names=("0", "1"), columns=("text", "label")) -> None:
    import csv
    import os

    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        writer.writerows((text, label_names[label]) for text, label in rows)


def write_tiny_spans(root: str, spans: int = 2, per_span: int = 120, test: int = 80,
                     label_names=("negative", "positive")) -> dict:
    """<root>/span-<n>/reviews.csv for n = 1..spans and <root>/test/reviews.csv; returns the
    patterns and the rows written."""
    import os

    written = {}
    for span in range(1, spans + 1):
        written[span] = tiny_csv_reviews(f"span-{span}", per_span)
        write_tiny_csv(os.path.join(root, f"span-{span}", "reviews.csv"), written[span],
                       label_names)
    written["test"] = tiny_csv_reviews("test", test, edges=False)
    write_tiny_csv(os.path.join(root, "test", "reviews.csv"), written["test"], label_names)
    return {"input_pattern": os.path.join(root, "span-{SPAN}", "*.csv"),
            "test_pattern": os.path.join(root, "test", "*.csv"), "rows": written}
