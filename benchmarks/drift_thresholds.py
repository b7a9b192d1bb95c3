"""The drift gate's thresholds from measured span-to-span variation, and each kind of drift caught.

The gate (`contract/data_profile.py`: `profile`, `breaches`) compares a new span with the data
the served model was trained on. Here the served side is one span of S reviews, split as the
pipeline splits it (md5 `hash_bucket(text) < eval_percent` is eval, the rest train). Its
vocabulary is the `--vocab-size` most frequent tokens of its train part (tokenized by
`contract.tokens.tokenize`; ties broken as TF Transform's top_k breaks them: larger count, then
larger token); its profile is the positive share and mean tokens of its train part, and the
share of tokens outside that vocabulary on its eval part (reviews the vocabulary was not built
from). The new span is profiled whole against the served vocabulary.

Undrifted: IMDB's train and test splits (TFDS on disk, no network) are each shuffled with a
fixed seed and cut into consecutive spans of S; every (span k served, span k+1 new) pair of a
split is compared. The same for a short-text set (each review cut to its first sentence, labels
kept, spans of `--short-size`). Drifted (served: the first train span; new spans of S, or as
many as there are, from the reviews after it):

  label     positive reviews only; 75 % positive
  length    first sentences against a full-review served model and full reviews against a
            first-sentence one; the longest and the shortest third of reviews (by tokens)
  domain    paragraphs of Python's documentation (`pydoc_data.topics`) with random labels at
            the served positive share; the same text joined into documents of the served
            mean length (only the vocabulary differs); a 30 % mix of each into a span

Prints a Markdown table (each statistic, and which thresholds fire today and under the
proposed ones) and the proposed thresholds: per statistic, the smallest round value at least
`--margin` times the largest undrifted change seen at any size.

    nice -n 10 .venv/bin/python benchmarks/drift_thresholds.py
    .venv/bin/python benchmarks/drift_thresholds.py --sizes 500 --max-pairs 10   # quick look
"""
import argparse
import os
import random
import re
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.machine import cpu_model  # noqa: E402
from components.tfds_example_gen import hash_bucket  # noqa: E402
from contract import data_profile  # noqa: E402
from contract.data_profile import DriftThresholds  # noqa: E402

STATISTICS = ("label", "length", "OOV")
# Candidate thresholds, smallest first: "round" values.
ROUND = (0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.12, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5,
         0.6, 0.8, 1.0)
_SENTENCE_END = re.compile(rb"[.!?](?=\s|<br)")


def first_sentence(text: bytes) -> bytes:
    """Up to and including the first ., ! or ? followed by whitespace or `<br`."""
    match = _SENTENCE_END.search(text)
    return text[:match.end()] if match else text


def load_imdb(data_dir: str, split: str, seed: int):
    import tensorflow_datasets as tfds

    texts, labels = tfds.as_numpy(tfds.load("imdb_reviews/plain_text", split=split,
                                            data_dir=data_dir, download=False,
                                            as_supervised=True, batch_size=-1))
    rows = [(bytes(t), int(y)) for t, y in zip(texts, labels)]  # UTF-8 bytes as stored.
    random.Random(seed).shuffle(rows)
    return rows


def pydoc_paragraphs():
    """{topic: its paragraphs} of the stdlib's pydoc topics: English, technical, offline."""
    from pydoc_data.topics import topics

    return {name: [p.strip().encode("utf-8") for p in re.split(r"\n\s*\n", topics[name])
                   if p.strip()] for name in sorted(topics)}


def python_docs(seed: int):
    """The pydoc paragraphs in a fixed shuffle."""
    paragraphs = [p for topic in pydoc_paragraphs().values() for p in topic]
    random.Random(seed).shuffle(paragraphs)
    return paragraphs


