"""Continuous training on tiny CSV spans, as a user lives with it: span 1, span 2 with a window
of 2 and warm start, a drifted span 3 blocked before Transform, span 4 whose window of 2 leaves
the blocked span out, a rerun with nothing changed (a cache hit), and a changed test file
(evaluated again). Real local pipeline runs (about 5 minutes); every other own-data test uses
components alone."""
import os

import pytest
import tensorflow as tf

from cli import main as cli
from components import span_ledger
from tests.tiny_data import tiny_csv_reviews, write_tiny_csv, write_tiny_spans


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_glove_path):
    from pipeline.config import make_config
    from reports import run_record

    root = tmp_path_factory.mktemp("ct")
    layout = write_tiny_spans(str(root / "reviews"), spans=2, per_span=100, test=40)
    out = str(root / "out")
    flags = ["--preset", "smoke", "--output-dir", out, "--glove-path", tiny_glove_path,
             "--input-pattern", layout["input_pattern"], "--test-pattern",
             layout["test_pattern"], "--label-values", "negative,positive", "--tuning", "fixed",
             "--max-len", "24", "--ngram-vocab-size", "0", "--warmup-reviews", "2",
             "--min-accuracy", "0", "--max-accuracy-drop", "1", "--warm-start"]
    config = make_config(output_dir=out)
    done = {}
    for name, extra in (("span1", ["--span", "1"]), ("span2", ["--span", "2", "--window", "2"])):
        assert cli.main(["run", *flags, *extra]) == 0, name
        done[name] = run_record.latest_run(config)
    # A third span whose reviews are all positive: an upstream filter gone wrong.
    drifted = [(text, 1) for text, label in tiny_csv_reviews("span-3", 100) if label == 1]
    write_tiny_csv(os.path.join(str(root / "reviews"), "span-3", "reviews.csv"), drifted,
                   ("negative", "positive"))
    done["drift_exit_code"] = cli.main(["run", *flags, "--span", "3", "--window", "2"])
    done["after_drift"] = run_record.latest_run(config)
    # Span 4, like spans 1-2: its window of 2 must not take the blocked span 3 back in.
    write_tiny_csv(os.path.join(str(root / "reviews"), "span-4", "reviews.csv"),
                   tiny_csv_reviews("span-4", 100), ("negative", "positive"))
    span4 = ["run", *flags, "--span", "4", "--window", "2"]
    assert cli.main(span4) == 0
    done["span4"] = run_record.latest_run(config)
    assert cli.main(span4) == 0
    done["rerun"] = run_record.latest_run(config)
    # Ten test reviews removed: the same flags must score the new test set.
    test_file = layout["test_pattern"].replace("*", "reviews")
    with open(test_file, encoding="utf-8", newline="") as f:
        lines = f.read().split("\r\n")
    with open(test_file, "w", encoding="utf-8", newline="") as f:
        f.write("\r\n".join(lines[:-11] + [""]))
    assert cli.main(span4) == 0
    done["new_test"] = run_record.latest_run(config)
    own = make_config(output_dir=out, input_pattern=layout["input_pattern"],
                      test_pattern=layout["test_pattern"])
    done["ledger"] = span_ledger.read(own.span_ledger_dir)
    from reports import html_report

    done["span4_html"] = html_report.build_html(done["span4"], own)
    return layout, done


def test_each_run_reads_its_span_and_window(runs):
    layout, done = runs
    rows = layout["rows"]
    assert done["span1"].spans() == {"span": 1, "window": [1]}
    assert done["span2"].spans() == {"span": 2, "window": [1, 2]}
    counts = done["span2"].split_counts()
    assert counts["train"] + counts["eval"] == len(rows[1]) + len(rows[2])
    # Transform (and so the Trainer) read both spans' train split.
    transformed = done["span2"].artifact("Transform", "transformed_examples").uri
    files = tf.io.gfile.glob(os.path.join(transformed, "Split-train", "*"))
    records = sum(1 for _ in tf.data.TFRecordDataset(files, compression_type="GZIP"))
    assert records == counts["train"]


def test_the_second_run_starts_from_the_served_model(runs):
    _, done = runs
    first = done["span1"].training_summary()["warm_start"]
    assert first == {"used": False, "reason": "no served model yet (first run)"}
    second = done["span2"].training_summary()["warm_start"]
    assert second["used"] and second["embedding_rows_mapped"] > 0
    base = done["span2"].artifact("WarmStartModel", "model")
    served_first = int(done["span1"].push_status().split("version ")[1].split()[0])
    assert base.custom_properties["served_version"].int_value == served_first
    assert done["span2"].pushed_destination


def test_a_drifted_span_is_blocked_before_transform(runs):
    _, done = runs
    assert done["drift_exit_code"] == 1
    blocked = done["after_drift"]
    assert blocked.nodes["DriftGate"].state != "COMPLETE"
    assert "Transform" not in blocked.nodes or blocked.nodes["Transform"].state == "CACHED"
    assert blocked.pushed_destination is None


def test_a_blocked_span_stays_out_and_the_next_span_trains(runs):
    layout, done = runs
    assert done["ledger"][(3, None)]["verdict"] == span_ledger.BLOCKED
    assert "label balance" in done["ledger"][(3, None)]["breaches"][0]
    span4 = done["span4"]
    assert span4.spans() == {"span": 4, "window": [2, 4]}
    assert list(span4.skipped_spans()) == [3]
    counts = span4.split_counts()
    assert counts["train"] + counts["eval"] == len(layout["rows"][2]) + len(
        tiny_csv_reviews("span-4", 100))
    # The served model (span 2's) learned spans 1 and 2: only span 4 is new to it.
    drift = span4.drift()
    assert [entry["span"] for entry in drift["spans"]] == [4]
    assert drift["spans"][0]["verdict"] == span_ledger.PASSED
    assert done["ledger"][(4, None)]["verdict"] == span_ledger.PASSED
    text = report_text(span4, done["ledger"])
    assert "span 3 left out of the window" in text and "span 3 blocked" in text
    page = done["span4_html"]
    assert 'data-key="span_verdict:3">blocked<' in page
    assert 'data-key="span_verdict:4">passed<' in page and 'data-key="skipped:3"' in page


def test_a_rerun_is_cached_and_a_changed_test_file_is_scored_again(runs):
    _, done = runs
    rerun = done["rerun"]
    # DriftGate alone runs again: span 4's model is served now, a new yardstick (it has learned
    # every span of the window, so there is nothing to check); the rest is a cache hit.
    states = {n.node: n.state for n in rerun.nodes.values()}
    assert states.pop("DriftGate") == "COMPLETE" and set(states.values()) == {"CACHED"}, states
    assert rerun.drift()["verdict"] == "no new span"
    assert rerun.pushed_version is None or "cached" in rerun.push_status()
    before = done["span4"].split_counts()["test"]
    new = done["new_test"]
    assert new.nodes["FileExampleGen"].state == "COMPLETE"
    assert new.nodes["Evaluator"].state == "COMPLETE"
    assert new.split_counts()["test"] == before - 10
    assert int(new.test_metrics()["example_count"]) == before - 10


def report_text(run, ledger=None) -> str:
    from reports import report

    return report.format_report(run, None, ledger)
