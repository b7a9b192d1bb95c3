"""GloVe vectors: read the standard text format and align them with the Transform vocabulary.

Accepted sources (local paths or anything `tf.io.gfile` reads, e.g. gs://):
  glove.6B.50d.txt, glove.6B.50d.txt.gz, glove.6B.zip:glove.6B.100d.txt (a zip member), or
  glove.6B.zip alone when it holds a single .txt member.
Any dimension works; it is read off the first line. Only the vocabulary's words are parsed, so
the 400k-line file costs a few seconds, not a 400k x d matrix in memory.
"""
import dataclasses
import gzip
import io
import logging
import os
import urllib.request
import zipfile
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
from contract.errors import UserError

STANFORD_6B_URL = "https://nlp.stanford.edu/data/glove.6B.zip"


class GloveError(UserError, RuntimeError):
    """A GloVe source that is missing or not in GloVe's text format."""


def split_zip_member(source: str):
    """'a.zip:member.txt' -> ('a.zip', 'member.txt'); 'a.zip' -> ('a.zip', None); else Nones."""
    if ".zip:" in source:
        archive, member = source.split(".zip:", 1)
        return archive + ".zip", member
    if source.endswith(".zip"):
        return source, None
    return None, None


def _open_lines(source: str) -> Iterator[str]:
    archive, member = split_zip_member(source)
    path = archive or source
    if not tf.io.gfile.exists(path):
        raise GloveError(f"GloVe file {path!r} does not exist. Pass --glove-path (or set "
                         "GLOVE_PATH) to a GloVe .txt/.txt.gz file or Stanford's glove.6B.zip, "
                         "or --glove-path none to train the embedding from scratch.")
    # Plain files through open(); gfile (gs://, hdfs://) lacks what TextIOWrapper needs.
    opener = tf.io.gfile.GFile if "://" in path else open
    with opener(path, "rb") as raw:
        if archive:
            with zipfile.ZipFile(raw) as zipped:
                names = [n for n in zipped.namelist() if n.endswith(".txt")]
                if member is None:
                    if len(names) != 1:
                        raise GloveError(f"{archive} holds {names}; name one, e.g. "
                                         f"'{archive}:{names[0] if names else 'x.txt'}'")
                    member = names[0]
                if member not in zipped.namelist():
                    raise GloveError(f"{archive} has no member {member!r}; it has {names}")
                with zipped.open(member) as handle:
                    yield from io.TextIOWrapper(handle, encoding="utf-8", errors="replace")
        elif path.endswith(".gz"):
            with gzip.GzipFile(fileobj=raw) as handle:
                yield from io.TextIOWrapper(handle, encoding="utf-8", errors="replace")
        else:
            for line in raw:
                yield line.decode("utf-8", errors="replace")


def read_vectors(source: str, words: Optional[Iterable[str]] = None
                 ) -> Tuple[Dict[str, np.ndarray], int]:
    """(word -> float32 vector for `words` (all when None), dimension) from a GloVe source."""
    wanted = None if words is None else set(words)
    vectors: Dict[str, np.ndarray] = {}
    dimension = None
    for line_number, line in enumerate(_open_lines(source), start=1):
        word, _, rest = line.rstrip("\n").partition(" ")
        if "\ufffd" in word:  # Decoded with errors="replace": the bytes were not UTF-8.
            raise GloveError(f"{source} line {line_number} is not UTF-8 ({word[:40]!r}); GloVe "
                             "files are UTF-8 text: re-export the file or pass another one")
        if dimension is None:
            dimension = len(rest.split())
            if not word or dimension < 1:
                raise GloveError(f"{source} is not GloVe text format (line 1: {line[:80]!r})")
        if wanted is not None and word not in wanted:
            continue
        values = np.asarray(rest.split(), dtype=np.float32)
        if values.shape[0] != dimension:
            raise GloveError(f"{source} line {line_number}: {values.shape[0]} values, "
                             f"expected {dimension}")
        vectors.setdefault(word, values)  # Keep the first (most frequent) entry.
    if dimension is None:
        raise GloveError(f"{source} is empty")
    return vectors, dimension


@dataclasses.dataclass
class EmbeddingInit:
    matrix: np.ndarray
    found: int
    vocabulary_size: int
    dimension: int

    @property
    def coverage(self) -> float:
        return self.found / max(self.vocabulary_size, 1)

    def summary(self) -> Dict[str, float]:
        return {"vocabulary_size": self.vocabulary_size, "found_in_glove": self.found,
                "coverage": round(self.coverage, 4), "dimension": self.dimension}


def embedding_matrix(vocabulary: Sequence[str], vectors: Dict[str, np.ndarray], dimension: int,
                     num_oov_buckets: int, seed: int = 0) -> EmbeddingInit:
    """Rows: 0 = padding (zeros), 1..V = vocabulary in order, then OOV buckets.

    Words GloVe lacks, and OOV buckets, start as small random vectors with GloVe's spread.
    """
    scale = float(np.std(np.stack(list(vectors.values())))) if vectors else 0.1
    rng = np.random.default_rng(seed)
    rows = 1 + len(vocabulary) + num_oov_buckets
    matrix = rng.normal(0.0, scale, size=(rows, dimension)).astype(np.float32)
    matrix[0] = 0.0
    found = 0
    for index, word in enumerate(vocabulary, start=1):
        vector = vectors.get(word)
        if vector is not None:
            matrix[index] = vector
            found += 1
    return EmbeddingInit(matrix, found, len(vocabulary), dimension)


def load_embedding(source: str, vocabulary: List[str], num_oov_buckets: int) -> EmbeddingInit:
    vectors, dimension = read_vectors(source, vocabulary)
    init = embedding_matrix(vocabulary, vectors, dimension, num_oov_buckets)
    logging.info("GloVe %s: %d-d, %d of %d vocabulary words found (coverage %.1f%%)", source,
                 init.dimension, init.found, init.vocabulary_size, 100 * init.coverage)
    return init


def fetch_stanford_6b(cache_dir: str, dimension: int = 50, timeout: float = 10.0) -> str:
    """Downloads Stanford's glove.6B.zip (822 MB) once into `cache_dir`; returns a member path.

    Raises GloveError quickly when the network cannot reach Stanford (offline machines).
    """
    archive = os.path.join(os.path.expanduser(cache_dir), "glove.6B.zip")
    if not os.path.exists(archive):
        os.makedirs(os.path.dirname(archive), exist_ok=True)
        try:
            with urllib.request.urlopen(STANFORD_6B_URL, timeout=timeout) as response, \
                    open(archive + ".partial", "wb") as out:
                while True:
                    block = response.read(1 << 20)
                    if not block:
                        break
                    out.write(block)
        except OSError as error:
            if os.path.exists(archive + ".partial"):  # Never resumed from, never mistaken.
                os.remove(archive + ".partial")
            raise GloveError(f"cannot download {STANFORD_6B_URL} ({error}); pass --glove-path "
                             "(or GLOVE_PATH) to a local GloVe file") from error
        os.replace(archive + ".partial", archive)
    return f"{archive}:glove.6B.{dimension}d.txt"
