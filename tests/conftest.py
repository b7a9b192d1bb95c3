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


# One real tiny pipeline run, shared by every test that needs a trained, pushed model
# (tests/pipeline/test_end_to_end.py, tests/serving/, ...): about 3 minutes, run once per
# session (once per pytest-xdist worker that runs such a test: `make test` runs two).
@pytest.fixture(scope="session")
def pipeline_config(tmp_path_factory, tiny_tfds_dir, tiny_glove_path):
    from pipeline.config import make_config

    out = tmp_path_factory.mktemp("e2e")
    return make_config(
        "smoke", tfds_name="tiny_imdb", tfds_data_dir=tiny_tfds_dir, glove_path=tiny_glove_path,
        output_dir=str(out), max_examples=0, max_len=24, vocab_size=500, units=8, epochs=2,
        average_from_epoch=1, min_accuracy=0.0, max_accuracy_drop=1.0,
        tuner_max_trials=2, tuner_epochs=1, tune_units=(4, 8), tune_cells=("gru", "lstm"),
        ngram_vocab_size=300, ngram_max=2, ensemble_size=2)


@pytest.fixture(scope="session")
def first_run(pipeline_config):
    from pipeline import local_runner
    from reports import run_record

    local_runner.run(pipeline_config)
    return run_record.latest_run(pipeline_config)


@pytest.fixture(scope="session")
def pushed_model_dir(first_run):
    """The SavedModel the tiny run pushed: <serving_dir>/<version>/."""
    assert first_run.pushed_destination, "the tiny run pushed nothing"
    return first_run.pushed_destination


# End-to-end tests: those that need a real pipeline run (or a cluster of component processes,
# or Beam's portable runner services). `make test-fast` runs everything else.
E2E_FIXTURES = {"first_run", "runs", "distilled_run", "beam_services", "file_spec",
                "cluster_run"}


def pytest_configure(config):
    config.addinivalue_line("markers", "e2e: needs a real pipeline run or its processes "
                                       "(deselect with -m 'not e2e': make test-fast)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if E2E_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)
