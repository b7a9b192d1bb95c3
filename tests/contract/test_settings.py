import json

import pytest

from pipeline.config import make_config
from trainer.hparams import ModelHParams
from contract.settings import (SettingsError, TrainerSettings, TransformSettings,
                              TunerSettings)


@pytest.mark.parametrize("settings_class,method", [
    (TransformSettings, "transform_config"), (TrainerSettings, "trainer_config"),
    (TunerSettings, "tuner_config")])
def test_custom_config_round_trips_through_json_with_the_config_values(settings_class, method):
    config = make_config(units=24, batch_size=16, vocab_size=123)
    custom_config = json.loads(json.dumps({**getattr(config, method)(),
                                           "code_fingerprint": "abc"}))
    settings = settings_class.from_custom_config(custom_config)
    for name, value in (("batch_size", 16), ("vocab_size", 123)):
        if hasattr(settings, name):
            assert getattr(settings, name) == value
    if hasattr(settings, "hparams"):
        assert settings.hparams["units"] == 24


def test_a_missing_or_unknown_key_fails_instead_of_falling_back_to_a_default():
    custom_config = make_config().trainer_config()
    del custom_config["ensemble_size"]
    with pytest.raises(SettingsError, match="ensemble_size"):
        TrainerSettings.from_custom_config(custom_config)
    with pytest.raises(SettingsError, match="typo"):
        TransformSettings.from_custom_config({**make_config().transform_config(), "typo": 1})


def test_trainer_settings_carry_the_config_defaults():
    config = make_config()
    settings = TrainerSettings.from_custom_config(config.trainer_config())
    assert settings.ensemble_size == config.ensemble_size
    assert settings.reduce_lr_factor == config.reduce_lr_factor
    assert settings.average_from_epoch == config.average_from_epoch
    assert ModelHParams.from_dict(settings.hparams).learning_rate == config.learning_rate
    assert settings.length_buckets == config.length_buckets


def test_tuple_settings_come_back_as_tuples_after_json():
    config = make_config(length_buckets=(50, 90), wide_c_values=(0.2,))
    settings = TrainerSettings.from_custom_config(json.loads(json.dumps(config.trainer_config())))
    assert settings.length_buckets == (50, 90) and settings.wide_c_values == (0.2,)
    tuner = TunerSettings.from_custom_config(json.loads(json.dumps(config.tuner_config())))
    assert tuner.length_buckets == (50, 90) and isinstance(tuner.search_space["units"], list)
