"""Own data (--input-pattern): reading CSV/TFRecord reviews, spans and windows, and every bad
input refused in one line before any component runs."""
import csv
import os

import pytest
import tensorflow as tf

from cli import main as cli
from components import spans
from components.file_example_gen import FileInputSettings, check_input
from contract.review_files import InputDataError, ReviewFormat, read_reviews
from tests.tiny_data import EDGE_REVIEWS, write_tiny_csv, write_tiny_spans

CSV_FORMAT = ReviewFormat("text", "label", ("negative", "positive"), "auto")


def settings(layout, **changes) -> FileInputSettings:
    values = dict(train_pattern=layout["input_pattern"], test_pattern=layout["test_pattern"],
                  text_feature="text", label_feature="label",
                  label_values=("negative", "positive"), input_format="auto", window=1,
                  eval_percent=10, ledger_dir=str(layout.get("ledger", "")),
                  accepted_spans=(), test_overlap="block")
    return FileInputSettings(**{**values, **changes})


@pytest.fixture
def layout(tmp_path):
    return write_tiny_spans(str(tmp_path / "data"), spans=3, per_span=40, test=20)


def test_csv_rows_come_back_byte_for_byte(tmp_path):
    """Quoted commas, quotes, newlines and tabs inside fields, non-ASCII, backslashes."""
    rows = [(text.replace("{}", "great"), index % 2)
            for index, text in enumerate(EDGE_REVIEWS) if text]
    # Among ordinary reviews: alone, the one quoting escapes would make the file look printed.
    rows += [(f"An ordinary review, number {index}.", index % 2) for index in range(10)]
    path = str(tmp_path / "r.csv")
    write_tiny_csv(path, rows, ("negative", "positive"))
    assert list(read_reviews(path, CSV_FORMAT)) == [(t.encode("utf-8"), y) for t, y in rows]


def test_tfrecord_rows_and_01_labels(tmp_path):
    path = str(tmp_path / "r.tfrecord.gz")
    with tf.io.TFRecordWriter(path, "GZIP") as writer:
        for text, label in [("Great film, I said.", 1), ("Dull.\nVery dull.", 0)]:
            writer.write(tf.train.Example(features=tf.train.Features(feature={
                "review": tf.train.Feature(bytes_list=tf.train.BytesList(
                    value=[text.encode()])),
                "y": tf.train.Feature(int64_list=tf.train.Int64List(value=[label]))})
            ).SerializeToString())
    got = list(read_reviews(path, ReviewFormat("review", "y", (), "auto")))
    assert got == [(b"Great film, I said.", 1), (b"Dull.\nVery dull.", 0)]


def test_spans_versions_and_window(tmp_path):
    for span, version in [(1, 1), (2, 1), (2, 2), (3, 1)]:
        folder = tmp_path / f"span-{span}" / f"v{version}"
        folder.mkdir(parents=True)
        (folder / "a.csv").write_text("text,label\nok,1\n")
    pattern = str(tmp_path / "span-{SPAN}" / "v{VERSION}" / "*.csv")
    found = spans.files_by_span(pattern)
    assert sorted(found) == [1, 2, 3] and sorted(found[2]) == [1, 2]
    assert spans.newest_version(found[2])[1] == [str(tmp_path / "span-2" / "v2" / "a.csv")]
    assert spans.window_spans(found, 3, 2) == [2, 3]
    assert spans.split_base(pattern) == (str(tmp_path), "span-{SPAN}/v{VERSION}/*.csv")


def test_only_the_windows_spans_must_exist():
    """Spans 1, 2, 4, 5 (span 3 withdrawn): a window is the newest spans that exist."""
    found = {1: {}, 2: {}, 4: {}, 5: {}}
    assert spans.window_spans(found, 5, 1) == [5]
    assert spans.window_spans(found, 5, 2) == [4, 5]
    assert spans.window_spans(found, 5, 3) == [2, 4, 5]
    with pytest.raises(spans.SpanError, match="needs 5 spans; the input has 4 usable"):
        spans.window_spans(found, 5, 5)
    # A blocked span is left out as if it were not there.
    assert spans.window_spans(found, 5, 2, skip={4}) == [2, 5]


