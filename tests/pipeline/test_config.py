import pytest

from cli import main as cli
from pipeline.config import PRESETS, ConfigError, PipelineConfig, make_config


def test_defaults_are_valid_and_full_data():
    config = make_config()
    assert config.max_examples == 0 and config.tfds_full_name == "imdb_reviews/plain_text"
    assert config.vocab_size >= 20000


@pytest.mark.parametrize("overrides,message", [
    ({"max_len": 0}, "--max-len"),
    ({"padding": "middle"}, "--padding"),
    ({"eval_percent": 100}, "--eval-percent"),
    ({"dropout": 1.0}, "dropout"),
    ({"cell": "rnn"}, "cell"),
    ({"min_accuracy": 1.5}, "--min-accuracy"),
    ({"text_feature": "label"}, "--text-feature"),
    ({"vocab_size": -5, "batch_size": 0}, "--vocab-size"),
    ({"ngram_vocab_size": 300000}, "--ngram-vocab-exact true"),
])
def test_bad_values_fail_up_front(overrides, message):
    with pytest.raises(ConfigError, match=message):
        make_config(**overrides)


def test_all_errors_reported_at_once():
    with pytest.raises(ConfigError) as error:
        make_config(vocab_size=-5, batch_size=0)
    assert "--vocab-size" in str(error.value) and "--batch-size" in str(error.value)


def test_unknown_preset_and_field():
    with pytest.raises(ConfigError, match="preset"):
        make_config("huge")
    with pytest.raises(ConfigError, match="unknown config fields"):
        make_config(vocab=3)


def test_seed_preset_is_the_tutorial_model():
    config = make_config("seed")
    hparams = config.model_hparams()
    # The tutorial's pad_sequences keeps each review's ending; the padding side itself is masked
    # (post keeps cuDNN on a GPU: tests/trainer/test_models.py).
    assert (config.vocab_size, config.max_len, config.truncating) == (10000, 80, "pre")
    assert config.padding == "post"
    assert (hparams.cell, hparams.num_layers, hparams.units, hparams.dropout) == (
        "lstm", 2, 64, 0.5)
    assert not hparams.bidirectional and not hparams.glove_trainable


def test_cli_flags_override_preset():
    args = cli.build_parser().parse_args([
        "run", "--preset", "smoke", "--units", "24", "--no-bidirectional", "--cell", "lstm",
        "--beam-pipeline-args=--direct_num_workers=2", "--output-dir", "/tmp/x"])
    config = cli.config_from_args(args)
    assert config.units == 24 and config.cell == "lstm" and not config.bidirectional
    assert config.max_examples == 400  # From the preset.
    assert config.beam_pipeline_args == ("--direct_num_workers=2",)
    assert config.resolved_pipeline_root == "/tmp/x/root"
    assert config.trainer_config()["hparams"]["units"] == 24


def test_cli_rejects_bad_value_before_any_work(capsys):
    assert cli.main(["run", "--max-len", "-3"]) == 2
    assert "--max-len must be >= 1" in capsys.readouterr().err


def test_cli_rejects_choice_outside_list():
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["run", "--padding", "left"])


def test_cli_missing_dataset_is_one_clear_line(tmp_path, capsys):
    code = cli.main(["run", "--tfds-name", "no_such_dataset_here", "--tfds-data-dir",
                     str(tmp_path), "--output-dir", str(tmp_path / "out")])
    assert code == 1
    err = capsys.readouterr().err
    assert "no_such_dataset_here" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # Nothing started.


def test_cli_missing_glove_names_the_flag(tmp_path, tiny_tfds_dir, capsys):
    code = cli.main(["run", "--tfds-name", "tiny_imdb", "--tfds-data-dir", tiny_tfds_dir,
                     "--glove-path", str(tmp_path / "missing.txt"),
                     "--output-dir", str(tmp_path / "out")])
    assert code == 1
    assert "--glove-path" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_glove_path_env_and_none(monkeypatch):
    monkeypatch.setenv("GLOVE_PATH", "/data/glove.840B.300d.txt")
    assert PipelineConfig().resolved_glove_path == "/data/glove.840B.300d.txt"
    assert PipelineConfig(glove_path="none").resolved_glove_path == ""


def test_tuning_flags_parse_lists_and_validate():
    args = cli.build_parser().parse_args([
        "run", "--tune-units", "16,32", "--tune-dropout", "0.1,0.3", "--tune-cells", "lstm",
        "--tune-bidirectional", "true,false", "--tuner-algorithm", "bayesian"])
    config = cli.config_from_args(args)
    space = config.search_space()
    assert space["units"] == [16, 32] and space["dropout"] == [0.1, 0.3]
    assert space["cell"] == ["lstm"] and space["bidirectional"] == [True, False]
    assert config.tuner_config()["algorithm"] == "bayesian"
    with pytest.raises(ConfigError, match="--tune-dropout"):
        make_config(tune_dropout=(0.5, 0.2))
    with pytest.raises(ConfigError, match="--tune-cells"):
        make_config(tune_cells=("rnn",))


def test_the_tuner_runs_by_default_and_every_preset_but_the_tutorials_keeps_it():
    """'auto' (components/tuner.py): a search on the first run, reuse later; the tutorial's
    presets train their fixed model."""
    assert make_config().tuning == "auto"
    assert {name: make_config(name).tuning for name in PRESETS} == {
        "full": "auto", "smoke": "auto", "recurrent": "auto", "seed": "fixed",
        "seed-gru": "fixed"}


@pytest.mark.parametrize("name, ok", [("imdb", True), ("a" * 40, True), ("a" * 41, False),
                                      ("a" * 63, False), ("My_Model", False), ("-imdb", False)])
def test_run_and_serving_config_accept_the_same_model_names(name, ok):
    """One rule (contract/names.py): a name `run` takes is one `serving-config` takes."""
    from pipeline.config import ConfigError
    from serving.models_config import validate_model_name

    def accepted(check) -> bool:
        try:
            check()
            return True
        except (ConfigError, ValueError):
            return False

    assert accepted(lambda: make_config(model_name=name)) is ok
    assert accepted(lambda: validate_model_name(name)) is ok
