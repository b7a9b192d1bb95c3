"""Batch scoring: every review of a file, folder or glob scored by a served or exported model.

    imdb-pipeline score --model-dir pipeline_output/serving_model --input new/ --output s.jsonl

Any client works (in process, REST, gRPC), so the scores are the serving signature's own. The
output has one row per review, in input order: JSON lines `{"file", "row", "probability",
"label"}` or CSV with those columns, chosen by the output's suffix; `row` is the review's line
in its file (record number for TFRecord). It is written to a temporary file of its own in the
output's folder and renamed when complete, so a failed run leaves no partial file behind and
two runs writing the same output never mix their rows.
"""
import csv
import dataclasses
import json
import os
import secrets
import time
from typing import Iterator, List, Sequence, Tuple

from contract.errors import UserError
from contract.review_files import ReviewFormat, read_texts

OUTPUT_FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".csv": "csv"}


class ScoringError(UserError):
    """The batch to score or the output path is unusable."""


@dataclasses.dataclass(frozen=True)
class ScoreSummary:
    reviews: int
    files: int
    seconds: float
    output: str

    @property
    def reviews_per_second(self) -> float:
        return self.reviews / max(self.seconds, 1e-9)


def input_files(source: str) -> List[str]:
    """A file, every file in a folder (not recursive), or a glob."""
    import tensorflow as tf

    if tf.io.gfile.isdir(source):
        found = [os.path.join(source, name) for name in sorted(tf.io.gfile.listdir(source))]
        found = [path for path in found if not tf.io.gfile.isdir(path)]
    else:
        found = sorted(tf.io.gfile.glob(source))
    if not found:
        raise ScoringError(f"--input {source!r}: no file to score")
    return found


def _rows(files: Sequence[str], review_format: ReviewFormat) -> Iterator[Tuple[str, int, str]]:
    """(file, row, text): the row is where the review is in its file (its line, or record
    number), so a score can be traced back to its review."""
    for path in files:
        for row, text in read_texts(path, review_format):
            yield path, row, text.decode("utf-8", "surrogateescape")


def _open_partial(output: str):
    """A new file beside `output` with a name no other run uses, opened for writing: two runs
    writing the same output each fill their own, and the last to finish wins whole. Made like
    mkstemp's, but with open()'s permissions (mkstemp's are private to the user)."""
    folder, name = os.path.split(os.path.abspath(output))
    while True:
        partial = os.path.join(folder, f".{name}.{secrets.token_hex(6)}.partial")
        try:
            descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        return partial, os.fdopen(descriptor, "w", encoding="utf-8", newline="")


def score_files(client, files: Sequence[str], review_format: ReviewFormat, output: str,
                batch_size: int = 1024) -> ScoreSummary:
    """Scores every review of `files` with `client` (serving/client.py) into `output`."""
    kind = OUTPUT_FORMATS.get(os.path.splitext(output)[1].lower())
    if kind is None:
        raise ScoringError(f"--output {output!r}: name it .jsonl or .csv")
    folder = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(folder):
        raise ScoringError(f"--output {output!r}: folder {folder} does not exist")
    start, count = time.perf_counter(), 0
    partial, out = _open_partial(output)
    try:
        with out:
            writer = csv.writer(out) if kind == "csv" else None
            if writer:
                writer.writerow(["file", "row", "probability", "label"])
            batch: List[Tuple[str, int, str]] = []

            def flush():
                texts = [text for *_, text in batch]
                for (path, row, _), prediction in zip(batch, client.predict(texts)):
                    values = [path, row, prediction.probability, prediction.label]
                    if writer:
                        writer.writerow(values)
                    else:
                        out.write(json.dumps(dict(zip(("file", "row", "probability", "label"),
                                                      values))) + "\n")
                batch.clear()

            for item in _rows(files, review_format):
                batch.append(item)
                count += 1
                if len(batch) == batch_size:
                    flush()
            if batch:
                flush()
    except BaseException:
        os.remove(partial)
        raise
    os.replace(partial, output)
    return ScoreSummary(count, len(files), time.perf_counter() - start, output)
