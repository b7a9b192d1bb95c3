"""DriftGate across runs: every span the served model has not learned is checked against a
yardstick measured the same way on both sides; verdicts last in the span ledger; the test set
is checked against the served model's whole lineage, on normalized text. No pipeline runs:
the served model is an export folder holding what the Trainer and Pusher write."""
import json
import os
import random

import pytest

from components import span_ledger
from components.drift import DriftError, check_drift
from contract import data_profile, review_hashes
from contract.names import SOURCE_FILE, SPAN_PROFILES_DIR, TEST_HASHES_FILE
from contract.review_files import ReviewFormat, read_reviews
from contract.tokens import tokenize
from pipeline.config import PipelineConfig
from tests.tiny_data import write_tiny_csv

FORMAT = ReviewFormat("text", "label", (), "auto")
_DEFAULTS = PipelineConfig()
LIMITS = data_profile.DriftThresholds(_DEFAULTS.max_label_shift, _DEFAULTS.max_length_change,
                                      _DEFAULTS.max_oov_increase)
WORDS = [f"word{i}" for i in range(20000)]


def sentences(seed: int, count: int, words=WORDS, length=(8, 30), positive=0.5):
    """Short reviews drawn from one Zipf-like vocabulary, so any two spans share most words
    but each holds rare ones the other lacks (as in real text)."""
    rng = random.Random(seed)
    weights = [1 / (rank + 1) for rank in range(len(words))]
    return [(" ".join(rng.choices(words, weights, k=rng.randint(*length))),
             int(rng.random() < positive)) for _ in range(count)]


def vocabulary_of(rows, size: int):
    from collections import Counter

    counts = Counter(t.decode() for t in tokenize([text.encode() for text, _ in rows])
                     .flat_values.numpy())
    return [word for word, _ in counts.most_common(size)]


def serve(serving_dir, version: int, train_rows, eval_rows, spans=(), yardstick="eval",
          vocab_size=20000):
    """A served version as the pipeline leaves it: profile, vocabulary, lineage."""
    export = os.path.join(serving_dir, str(version))
    os.makedirs(os.path.join(export, "assets.extra"))
    os.makedirs(os.path.join(export, "assets"))
    open(os.path.join(export, "saved_model.pb"), "wb").close()
    vocabulary = vocabulary_of(train_rows, vocab_size)
    with open(os.path.join(export, data_profile.VOCABULARY_FILE), "w") as out:
        out.write("\n".join(vocabulary) + "\n")
    texts = [t.encode() for t, _ in train_rows]
    profile = data_profile.profile(texts, [y for _, y in train_rows], vocabulary)
    if yardstick == "eval":
        profile["oov_share"] = data_profile.profile(
            [t.encode() for t, _ in eval_rows], [y for _, y in eval_rows],
            vocabulary)["oov_share"]
        profile[data_profile.OOV_MEASURED_ON_KEY] = "eval"
    with open(os.path.join(export, data_profile.PROFILE_FILE), "w") as out:
        json.dump(profile, out)
    review_hashes.write(export, review_hashes.hashes(texts + [t.encode() for t, _ in
                                                              eval_rows]))
    with open(os.path.join(export, SOURCE_FILE), "w") as out:
        json.dump({"model_uri": "m", "spans": [list(s) for s in spans]}, out)
    return export


def span_entry(tmp_path, span: int, rows, version=None):
    """A window entry, and the span's counts where FileExampleGen leaves them."""
    path = str(tmp_path / "data" / f"span-{span}" / "reviews.csv")
    write_tiny_csv(path, rows)
    profiles = tmp_path / "examples" / SPAN_PROFILES_DIR
    profiles.mkdir(parents=True, exist_ok=True)
    with open(profiles / f"span-{span}.json", "w") as out:
        json.dump(data_profile.count([t.encode() for t, _ in rows], [y for _, y in rows]), out)
    return {"span": span, "version": version, "files": [path]}


@pytest.fixture
def setup(tmp_path):
    """Span 1 served (90 % train / 10 % eval, as the pipeline splits it); a test file."""
    span1 = sentences(1, 1000)
    serving = str(tmp_path / "serving")
    serve(serving, 1, span1[:900], span1[900:], spans=[(1, None)])
    test = str(tmp_path / "data" / "test.csv")
    write_tiny_csv(test, sentences(99, 200))
    return {"serving": serving, "test": [test], "ledger": str(tmp_path / "ledger"),
            "span1": span1}


def gate(setup, window, action="block", **kwargs):
    """DriftGate's check, with the test file's hashes where FileExampleGen leaves them."""
    examples = os.path.join(os.path.dirname(setup["ledger"]), "examples")
    os.makedirs(examples, exist_ok=True)
    texts = [text for path in setup["test"] for text, _ in read_reviews(path, FORMAT)]
    review_hashes.write_file(review_hashes.hashes(texts),
                             os.path.join(examples, TEST_HASHES_FILE))
    return check_drift(window, examples, setup["serving"], LIMITS, action, setup["ledger"],
                       **kwargs)


