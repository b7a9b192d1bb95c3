"""Own data (--input-pattern): reading CSV/TFRecord reviews, spans and windows, and every bad
input refused in one line before any component runs."""
import csv
import os

import pytest
import tensorflow as tf

from cli import main as cli
from components import spans
from components.file_example_gen import check_input
from contract.settings import FileInputSettings
from contract.review_files import InputDataError, ReviewFormat, read_reviews
from tests.tiny_data import EDGE_REVIEWS, write_tiny_csv, write_tiny_spans

CSV_FORMAT = ReviewFormat("text", "label", ("negative", "positive"), "auto")


def settings(layout, **changes) -> FileInputSettings:
    values = dict(train_pattern=layout["input_pattern"], test_pattern=layout["test_pattern"],
                  text_feature="text", label_feature="label",
                  label_values=("negative", "positive"), input_format="auto", window=1,
                  eval_percent=10, ledger_dir=layout.get("ledger", ""),
                  accepted_spans=(), test_overlap="block")
    return FileInputSettings(**{**values, **changes})


@pytest.fixture
def layout(tmp_path):
    return {**write_tiny_spans(str(tmp_path / "data"), spans=3, per_span=40, test=20),
            "ledger": str(tmp_path / "ledger")}


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
    "printed values": (lambda l: write_tiny_csv(_span_file(l, 3), [
        (f"b'{text}'", label) for text, label in l["rows"][3]], ("negative", "positive")),
        ["span-3", "line 2:", "a printed Python bytes literal", "b'Risqu"]),
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


def _fingerprint(settings_, span=0) -> str:
    """The cache-key fingerprint FileExampleGen's driver gives the run."""
    from google.protobuf import message
    from tfx.components.example_gen import utils
    from tfx.utils import proto_utils

    from components.file_example_gen import FileExampleGenDriver, file_example_gen

    properties = {k: proto_utils.proto_to_json(v) if isinstance(v, message.Message) else v
                  for k, v in file_example_gen(settings_, span).exec_properties.items()}
    resolved = FileExampleGenDriver(None).resolve_exec_properties(properties, None, None)
    return resolved[utils.FINGERPRINT_PROPERTY_NAME]


def test_every_input_of_the_run_is_in_its_fingerprint(layout, tmp_path):
    """TFX's driver fingerprints the newest span only: a changed test file, or a re-delivered
    older span of the window, left every node cached."""
    given = settings(layout, window=2)
    first = _fingerprint(given)
    assert _fingerprint(given) == first  # Nothing changed: a cache hit.
    test_file = layout["test_pattern"].replace("*", "reviews")
    _rewrite(test_file, lambda t: t.rsplit("\n", 2)[0] + "\n")  # One test review fewer.
    changed_test = _fingerprint(given)
    assert changed_test != first
    # Span 2 (older, in the window) re-delivered with the same size and a new time.
    older = _span_file(layout, 2)
    stat = os.stat(older)
    _rewrite(older, lambda t: t.replace("great", "GREAT", 1))
    os.utime(older, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1000))
    assert os.stat(older).st_size == stat.st_size
    assert _fingerprint(given) != changed_test
    # Span 1 is outside the window: changing it changes nothing.
    before = _fingerprint(given)
    _rewrite(_span_file(layout, 1), lambda t: t + '"one more",positive\n')
    assert _fingerprint(given) == before


def test_a_blocked_span_stays_out_of_later_windows(layout):
    from components import span_ledger

    given = settings(layout, window=2)
    span_ledger.record(layout["ledger"], 2, None, span_ledger.BLOCKED,
                       breaches=["label balance: ..."])
    summary = check_input(given)
    assert summary.window_spans == [1, 3] and 2 in summary.skipped_spans
    assert check_input(settings(layout, window=2, accepted_spans=(2,))).window_spans == [2, 3]
    with pytest.raises(spans.SpanError, match=r"span 2 was blocked .* --accept-span 2"):
        check_input(given, span=2)
    # A re-delivery of span 2 (its files under a new {VERSION}) is checked afresh: the block
    # is on the version that was checked.
    assert span_ledger.blocked_spans(layout["ledger"], {2: 7}) == {}


def test_test_copies_that_differ_in_case_space_or_markup_are_leakage(layout):
    train = layout["rows"][3][-1][0]
    variant = "  " + train.upper().replace(" ", "\r\n ", 2) + " <br /> "
    test_file = layout["test_pattern"].replace("*", "reviews")
    with open(test_file, "a", encoding="utf-8", newline="") as out:
        csv.writer(out).writerow([variant, "positive"])
    with pytest.raises(InputDataError, match="1 of the .* test reviews .* --test-overlap warn"):
        check_input(settings(layout))
    assert check_input(settings(layout, test_overlap="warn")).test_shared == 1
