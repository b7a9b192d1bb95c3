import pytest

# Remote-looking paths the tiny config is compiled with; the entrypoint test maps them to local
# files only inside the ExecutorInput it builds.
REMOTE = {"tfds": "gs://imdb-test/tfds", "glove": "gs://imdb-test/glove/glove.tiny.8d.txt",
          "out": "gs://imdb-test/out"}


@pytest.fixture(scope="session")
def tiny_kubeflow_config():
    """The shared tiny pipeline, kept small for the entrypoint run: 1 epoch, 1 model, a Tuner
    of one trial."""
    from pipeline.config import make_config

    return make_config(
        "smoke", tfds_name="tiny_imdb", tfds_data_dir=REMOTE["tfds"], glove_path=REMOTE["glove"],
        output_dir=REMOTE["out"], max_examples=0, max_len=24, vocab_size=500, units=8,
        epochs=1, ensemble_size=1, average_from_epoch=0, warmup_reviews=2, tuner_max_trials=1,
        min_accuracy=0.0, max_accuracy_drop=1.0)