class Tokens:
    """Every text tokenized once (as Transform does), as arrays of global token ids."""

    def __init__(self):
        self.ids = {}  # token bytes -> id
        self.names = []  # id -> token bytes
        self.by_text = {}  # text bytes -> np.ndarray of ids

    def add(self, texts, batch: int = 1000):
        import tensorflow as tf

        from contract.tokens import tokenize

        todo = list(dict.fromkeys(t for t in texts if t not in self.by_text))
        for start in range(0, len(todo), batch):
            chunk = todo[start:start + batch]
            for text, tokens in zip(chunk, tokenize(tf.constant(chunk, tf.string)).to_list()):
                row = []
                for token in tokens:
                    if token not in self.ids:
                        self.ids[token] = len(self.names)
                        self.names.append(token)
                    row.append(self.ids[token])
                self.by_text[text] = np.array(row, np.int64)

    def length(self, text: bytes) -> int:
        return len(self.by_text[text])

    def vocabulary(self, texts, size: int):
        """The `size` most frequent tokens; ties as TF Transform's top_k (`Top.Of` over
        (count, token) pairs): larger count first, then the larger token."""
        counts = np.bincount(np.concatenate([self.by_text[t] for t in texts]),
                             minlength=len(self.names))
        present = np.nonzero(counts)[0]
        if len(present) > size:
            cut = np.sort(counts[present])[::-1][size - 1]
            above = present[counts[present] > cut]
            tied = sorted((self.names[i] for i in present[counts[present] == cut]),
                          reverse=True)[:size - len(above)]
            chosen = [self.names[i] for i in above] + tied
        else:
            chosen = [self.names[i] for i in present]
        return [token.decode("utf-8", "replace") for token in chosen]  # As read_vocabulary.


def served_side(rows, tokens: Tokens, vocab_size: int, eval_percent: int):
    """(profile, vocabulary) of a model trained on `rows` as the pipeline would split them."""
    train = [r for r in rows if hash_bucket(r[0]) >= eval_percent]
    evaluation = [r for r in rows if hash_bucket(r[0]) < eval_percent]
    vocabulary = tokens.vocabulary([t for t, _ in train], vocab_size)
    served = data_profile.profile([t for t, _ in train], [y for _, y in train], vocabulary)
    held_out = data_profile.profile([t for t, _ in evaluation], [y for _, y in evaluation],
                                    vocabulary)
    served["oov_share"] = held_out["oov_share"]  # On reviews the vocabulary never saw,
    served[data_profile.OOV_MEASURED_ON_KEY] = "eval"  # as trainer/export.py records it.
    return served, vocabulary


def changes(served, new):
    """(label shift, relative length change, OOV rise), as `breaches` computes them."""
    return (new["positive_share"] - served["positive_share"],
            new["mean_tokens"] / max(served["mean_tokens"], 1e-9) - 1,
            new["oov_share"] - served["oov_share"])


def fired(served, new, limits: DriftThresholds):
    lines = data_profile.breaches(served, new, limits)
    names = {"label balance": "label", "review length": "length", "vocabulary coverage": "OOV"}
    return [names[line.split(":")[0]] for line in lines]


def compare(served_rows, new_rows, tokens, args, served_cache=None):
    tokens.add([t for t, _ in served_rows] + [t for t, _ in new_rows])
    served, vocabulary = served_cache or served_side(served_rows, tokens, args.vocab_size,
                                                     args.eval_percent)
    new = data_profile.profile([t for t, _ in new_rows], [y for _, y in new_rows], vocabulary)
    return served, vocabulary, new


def joined_docs(seed: int, tokens: "Tokens", target: float):
    """Consecutive paragraphs of one pydoc topic joined into documents of about `target`
    tokens (a document is closed before a paragraph that would take it more than half that
    paragraph past the target): another domain at a review's length, so that only the
    vocabulary differs."""
    docs = []
    for paragraphs in pydoc_paragraphs().values():
        tokens.add(paragraphs)
        current, count = [], 0
        for paragraph in paragraphs:
            if current and count + tokens.length(paragraph) / 2 > target:
                docs.append(b"\n\n".join(current))  # Closer to target without it.
                current, count = [], 0
            current.append(paragraph)
            count += tokens.length(paragraph)
        if count >= target / 2:
            docs.append(b"\n\n".join(current))
    random.Random(seed).shuffle(docs)
    tokens.add(docs)
    return docs


def with_labels(texts, share: float, seed: int):
    """Random labels with exactly round(share * n) positives."""
    labels = [1] * round(share * len(texts)) + [0] * (len(texts) - round(share * len(texts)))
    random.Random(seed).shuffle(labels)
    return list(zip(texts, labels))


