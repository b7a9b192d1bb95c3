"""Guards against training/serving skew: the text the model learns from must be what a client
sends, and the export's two ways in (serialized Examples, raw text) must agree on it.

A model trained on the printed form of a value (`tf.Tensor(b"...", shape=(), dtype=string)`,
`b'...'`, Python's `\\xNN` escapes of non-ASCII bytes) scores real clients' plain text
differently. Every signature runs the same Transform graph, so nothing downstream notices:
these checks read the stored Examples themselves.

- `printed_form`: why one review looks printed rather than written (None if it does not).
- `refuse_printed` / `check_texts`: refuse reviews of which more than `MAX_PRINTED_FRACTION`
  look printed (TfdsExampleGen counts them in what it writes, before any expensive work).
- `check_serving_skew`: on a sample of stored `eval` Examples, the texts pass `check_texts`
  and the export's `serving_raw_text` on each review's text gives the same probability as its
  `serving_default` on the stored Example (the Evaluator runs it before TFMA, so a skewed
  model is never blessed).
"""
import logging
from typing import Dict, List, Sequence

import numpy as np
import tensorflow as tf

from contract import signatures as sig
from contract import review_text
from contract.errors import UserError

# The rule lives in contract/ so that the user's review files are held to it too.
MAX_PRINTED_FRACTION = review_text.MAX_PRINTED_FRACTION
printed_form = review_text.printed_form
SAMPLE_SIZE = 256
# Both signatures run the same graph on the same bytes: only float noise may differ.
PROBABILITY_TOLERANCE = 1e-5


class SkewError(UserError, RuntimeError):
    """The training data or the export would make training and serving see different text."""


def refuse_printed(printed: int, total: int, where: str, what: str = "printed values") -> None:
    """Raises SkewError when more than MAX_PRINTED_FRACTION of `total` reviews look printed."""
    if review_text.too_many_printed(printed, total):
        raise SkewError(
            f"{printed} of {total} reviews in {where} look like {what}, not the text a client "
            "sends: the data was written with str() of a value instead of its bytes; fix the "
            "writer and rerun from the ExampleGen.")


def check_texts(texts: Sequence[bytes], where: str) -> Dict[str, int]:
    """`refuse_printed` on a sample of texts, naming the first printed one."""
    printed = [(text, reason) for text in texts for reason in [printed_form(text)] if reason]
    if printed:
        text, reason = printed[0]
        refuse_printed(len(printed), len(texts), where, f"{reason} (e.g. {text[:90]!r})")
    return {"reviews_checked": len(texts), "reviews_looking_printed": len(printed)}


def _text_of(example: tf.train.Example, label_feature: str) -> bytes:
    """The one string feature of a raw Example besides the label (the serving contract)."""
    texts = {name: feature.bytes_list.value for name, feature in example.features.feature.items()
             if name != label_feature and feature.WhichOneof("kind") == "bytes_list"}
    if len(texts) != 1 or len(next(iter(texts.values()))) != 1:
        raise SkewError(f"an eval Example must hold one text feature besides "
                        f"{label_feature!r}; it holds {sorted(texts)}")
    return next(iter(texts.values()))[0]


def read_examples(files: Sequence[str], count: int) -> List[bytes]:
    dataset = tf.data.TFRecordDataset(list(files), compression_type="GZIP").take(count)
    return [record.numpy() for record in dataset]


def check_serving_skew(serialized: Sequence[bytes], model_dir: str,
                       label_feature: str) -> Dict[str, float]:
    """Runs both checks on `serialized` raw Examples against the export in `model_dir`."""
    if not serialized:
        raise SkewError("no eval Examples to check the export against")
    texts = [_text_of(tf.train.Example.FromString(s), label_feature) for s in serialized]
    summary = check_texts(texts, "the stored eval split")
    model = tf.saved_model.load(model_dir)
    from_examples = model.signatures[sig.EXAMPLES_SIGNATURE](
        **{sig.EXAMPLES_INPUT: tf.constant(list(serialized))})[sig.EXAMPLES_OUTPUT]
    from_text = model.signatures[sig.RAW_TEXT_SIGNATURE](
        **{sig.RAW_TEXT_INPUT: tf.constant(texts)})[sig.RAW_TEXT_OUTPUT]
    difference = np.abs(np.ravel(from_examples.numpy()) - np.ravel(from_text.numpy()))
    worst = int(np.argmax(difference))
    if difference[worst] > PROBABILITY_TOLERANCE:
        raise SkewError(
            f"the export scores the same review differently through {sig.EXAMPLES_SIGNATURE!r} "
            f"(stored Example) and {sig.RAW_TEXT_SIGNATURE!r} (its text): "
            f"{float(np.ravel(from_examples)[worst]):.6f} vs "
            f"{float(np.ravel(from_text)[worst]):.6f} on {texts[worst][:90]!r}; the two "
            "signatures must parse and transform the text the same way.")
    summary = {**summary, "max_probability_difference": float(difference.max())}
    logging.info("Training/serving skew check passed: %s", summary)
    return summary
