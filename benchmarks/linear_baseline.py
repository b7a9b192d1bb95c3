"""The linear baseline a practitioner tries first: NBSVM-style logistic regression.

Naive-Bayes log-count ratios scale binarized word n-grams, then an L2 logistic regression
(Wang & Manning 2012). Same TFDS data as the pipeline: fitted on the pipeline's `train` split,
its C chosen on the pipeline's `eval` split (the same md5 hash split as TfdsExampleGen), scored
once on the official 25k `test` split. Tokens come from the pipeline's own `normalize`.

    .venv/bin/python benchmarks/linear_baseline.py --ngrams 3
    .venv/bin/python benchmarks/linear_baseline.py --ngrams 2 --max-features 200000
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import tensorflow_datasets as tfds
from scipy import sparse

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from components.tfds_example_gen import hash_bucket  # noqa: E402
from trainer import preprocessing  # noqa: E402
from trainer.wide import nb_ratios  # noqa: E402  (the pipeline's own NB weighting)


def load_texts(data_dir: str, split: str):
    dataset = tfds.load("imdb_reviews/plain_text", split=split, data_dir=data_dir)
    texts, labels = [], []
    for batch in dataset.batch(1000):
        normalized = preprocessing.normalize(batch["text"]).numpy()
        texts.extend(t.decode("utf-8") for t in normalized)
        labels.extend(batch["label"].numpy().tolist())
    return texts, np.array(labels)


def main(argv=None) -> dict:
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tfds-data-dir", default=os.path.expanduser("~/tensorflow_datasets"))
    parser.add_argument("--ngrams", type=int, default=3, help="Longest n-gram.")
    parser.add_argument("--max-features", type=int, default=0, help="0 = every n-gram.")
    parser.add_argument("--eval-percent", type=int, default=10)
    parser.add_argument("--c", default="0.1,0.3,1,3", help="C values tried on eval.")
    args = parser.parse_args(argv)

    start = time.time()
    texts, labels = load_texts(args.tfds_data_dir, "train")
    test_texts, test_labels = load_texts(args.tfds_data_dir, "test")
    raw_texts, _ = tfds.as_numpy(tfds.load("imdb_reviews/plain_text", split="train",
                                           data_dir=args.tfds_data_dir, as_supervised=True,
                                           batch_size=-1))
    is_eval = np.array([hash_bucket(t) < args.eval_percent for t in raw_texts])  # As ExampleGen.
    loaded = time.time()

    vectorizer = CountVectorizer(ngram_range=(1, args.ngrams), binary=True,
                                 token_pattern=r"\S+", lowercase=False,
                                 max_features=args.max_features or None)
    train_x = vectorizer.fit_transform([t for t, e in zip(texts, is_eval) if not e])
    train_y = labels[~is_eval]
    ratios = nb_ratios(train_x, train_y)
    scale = sparse.diags(ratios)
    eval_x = vectorizer.transform([t for t, e in zip(texts, is_eval) if e]) @ scale
    eval_y = labels[is_eval]
    train_x = train_x @ scale
    scores = {}
    for c in [float(v) for v in args.c.split(",")]:
        model = LogisticRegression(C=c, max_iter=1000, solver="liblinear")
        model.fit(train_x, train_y)
        scores[c] = float(model.score(eval_x, eval_y))
    best_c = max(scores, key=scores.get)  # Chosen on eval, never on test.
    model = LogisticRegression(C=best_c, max_iter=1000, solver="liblinear").fit(train_x, train_y)
    test_accuracy = float(model.score(vectorizer.transform(test_texts) @ scale, test_labels))
    result = {"ngrams": args.ngrams, "features": len(vectorizer.vocabulary_),
              "eval_accuracy_by_c": scores, "c": best_c, "test_accuracy": test_accuracy,
              "train_reviews": int(train_x.shape[0]), "eval_reviews": int(eval_x.shape[0]),
              "seconds_fit": round(time.time() - loaded, 1),
              "seconds_total": round(time.time() - start, 1)}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
