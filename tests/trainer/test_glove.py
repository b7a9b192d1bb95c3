import gzip
import shutil
import zipfile

import numpy as np
import pytest

from tests.tiny_data import write_tiny_glove
from trainer import glove


@pytest.fixture
def glove_txt(tmp_path):
    path = tmp_path / "glove.test.8d.txt"
    return str(path), write_tiny_glove(str(path))


def test_reads_text_format_keeping_only_wanted_words(glove_txt):
    path, vectors = glove_txt
    got, dimension = glove.read_vectors(path, ["great", "awful", "not-there"])
    assert sorted(got) == ["awful", "great"] and dimension == 8
    np.testing.assert_allclose(got["great"], vectors["great"], atol=1e-5)


def test_reads_gzip_and_zip_member(glove_txt, tmp_path):
    path, vectors = glove_txt
    gz = tmp_path / "glove.txt.gz"
    with open(path, "rb") as source, gzip.open(gz, "wb") as target:
        shutil.copyfileobj(source, target)
    archive = tmp_path / "glove.6B.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(path, "glove.6B.8d.txt")
        zipped.writestr("README.md", "not vectors")
    for source in (str(gz), f"{archive}:glove.6B.8d.txt", str(archive)):
        got, _ = glove.read_vectors(source, ["boring"])
        np.testing.assert_allclose(got["boring"], vectors["boring"], atol=1e-5)


def test_any_dimension(tmp_path):
    path = tmp_path / "glove.300d.txt"
    path.write_text("the " + " ".join(["0.5"] * 300) + "\nfilm " + " ".join(["-1"] * 300) + "\n")
    init = glove.load_embedding(str(path), ["film", "the", "zzz"], num_oov_buckets=2)
    assert init.matrix.shape == (1 + 3 + 2, 300)
    none_found = glove.load_embedding(str(path), ["zzz"], num_oov_buckets=1)
    assert none_found.matrix.shape == (3, 300) and none_found.found == 0
    assert init.dimension == 300


def test_matrix_aligns_with_vocabulary(glove_txt):
    path, vectors = glove_txt
    vocabulary = ["movie", "great", "missingword", "awful"]
    init = glove.load_embedding(path, vocabulary, num_oov_buckets=1)
    assert init.matrix.shape == (1 + len(vocabulary) + 1, 8)
    np.testing.assert_array_equal(init.matrix[0], 0.0)  # Padding.
    for index, word in enumerate(vocabulary, start=1):
        if word in vectors:
            np.testing.assert_allclose(init.matrix[index], vectors[word], atol=1e-5)
    assert init.found == 3 and init.coverage == pytest.approx(0.75)
    assert np.abs(init.matrix[3]).sum() > 0  # Missing words get a random start, not zeros.


def test_missing_file_names_the_flag(tmp_path):
    with pytest.raises(glove.GloveError, match="--glove-path"):
        glove.read_vectors(str(tmp_path / "nope.txt"), ["a"])


def test_ragged_file_is_rejected(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("a 1 2 3\nb 1 2\n")
    with pytest.raises(glove.GloveError, match="line 2"):
        glove.read_vectors(str(path))


def test_zip_without_member_name_and_several_txt(tmp_path):
    archive = tmp_path / "glove.6B.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("glove.6B.50d.txt", "a 1\n")
        zipped.writestr("glove.6B.100d.txt", "a 1\n")
    with pytest.raises(glove.GloveError, match="name one"):
        glove.read_vectors(str(archive))


def test_unreachable_download_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(glove, "STANFORD_6B_URL", "http://127.0.0.1:9/glove.6B.zip")
    with pytest.raises(glove.GloveError, match="--glove-path"):
        glove.fetch_stanford_6b(str(tmp_path), timeout=2)
    assert not list(tmp_path.glob("*.zip"))  # No half-written archive left behind.


def test_non_utf8_line_is_a_clear_error_not_a_skipped_word(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"good 1 2 3\n\xe9t\xe9 1 2 3\n")
    with pytest.raises(glove.GloveError, match="line 2 is not UTF-8"):
        glove.read_vectors(str(path), ["good"])


def test_truncated_file_names_the_line(tmp_path):
    path = tmp_path / "cut.txt"
    path.write_text("good 1 2 3\nbad 1 2")  # The download stopped mid-line.
    with pytest.raises(glove.GloveError, match="line 2: 2 values, expected 3"):
        glove.read_vectors(str(path))


def test_a_download_that_fails_midway_leaves_no_partial_file(tmp_path, monkeypatch):
    class Broken:
        def __init__(self):
            self.calls = 0

        def read(self, size):
            self.calls += 1
            if self.calls > 1:
                raise ConnectionResetError("connection reset by peer")
            return b"x" * 10

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(glove.urllib.request, "urlopen", lambda *a, **k: Broken())
    with pytest.raises(glove.GloveError, match="--glove-path"):
        glove.fetch_stanford_6b(str(tmp_path), timeout=2)
    assert list(tmp_path.iterdir()) == []  # Neither the archive nor a .partial file.