@pytest.mark.parametrize("size", [300, 3000])
def test_an_undrifted_span_smaller_than_the_vocabulary_passes(setup, tmp_path, size):
    """Spans of a small data set: the served vocabulary holds every word of its training
    reviews, so measured on them its OOV share is 0 and every new span looked drifted."""
    window = [span_entry(tmp_path, 2, sentences(2, size))]
    result = gate(setup, window)
    assert [c["verdict"] for c in result["spans"]] == [span_ledger.PASSED]
    # The same spans against a profile measured on its training reviews: the old yardstick
    # blocks them, which is why a profile without "eval" has its OOV share not compared.
    served = dict(data_profile.read_profile(os.path.join(setup["serving"], "1")))
    trained_on = vocabulary_of(setup["span1"][:900], 20000)
    biased = data_profile.profile([t.encode() for t, _ in setup["span1"][:900]],
                                  [y for _, y in setup["span1"][:900]], trained_on)
    new = result["spans"][0]["profile"]
    assert biased["oov_share"] == 0.0 < new["oov_share"] - LIMITS.max_oov_increase
    assert data_profile.breaches({**served, "oov_share": 0.0}, new, LIMITS)[0].startswith(
        "vocabulary coverage")


@pytest.mark.parametrize("size", [200, 3000])
@pytest.mark.parametrize("kind, rows, words", [
    ("label", lambda n: sentences(3, n, positive=0.9), "label balance"),
    ("length", lambda n: sentences(3, n, length=(60, 90)), "review length"),
    ("vocabulary", lambda n: sentences(3, n, words=[f"other{i}" for i in range(3000)]),
     "vocabulary coverage"),
])
def test_each_kind_of_drift_blocks_and_is_recorded(setup, tmp_path, kind, rows, words, size):
    window = [span_entry(tmp_path, 2, rows(size))]
    with pytest.raises(DriftError, match=words) as raised:
        gate(setup, window)
    assert "--accept-span 2" in str(raised.value)
    recorded = span_ledger.read(setup["ledger"])[(2, None)]
    assert recorded["verdict"] == span_ledger.BLOCKED and words in recorded["breaches"][0]
    # --drift-action warn trains anyway, and says so in the ledger.
    assert gate(setup, window, "warn")["spans"][0]["verdict"] == span_ledger.WARNED
    assert span_ledger.read(setup["ledger"])[(2, None)]["verdict"] == span_ledger.WARNED


def test_every_span_the_served_model_has_not_learned_is_checked(setup, tmp_path):
    """Window [2, 3] against a model trained on span 1: span 2 drifted, span 3 did not; the
    old gate looked at span 3 only."""
    window = [span_entry(tmp_path, 2, sentences(3, 800, positive=0.95)),
              span_entry(tmp_path, 3, sentences(4, 800))]
    with pytest.raises(DriftError, match="span 2: label balance"):
        gate(setup, window)
    verdicts = {k[0]: v["verdict"] for k, v in span_ledger.read(setup["ledger"]).items()}
    assert verdicts == {2: span_ledger.BLOCKED, 3: span_ledger.PASSED}
    # Served trained on spans 1 and 2 (it learned span 2 already): only span 3 is checked.
    serve(setup["serving"], 2, setup["span1"][:900], setup["span1"][900:],
          spans=[(1, None), (2, None)])
    assert [c["span"] for c in gate(setup, window)["spans"]] == [3]


def test_accepted_spans_are_not_blocked(setup, tmp_path):
    window = [span_entry(tmp_path, 2, sentences(3, 800, positive=0.95))]
    result = gate(setup, window, accepted=[2])
    assert result["spans"][0]["verdict"] == span_ledger.ACCEPTED
    assert span_ledger.blocked_spans(setup["ledger"], {2: None}) == {}


def test_test_reviews_the_served_lineage_learned_are_refused(setup, tmp_path):
    """A test file that repeats span-1 reviews with other case, CRLF and markup: the window
    (span 2) does not hold them, the served model learned them."""
    copies = [(text.upper().replace(" ", "\r\n", 1) + "<br />", label)
              for text, label in setup["span1"][:3]]
    write_tiny_csv(setup["test"][0], sentences(99, 50) + copies)
    window = [span_entry(tmp_path, 2, sentences(2, 300))]
    with pytest.raises(DriftError, match="3 test reviews repeat reviews that served version 1"):
        gate(setup, window)
    assert gate(setup, window, test_overlap="warn")["test_shared_with_served"] == 3


def test_no_served_model_checks_nothing_and_blocks_nothing(tmp_path):
    setup = {"serving": str(tmp_path / "none"), "test": [], "ledger": str(tmp_path / "l")}
    window = [span_entry(tmp_path, 1, sentences(1, 50, positive=1.0))]
    result = gate(setup, window)
    assert result["verdict"] == "no served model yet"
    assert result["spans"][0]["verdict"] == span_ledger.UNCHECKED


def test_the_drift_check_compares_with_the_version_a_stable_label_names(setup, tmp_path):
    from google.protobuf import text_format

    from serving.models_config import model_server_config

    # Version 2 (newest, no traffic) learned span 2; the stable version 1 did not.
    serve(setup["serving"], 2, setup["span1"][:900], setup["span1"][900:],
          spans=[(1, None), (2, None)])
    config = str(tmp_path / "models.config")
    with open(config, "w") as out:
        out.write(text_format.MessageToString(model_server_config(
            "imdb", "/models/imdb", stable_version=1)))
    window = [span_entry(tmp_path, 2, sentences(2, 300))]
    assert gate(setup, window)["spans"] == []  # Against the newest: nothing new.
    labelled = gate(setup, window, models_config=config, model_name="imdb")
    assert labelled["served_version"] == 1 and [c["span"] for c in labelled["spans"]] == [2]
