import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def tiny_tfds_dir(tmp_path_factory):
    """A TFDS data dir holding `tiny_imdb/plain_text` (train 240, test 80)."""
    from tests.tiny_data import build_tiny_tfds

    data_dir = str(tmp_path_factory.mktemp("tfds"))
    build_tiny_tfds(data_dir)
    return data_dir


@pytest.fixture(scope="session")
def tiny_glove_path(tmp_path_factory):
    from tests.tiny_data import write_tiny_glove

    path = str(tmp_path_factory.mktemp("glove") / "glove.tiny.8d.txt")
    write_tiny_glove(path)
    return path
