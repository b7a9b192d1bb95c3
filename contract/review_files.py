"""The user's labelled reviews, read from CSV or TFRecord files one row at a time.

Plain Python, no Beam: the CLI checks every input file with it before the pipeline starts, and
FileExampleGen's executor reads with it, so both apply the same rules. Every refusal names the
file, the row and the value.
"""
import csv
import dataclasses
import gzip
import io
from typing import Iterator, Tuple

from contract.errors import UserError

FORMATS = ("auto", "csv", "tfrecord")
_CSV_SUFFIXES = (".csv", ".csv.gz")
_TFRECORD_SUFFIXES = (".tfrecord", ".tfrecords", ".tfrecord.gz", ".tfrecords.gz")


class InputDataError(UserError, ValueError):
    """A user's input file cannot be read as labelled reviews."""


@dataclasses.dataclass(frozen=True)
class ReviewFormat:
    """How to read a review and its label from a file's rows (CSV columns or tf.Example
    features)."""

    text_column: str
    label_column: str  # "" = unlabelled reviews (batch scoring); the label is then -1.
    label_values: Tuple[str, ...]  # (negative, positive) names; () = the labels are 0 and 1.
    file_format: str  # One of FORMATS.

    def label(self, raw, where: str) -> int:
        value = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        allowed = self.label_values or ("0", "1")
        if value.strip() in allowed:
            return allowed.index(value.strip())
        hint = "" if self.label_values else " (string labels: --label-values NEGATIVE,POSITIVE)"
        raise InputDataError(f"{where}: label {value!r} is not one of {list(allowed)}{hint}")

    def format_of(self, path: str) -> str:
        if self.file_format != "auto":
            return self.file_format
        lower = path.lower()
        if lower.endswith(_CSV_SUFFIXES):
            return "csv"
        if lower.endswith(_TFRECORD_SUFFIXES):
            return "tfrecord"
        raise InputDataError(f"{path}: cannot tell CSV from TFRecord by its name (expected "
                             f"{', '.join(_CSV_SUFFIXES + _TFRECORD_SUFFIXES)}); set "
                             "--input-format")


def read_reviews(path: str, review_format: ReviewFormat) -> Iterator[Tuple[bytes, int]]:
    """(review text as UTF-8 bytes, 0/1 label) for every row of one file, in file order."""
    if review_format.format_of(path) == "csv":
        return _read_csv(path, review_format)
    return _read_tfrecord(path, review_format)


def read_texts(path: str, review_format: ReviewFormat) -> Iterator[bytes]:
    """Review texts of a file of unlabelled reviews (batch scoring): CSV or TFRecord as above,
    without a label column, or .txt, one review per line."""
    if path.lower().endswith((".txt", ".txt.gz")) and review_format.file_format == "auto":
        lines = _open_bytes(path).splitlines()
        return (line for line in lines if line.strip())
    unlabelled = dataclasses.replace(review_format, label_column="")
    reader = _read_csv if review_format.format_of(path) == "csv" else _read_tfrecord
    return (text for text, _ in reader(path, unlabelled))


def _open_bytes(path: str) -> bytes:
    import tensorflow as tf  # gfile: local paths and gs:// alike.

    with tf.io.gfile.GFile(path, "rb") as f:
        data = f.read()
    return gzip.decompress(data) if path.lower().endswith(".gz") else data


def _read_csv(path: str, review_format: ReviewFormat) -> Iterator[Tuple[bytes, int]]:
    data = _open_bytes(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise InputDataError(f"{path}: line {line}: not UTF-8 text ({error.reason})") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if not header:
            raise InputDataError(f"{path}: empty file (expected a header row naming the "
                                 f"columns {review_format.text_column!r} and "
                                 f"{review_format.label_column!r})")
        missing = [c for c in (review_format.text_column, review_format.label_column)
                   if c and c not in header]
        if missing:
            raise InputDataError(f"{path}: no column {' or '.join(map(repr, missing))} in the "
                                 f"header {header}; set --text-feature / --label-feature")
        text_at = header.index(review_format.text_column)
        label_at = header.index(review_format.label_column) if review_format.label_column else -1
        rows = 0
        for row in reader:
            where = f"{path}: line {reader.line_num}"
            if not row:
                continue  # A blank line between records.
            if len(row) != len(header):
                raise InputDataError(f"{where}: {len(row)} fields where the header has "
                                     f"{len(header)} (a comma or quote outside a quoted "
                                     "field?)")
            review = row[text_at]
            if not review.strip():
                raise InputDataError(f"{where}: empty review")
            rows += 1
            yield review.encode("utf-8"), (review_format.label(row[label_at], where)
                                           if label_at >= 0 else -1)
    except csv.Error as error:
        raise InputDataError(f"{path}: line {reader.line_num}: malformed CSV ({error})") from None
    if not rows:
        raise InputDataError(f"{path}: a header but no reviews")


def _one_value(example, name: str, where: str):
    feature = example.features.feature.get(name)
    kind = feature.WhichOneof("kind") if feature is not None else None
    values = list(getattr(feature, kind).value) if kind else []
    if len(values) != 1:
        found = sorted(example.features.feature)
        raise InputDataError(f"{where}: feature {name!r} must hold exactly one value, it holds "
                             f"{len(values)} (features: {found}); set --text-feature / "
                             "--label-feature")
    return kind, values[0]


def _read_tfrecord(path: str, review_format: ReviewFormat) -> Iterator[Tuple[bytes, int]]:
    import tensorflow as tf

    compression = "GZIP" if path.lower().endswith(".gz") else ""
    rows = 0
    try:
        for rows, record in enumerate(tf.data.TFRecordDataset(path, compression), start=1):
            where = f"{path}: record {rows}"
            try:
                example = tf.train.Example.FromString(record.numpy())
            except Exception:  # protobuf's DecodeError
                raise InputDataError(f"{where}: not a serialized tf.Example") from None
            kind, review = _one_value(example, review_format.text_column, where)
            if kind != "bytes_list":
                raise InputDataError(f"{where}: feature {review_format.text_column!r} must be "
                                     f"text (bytes_list), it is a {kind}")
            if not review.strip():
                raise InputDataError(f"{where}: empty review")
            if not review_format.label_column:
                yield review, -1
                continue
            _, label = _one_value(example, review_format.label_column, where)
            yield review, review_format.label(label, where)
    except tf.errors.OpError as error:  # DataLossError: not TFRecord, bad CRC, cut off.
        raise InputDataError(f"{path}: not a readable TFRecord file after {rows} records "
                             f"({error.message})") from None
    if not rows:
        raise InputDataError(f"{path}: empty file (no records)")