def test_check_input_counts_the_window(layout):
    summary = check_input(settings(layout, window=2))
    assert summary.span == 3 and summary.window_spans == [2, 3]
    rows = layout["rows"]
    assert summary.counts["train"] + summary.counts["eval"] == len(rows[2]) + len(rows[3])
    assert summary.counts["test"] == len(rows["test"])
    assert check_input(settings(layout), span=1).window_spans == [1]


def _run(layout, tmp_path, capsys, *flags):
    """`imdb-pipeline run` on the layout; returns (exit code, stderr lines)."""
    out = tmp_path / "out"
    code = cli.main(["run", "--preset", "smoke", "--output-dir", str(out), "--glove-path",
                     "none", "--input-pattern", layout["input_pattern"], "--test-pattern",
                     layout["test_pattern"], "--label-values", "negative,positive", *flags])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert not (out / "metadata.sqlite").exists(), "a component ran despite bad input"
    return code, err


def _rewrite(path, edit):
    with open(path, encoding="utf-8", newline="") as f:
        text = f.read()
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(edit(text))


def _span_file(layout, span):
    return layout["input_pattern"].replace("{SPAN}", str(span)).replace("*", "reviews")


BAD_INPUTS = {
    # name: (how the layout is broken, words the one-line error must hold)
    "missing text column": (lambda l: _rewrite(_span_file(l, 3), lambda t: t.replace(
        "text,label", "review,label", 1)), ["no column 'text'", "span-3"]),
    "missing label column": (lambda l: _rewrite(_span_file(l, 3), lambda t: t.replace(
        "text,label", "text,stars", 1)), ["no column 'label'"]),
    "empty file": (lambda l: _rewrite(_span_file(l, 3), lambda t: ""), ["empty file"]),
    "label outside the mapping": (lambda l: _rewrite(_span_file(l, 3), lambda t: t.replace(
        ",positive\r\n", ",neutral\r\n", 1)), ["label 'neutral'", "line"]),
    "empty review": (lambda l: _rewrite(_span_file(l, 3), lambda t: t + '"  ",positive\n'),
                     ["empty review", "line"]),
    "malformed quoting": (lambda l: _rewrite(_span_file(l, 3), lambda t: t + '"open,1\n'),
                          ["malformed CSV"]),
    "pattern matches nothing": (lambda l: l.update(input_pattern=l["input_pattern"].replace(
        "span-", "spam-")), ["matches no file"]),
    "non-numeric span": (lambda l: os.rename(os.path.dirname(_span_file(l, 2)),
                                             os.path.dirname(_span_file(l, 2)) + "b"),
                         ["'2b' is not a number"]),
    "test shares reviews with training": (
        lambda l: _rewrite(l["test_pattern"].replace("*", "reviews"),
                           lambda t: t + "".join(f'"{r}",positive\n' for r, _ in
                                                 l["rows"][3][-3:] if '"' not in r)),
        ["test reviews", "also in the training spans"]),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_before_any_component(case, layout, tmp_path, capsys):
    breaks, words = BAD_INPUTS[case]
    breaks(layout)
    code, err = _run(layout, tmp_path, capsys)
    assert code == 1 and len(err) == 1 and err[0].startswith("imdb-pipeline: "), err
    for word in words:
        assert word in err[0], err[0]


def test_a_file_that_is_not_csv_names_its_row(tmp_path):
    path = tmp_path / "r.csv"
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([["text", "label"], ["fine", "1"], ["a", "b", "c"]])
    with pytest.raises(InputDataError, match=r"line 3: 3 fields where the header has 2"):
        list(read_reviews(str(path), ReviewFormat("text", "label", (), "auto")))