def pick(pool, count: int, keep):
    return [r for r in pool if keep(r)][:count]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tfds-data-dir", default=os.path.expanduser("~/tensorflow_datasets"))
    parser.add_argument("--sizes", default="500,2000,8000", help="Span sizes S (IMDB).")
    parser.add_argument("--short-size", type=int, default=3000,
                        help="Span size of the first-sentence set; 0 = leave it out.")
    parser.add_argument("--max-pairs", type=int, default=0,
                        help="Undrifted pairs per split and size; 0 = every consecutive pair.")
    parser.add_argument("--vocab-size", type=int, default=20000)
    parser.add_argument("--eval-percent", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--margin", type=float, default=1.5,
                        help="Proposed threshold >= margin x the largest undrifted change.")
    parser.add_argument("--today", default="0.10,0.30,0.05",
                        help="Today's --max-label-shift,--max-length-change,--max-oov-increase.")
    args = parser.parse_args(argv)
    start = time.time()
    today = DriftThresholds(*[float(v) for v in args.today.split(",")])

    splits = {name: load_imdb(args.tfds_data_dir, name, args.seed) for name in ("train", "test")}
    short = {name: [(first_sentence(t), y) for t, y in rows] for name, rows in splits.items()}
    docs = python_docs(args.seed)
    tokens = Tokens()
    for rows in list(splits.values()) + list(short.values()):
        tokens.add([t for t, _ in rows])
    tokens.add(docs + [first_sentence(d) for d in docs])
    lengths = np.array([tokens.length(t) for t, _ in splits["train"]])
    third_short, third_long = np.percentile(lengths, [100 / 3, 200 / 3])
    short_lengths = np.array([tokens.length(t) for t, _ in short["train"]])
    short_third_short, short_third_long = np.percentile(short_lengths, [100 / 3, 200 / 3])
    print(f"loaded and tokenized in {time.time() - start:.0f} s; {len(docs)} pydoc paragraphs",
          file=sys.stderr)

    datasets = [("IMDB", int(s), splits, docs, (third_short, third_long))
                for s in args.sizes.split(",")]
    if args.short_size:
        datasets.append(("IMDB first sentences", args.short_size, short,
                         [first_sentence(d) for d in docs], (short_third_short, short_third_long)))

    undrifted = []  # (dataset, size, [(label, length, oov) per pair])
    drifted = []  # (dataset, size, case, reviews, (label, length, oov), served, new)
    for name, size, data, domain, (low, high) in datasets:
        pairs = []
        for split, rows in data.items():
            spans = [rows[i * size:(i + 1) * size] for i in range(len(rows) // size)]
            count = len(spans) - 1 if not args.max_pairs else min(args.max_pairs, len(spans) - 1)
            for k in range(count):
                served, _, new = compare(spans[k], spans[k + 1], tokens, args)
                pairs.append((changes(served, new), served, new))
        undrifted.append((name, size, pairs))
        print(f"{name} S={size}: {len(pairs)} undrifted pairs, {time.time() - start:.0f} s",
              file=sys.stderr)

        rows = data["train"]
        served_rows, pool = rows[:size], rows[size:]
        cache = served_side(served_rows, tokens, args.vocab_size, args.eval_percent)
        share = cache[0]["positive_share"]
        docs_rows = with_labels(domain[:size], share, args.seed)
        kind = "paragraphs" if name == "IMDB" else "first sentences"
        mix = round(0.3 * size)
        cases = [
            ("label: positive only", pick(pool, size, lambda r: r[1] == 1)),
            ("label: 75 % positive", pick(pool, round(0.75 * size), lambda r: r[1] == 1)
             + pick(pool, size - round(0.75 * size), lambda r: r[1] == 0)),
            ("length: longest third", pick(pool, size,
                                           lambda r: tokens.length(r[0]) >= high)),
            ("length: shortest third", pick(pool, size,
                                            lambda r: tokens.length(r[0]) <= low)),
        ]
        if name == "IMDB":
            cases.append(("length: first sentences vs full-review model",
                          [(first_sentence(t), y) for t, y in pool[:size]]))
        else:  # The same reviews whole (the short set is aligned with IMDB's train split).
            cases.append(("length: full reviews vs first-sentence model",
                          splits["train"][size:2 * size]))
        cases += [
            (f"domain: Python docs ({kind})", docs_rows),
            (f"domain: 30 % Python docs ({kind})", pool[:size - mix]
             + with_labels(domain[:mix], share, args.seed + 1)),
        ]
        if name == "IMDB":  # The same domain at IMDB's review length: only vocabulary moves.
            long_docs = joined_docs(args.seed, tokens, cache[0]["mean_tokens"])
            long_mix = min(mix, len(long_docs))
            cases += [
                ("domain: Python docs at review length",
                 with_labels(long_docs[:size], share, args.seed)),
                ("domain: 30 % Python docs at review length",
                 pool[:round(long_mix * 0.7 / 0.3)]
                 + with_labels(long_docs[:long_mix], share, args.seed + 1)),
            ]
        for case, new_rows in cases:
            served, _, new = compare(served_rows, new_rows, tokens, args, served_cache=cache)
            drifted.append((name, size, case, len(new_rows), changes(served, new), served, new))
        if name == "IMDB":  # Full reviews against a model trained on first sentences.
            first_rows = [(first_sentence(t), y) for t, y in served_rows]
            served, _, new = compare(first_rows, pool[:size], tokens, args)
            drifted.append((name, size, "length: full reviews vs first-sentence model", size,
                            changes(served, new), served, new))
        print(f"{name} S={size}: drifted cases done, {time.time() - start:.0f} s",
              file=sys.stderr)

    # Proposed: per statistic the smallest round value >= margin x the largest undrifted change.
    worst = [max(abs(p[0][0]) for _, _, pairs in undrifted for p in pairs),
             max(abs(p[0][1]) for _, _, pairs in undrifted for p in pairs),
             max(p[0][2] for _, _, pairs in undrifted for p in pairs)]
    proposed = DriftThresholds(*[next(v for v in ROUND if v >= args.margin * w) for w in worst])

    def verdict(served, new, limits):
        return ", ".join(fired(served, new, limits)) or "passes"

    print("| data | S | case | reviews | label shift | length change | OOV rise (served → new) "
          "| today | proposed |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, size, pairs in undrifted:
        values = np.array([p[0] for p in pairs])
        served_oov = [p[1]["oov_share"] for p in pairs]
        for label, reduce in (("max", np.max), ("95th percentile", lambda v: np.percentile(v, 95))):
            stats = (reduce(np.abs(values[:, 0])), reduce(np.abs(values[:, 1])),
                     reduce(values[:, 2]))
            if label == "max":
                verdicts = []
                for limits in (today, proposed):
                    hits = [fired(p[1], p[2], limits) for p in pairs]
                    bad = sum(bool(h) for h in hits)
                    kinds = sorted({k for h in hits for k in h}, key=STATISTICS.index)
                    verdicts.append(f"{bad}/{len(pairs)} pairs fire"
                                    + (f" ({', '.join(kinds)})" if kinds else ""))
            else:
                verdicts = ["", ""]
            oov_range = (f" (served {min(served_oov):.1%}–{max(served_oov):.1%})"
                         if label == "max" else "")
            print(f"| {name} | {size:,} | undrifted: {label} of {len(pairs)} pairs | {size:,} | "
                  f"±{stats[0]:.3f} | ±{stats[1]:.1%} | {stats[2]:+.2%}{oov_range} | "
                  f"{verdicts[0]} | {verdicts[1]} |")
    for name, size, case, reviews, (shift, change, rise), served, new in drifted:
        print(f"| {name} | {size:,} | {case} | {reviews:,} | {shift:+.3f} | {change:+.1%} | "
              f"{rise:+.2%} ({served['oov_share']:.1%} → {new['oov_share']:.1%}) | "
              f"{verdict(served, new, today)} | {verdict(served, new, proposed)} |")

    print()
    print(f"Today: --max-label-shift {today.max_label_shift} --max-length-change "
          f"{today.max_length_change} --max-oov-increase {today.max_oov_increase}")
    print(f"Largest undrifted change at any size: label {worst[0]:.3f}, length {worst[1]:.1%}, "
          f"OOV rise {worst[2]:+.2%}")
    print(f"Proposed (smallest round value >= {args.margin}x that): --max-label-shift "
          f"{proposed.max_label_shift} --max-length-change {proposed.max_length_change} "
          f"--max-oov-increase {proposed.max_oov_increase}")
    for name, size, pairs in undrifted:
        per = [max(abs(p[0][0]) for p in pairs), max(abs(p[0][1]) for p in pairs),
               max(p[0][2] for p in pairs)]
        print(f"  {name} S={size:,}: largest undrifted label {per[0]:.3f}, length {per[1]:.1%}, "
              f"OOV rise {per[2]:+.2%}")
    statistic = {"label": 0, "length": 1, "domain": 2}  # The statistic meant to catch it.
    for name, size, case, _, stats, served, new in drifted:
        index = statistic[case.split(":")[0]]
        hits = fired(served, new, proposed)
        if STATISTICS[index] not in hits:
            print(f"  not caught by its own statistic under proposed: {name} S={size:,} {case} "
                  f"({STATISTICS[index]} {stats[index]:+.3f}; "
                  f"{'blocked by ' + ', '.join(hits) if hits else 'passes'})")
    print(f"CPU: {cpu_model()}; {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
