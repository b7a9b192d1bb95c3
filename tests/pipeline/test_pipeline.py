import json

from pipeline.config import make_config
from pipeline.pipeline import code_fingerprint, create_pipeline


def test_code_change_changes_the_cache_key_of_trainer_functions(tmp_path):
    (tmp_path / "training.py").write_text("def run_fn(fn_args):\n    pass\n")
    before = code_fingerprint(str(tmp_path))
    (tmp_path / "training.py").write_text("def run_fn(fn_args):\n    return 1\n")
    assert code_fingerprint(str(tmp_path)) != before


def test_transform_tuner_and_trainer_carry_the_code_fingerprint():
    components = {c.id: c for c in create_pipeline(make_config()).components}
    for node in ("Transform", "Tuner", "Trainer"):
        custom_config = components[node].exec_properties["custom_config"]
        if isinstance(custom_config, str):
            custom_config = json.loads(custom_config)
        assert custom_config["code_fingerprint"] == code_fingerprint(), node
