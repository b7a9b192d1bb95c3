"""Reviews as 64-bit hashes of their normalized text: what test-set leakage is checked with.

Normalized = markup removed, case folded, every run of whitespace (CR/LF, tabs, non-breaking
spaces) one space, trimmed: a copy of a training review that differs only in those still
counts as the same review. Each export carries the hashes of every labelled review its model
learned from, its own window's and those of the model it was warm-started from
(`assets.extra/training_reviews.u64`, sorted little-endian uint64), so the test set can be
checked against the whole lineage. Two different reviews share a hash with probability about
n² / 2⁶⁵ (for a million reviews, 3 in 100 million).
"""
import hashlib
import os
import re
from typing import Iterable

HASHES_FILE = os.path.join("assets.extra", "training_reviews.u64")
_MARKUP = re.compile(r"<[^>]{0,200}>")
_SPACE = re.compile(r"\s+")


def normalize(text: bytes) -> str:
    decoded = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return _SPACE.sub(" ", _MARKUP.sub(" ", decoded)).casefold().strip()


def review_hash(text: bytes) -> int:
    return int.from_bytes(hashlib.md5(normalize(text).encode("utf-8")).digest()[:8], "little")


def hashes(texts: Iterable[bytes]):
    """Sorted unique uint64 hashes of `texts` (a NumPy array)."""
    return unique(review_hash(t) for t in texts)


def unique(values):
    """Sorted unique uint64 array of hash values (any iterable of ints or arrays of them)."""
    import numpy as np

    if not isinstance(values, np.ndarray):
        values = np.fromiter(values, dtype=np.uint64)
    return np.unique(values.astype(np.uint64))


def write_file(values, path: str) -> str:
    """Sorted unique `values` as little-endian uint64 into `path` (any TF file system)."""
    import numpy as np
    import tensorflow as tf

    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "wb") as out:
        out.write(unique(np.asarray(values, dtype=np.uint64)).astype("<u8").tobytes())
    return path


def read_file(path: str):
    import numpy as np
    import tensorflow as tf

    with tf.io.gfile.GFile(path, "rb") as f:
        return np.frombuffer(f.read(), dtype="<u8").astype(np.uint64)


def write(export_dir: str, values) -> str:
    return write_file(values, os.path.join(export_dir, HASHES_FILE))


def read(export_dir: str):
    """The export's lineage hashes; None when it has none (an export of an older release)."""
    import tensorflow as tf

    path = os.path.join(export_dir, HASHES_FILE)
    return read_file(path) if tf.io.gfile.exists(path) else None


def count_shared(values, lineage) -> int:
    """How many of `values` (hashes) are in `lineage` (sorted hashes)."""
    import numpy as np

    if lineage is None or not len(lineage) or not len(values):
        return 0
    return int(np.isin(np.asarray(values, dtype=np.uint64), lineage).sum())
