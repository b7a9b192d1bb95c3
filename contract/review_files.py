"""The user's labelled reviews, read from CSV or TFRecord files one row at a time.

Plain Python, no Beam: the CLI checks every input file with it before the pipeline starts, and
FileExampleGen's executor reads with it, so both apply the same rules. Every refusal names the
file, the row and the value. Files are streamed, never read whole: memory holds one record.
"""
import contextlib
import csv
import dataclasses
import gzip
import io
import re
from typing import Iterator, Tuple

from contract import review_text
from contract.errors import UserError

FORMATS = ("auto", "csv", "tfrecord")
_CSV_SUFFIXES = (".csv", ".csv.gz")
_TFRECORD_SUFFIXES = (".tfrecord", ".tfrecords", ".tfrecord.gz", ".tfrecords.gz")
# csv's default field limit (128 KiB) refuses long reviews; this one only stops a runaway
# unclosed quote from holding the rest of a huge file.
MAX_FIELD_CHARS = 64 * 2**20
_READ_BUFFER_BYTES = 2**20  # Fewer round trips on gs://.
# What the surrogateescape error handler makes of bytes that are not UTF-8.
_NOT_UTF8 = re.compile("[\udc80-\udcff]")


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
    """(review text as UTF-8 bytes, 0/1 label) for every row of one file, in file order; ends in
    InputDataError if the file's reviews are printed values (contract/review_text.py)."""
    if review_format.format_of(path) == "csv":
        return _refuse_printed(path, "line", _read_csv(path, review_format))
    return _refuse_printed(path, "record", _read_tfrecord(path, review_format))


def read_texts(path: str, review_format: ReviewFormat) -> Iterator[Tuple[int, bytes]]:
    """(row, review text) for a file of unlabelled reviews (batch scoring): CSV or TFRecord as
    above, without a label column, or .txt, one review per line. The row is where a reader finds
    the review: the line it starts on (.txt, CSV; blank lines count) or the record's number."""
    if path.lower().endswith((".txt", ".txt.gz")) and review_format.file_format == "auto":
        return _read_txt(path)
    unlabelled = dataclasses.replace(review_format, label_column="")
    reader = _read_csv if review_format.format_of(path) == "csv" else _read_tfrecord
    return ((row, text) for row, text, _ in reader(path, unlabelled))


def _refuse_printed(path: str, unit: str, rows: Iterator[Tuple[int, bytes, int]]
                    ) -> Iterator[Tuple[bytes, int]]:
    """The rows' reviews, then the rule TfdsExampleGen applies to a split, applied to the file:
    counted as the reviews stream by, so the file is read once."""
    printed, total, first = 0, 0, None
    for row, text, label in rows:
        total += 1
        reason = review_text.printed_form(text)
        if reason:
            printed += 1
            first = first or (row, reason, text)
        yield text, label
    if review_text.too_many_printed(printed, total):
        row, reason, text = first
        value = text.decode("utf-8", "replace")
        value = value if len(value) <= 80 else value[:80] + "..."
        raise InputDataError(f"{path}: {unit} {row}: {printed} of {total} reviews look like "
                             f"{reason} ({value!r}), not the text a client sends: the file was "
                             "written with str() of a value instead of its text; fix the writer")


class _GFileRaw(io.RawIOBase):
    """A tf.io.gfile.GFile (local paths and gs:// alike) as the raw stream io's buffered readers
    and gzip expect; GFile itself lacks readable()/readinto()."""

    def __init__(self, gfile):
        super().__init__()
        self._gfile = gfile

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._gfile.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._gfile.close()
        super().close()


@contextlib.contextmanager
def _text_lines(path: str) -> Iterator[Iterator[str]]:
    """The file's lines (ends kept, split as csv expects), decoded a buffer at a time: memory
    holds one line, whatever the file's size. A leading BOM is dropped; bytes that are not
    UTF-8 come through as surrogate escapes for the caller to refuse or pass on."""
    import tensorflow as tf  # gfile: local paths and gs:// alike.

    with contextlib.ExitStack() as stack:
        binary = stack.enter_context(io.BufferedReader(
            _GFileRaw(tf.io.gfile.GFile(path, "rb")), _READ_BUFFER_BYTES))
        if path.lower().endswith(".gz"):
            binary = stack.enter_context(gzip.GzipFile(fileobj=binary, mode="rb"))
        yield stack.enter_context(io.TextIOWrapper(
            binary, encoding="utf-8-sig", errors="surrogateescape", newline=""))


def _utf8_only(path: str, lines: Iterator[str]) -> Iterator[str]:
    """`lines`, refusing the first one that held bytes that are not UTF-8, by its number."""
    for number, line in enumerate(lines, start=1):
        if _NOT_UTF8.search(line):
            try:  # The decoder's own reason, from the line's original bytes.
                line.encode("utf-8", "surrogateescape").decode("utf-8")
                reason = "invalid bytes"
            except UnicodeDecodeError as error:
                reason = error.reason
            raise InputDataError(f"{path}: line {number}: not UTF-8 text ({reason})")
        yield line


def _read_txt(path: str) -> Iterator[Tuple[int, bytes]]:
    with _text_lines(path) as lines:
        for number, line in enumerate(lines, start=1):
            # Bytes as in the file: scoring passes non-UTF-8 text on for the model to judge.
            text = line.rstrip("\r\n").encode("utf-8", "surrogateescape")
            if text.strip():
                yield number, text


def _read_csv(path: str, review_format: ReviewFormat) -> Iterator[Tuple[int, bytes, int]]:
    csv.field_size_limit(max(csv.field_size_limit(), MAX_FIELD_CHARS))  # Process-wide.
    with _text_lines(path) as lines:
        reader = csv.reader(_utf8_only(path, lines), strict=True)
        try:
            header = next(reader, None)
            if not header:
                raise InputDataError(f"{path}: empty file (expected a header row naming the "
                                     f"columns {review_format.text_column!r} and "
                                     f"{review_format.label_column!r})")
            missing = [c for c in (review_format.text_column, review_format.label_column)
                       if c and c not in header]
            if missing:
                raise InputDataError(f"{path}: no column {' or '.join(map(repr, missing))} in "
                                     f"the header {header}; set --text-feature / "
                                     "--label-feature")
            text_at = header.index(review_format.text_column)
            label_at = (header.index(review_format.label_column) if review_format.label_column
                        else -1)
            rows, starts = 0, reader.line_num + 1
            for row in reader:
                # A record spans several lines when a quoted field holds newlines: its row is
                # the line it starts on.
                line, starts = starts, reader.line_num + 1
                where = f"{path}: line {line}"
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
                yield line, review.encode("utf-8"), (review_format.label(row[label_at], where)
                                                     if label_at >= 0 else -1)
        except csv.Error as error:
            raise InputDataError(f"{path}: line {reader.line_num}: malformed CSV "
                                 f"({error})") from None
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


def _read_tfrecord(path: str, review_format: ReviewFormat
                   ) -> Iterator[Tuple[int, bytes, int]]:
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
                yield rows, review, -1
                continue
            _, label = _one_value(example, review_format.label_column, where)
            yield rows, review, review_format.label(label, where)
    except tf.errors.OpError as error:  # DataLossError: not TFRecord, bad CRC, cut off.
        raise InputDataError(f"{path}: not a readable TFRecord file after {rows} records "
                             f"({error.message})") from None
    if not rows:
        raise InputDataError(f"{path}: empty file (no records)")
