import functools
import json
import os

from pipeline.config import make_config
from pipeline.fingerprint import code_fingerprint, module_closure
from pipeline.pipeline import PREPROCESSING_FN, RUN_FN, TUNER_FN, create_pipeline


def _package(root, **modules):
    for name, source in modules.items():
        path = root / "trainer" / f"{name}.py"
        path.parent.mkdir(exist_ok=True)
        (root / "trainer" / "__init__.py").touch()
        path.write_text(source)


def test_code_change_changes_the_cache_key_of_trainer_functions(tmp_path):
    _package(tmp_path, training="from trainer import data\ndef run_fn(fn_args):\n    pass\n",
             data="X = 1\n", preprocessing="def preprocessing_fn(inputs):\n    pass\n")
    before = code_fingerprint("trainer.training.run_fn", str(tmp_path))
    transform = code_fingerprint("trainer.preprocessing.preprocessing_fn", str(tmp_path))
    _package(tmp_path, training="from trainer import data\ndef run_fn(fn_args):\n    return 1\n")
    assert code_fingerprint("trainer.training.run_fn", str(tmp_path)) != before
    after = code_fingerprint("trainer.training.run_fn", str(tmp_path))
    _package(tmp_path, data="X = 2\n")  # A module it imports.
    assert code_fingerprint("trainer.training.run_fn", str(tmp_path)) != after
    # Transform's key sees none of it.
    assert code_fingerprint("trainer.preprocessing.preprocessing_fn", str(tmp_path)) == transform


def test_each_function_is_keyed_on_exactly_the_code_it_imports():
    transform = module_closure("trainer.preprocessing")
    assert "trainer.preprocessing" in transform and "contract.settings" in transform
    assert not {"trainer.training", "trainer.models", "trainer.tuning"} & set(transform)
    training = module_closure("trainer.training")
    assert {"trainer.training", "trainer.models", "trainer.data", "trainer.preprocessing",
            "contract.signatures"} <= set(training) and "trainer.tuning" not in training
    assert "trainer.tuning" in module_closure("trainer.tuning")
    assert all(name.split(".")[0] in ("trainer", "contract")
               for name in module_closure("trainer.distill"))


def test_transform_tuner_and_trainer_carry_the_code_fingerprint():
    components = {c.id: c for c in create_pipeline(make_config(tuning="tune")).components}
    for node, function in (("Transform", PREPROCESSING_FN), ("Tuner", TUNER_FN),
                           ("Trainer", RUN_FN)):
        custom_config = components[node].exec_properties["custom_config"]
        if isinstance(custom_config, str):
            custom_config = json.loads(custom_config)
        assert custom_config["code_fingerprint"] == code_fingerprint(function), node
    assert code_fingerprint(PREPROCESSING_FN) != code_fingerprint(RUN_FN)


def _validate(slice_key, candidate, baseline, lower_end=None, slice_lower_end=0.0, **config):
    """TFMA's own validator on one slice's accuracies and the non-inferiority metric (the
    lower end of candidate - served; default: the point difference), with the pipeline's
    EvalConfig as TFX's Evaluator completes it when a baseline is there."""
    from tensorflow_model_analysis.evaluators import metrics_validator
    from tensorflow_model_analysis.metrics import metric_types
    from tensorflow_model_analysis.utils import config_util

    from components.gate_metrics import NON_INFERIORITY, SLICE_NON_INFERIORITY
    from pipeline.config import make_config
    from pipeline.pipeline import eval_config

    config = config_util.update_eval_config_with_defaults(
        eval_config(make_config(**config)), has_baseline=True)
    key = functools.partial(metric_types.MetricKey, "binary_accuracy")
    metrics = {key(model_name="candidate"): candidate, key(model_name="baseline"): baseline,
               metric_types.MetricKey(NON_INFERIORITY, model_name="candidate"):
                   candidate - baseline if lower_end is None else lower_end,
               metric_types.MetricKey(SLICE_NON_INFERIORITY, model_name="candidate"):
                   slice_lower_end}
    return metrics_validator.validate_metrics((slice_key, metrics), config).validation_ok


def test_the_gates_judge_overall_accuracy_not_each_class():
    """A served model that calls everything positive scores 1.0 on the label=1 slice; a gate
    on every slice would refuse every later candidate for scoring less there."""
    slices = {"eval_label_slices": True}
    assert _validate((("label", 1),), candidate=0.93, baseline=1.0, **slices)
    assert _validate((("label", 0),), candidate=0.0, baseline=0.5, min_accuracy=0.9, **slices)
    assert _validate((), candidate=0.92, baseline=0.91, **slices)
    assert not _validate((), candidate=0.80, baseline=0.70, min_accuracy=0.85)  # The bar.


def test_the_served_model_is_compared_by_the_lower_end_of_the_paired_interval():
    """Not by the point estimates: a candidate that scores less than the served model is
    blessed when the interval shows it at most --max-accuracy-drop worse, and one that scores
    more is refused when the interval reaches further down."""
    assert _validate((), candidate=0.918, baseline=0.919, lower_end=-0.0045)
    assert not _validate((), candidate=0.921, baseline=0.919, lower_end=-0.0055)
    assert not _validate((), candidate=0.90, baseline=0.91, lower_end=-0.02)
    assert _validate((), candidate=0.90, baseline=0.91, lower_end=-0.02, max_accuracy_drop=0.03)
    assert not _validate((), candidate=0.92, baseline=0.92, lower_end=-0.0001,
                         max_accuracy_drop=0.0)
    # The slice bar: the worst slice's lower end against --max-slice-accuracy-drop.
    assert _validate((), candidate=0.92, baseline=0.92, slice_lower_end=-0.019)
    assert not _validate((), candidate=0.92, baseline=0.92, slice_lower_end=-0.021)
    assert _validate((), candidate=0.92, baseline=0.92, slice_lower_end=-0.5,
                     max_slice_accuracy_drop=1.0)
    # A slice may drop at least as much as the whole: --max-accuracy-drop 1 turns both off.
    assert _validate((), candidate=0.92, baseline=0.92, lower_end=-0.5, slice_lower_end=-0.5,
                     max_accuracy_drop=1.0)


def test_label_slices_are_opt_in():
    from pipeline.config import make_config
    from pipeline.pipeline import eval_config

    default = eval_config(make_config())
    assert [list(s.feature_keys) for s in default.slicing_specs] == [[]]
    sliced = eval_config(make_config(eval_label_slices=True, label_feature="sentiment"))
    assert [list(s.feature_keys) for s in sliced.slicing_specs] == [[], ["sentiment"]]


def test_the_default_pipeline_tunes_and_the_trainer_continues_the_tuners_model():
    def wiring(**overrides):
        components = {c.id: c for c in create_pipeline(make_config(**overrides)).components}
        trainer = components["Trainer"]
        base = trainer.inputs.get("base_model")
        return components, trainer, base and base.producer_component_id

    components, trainer, base_from = wiring()
    assert components["Tuner"].exec_properties["mode"] == "auto"
    assert base_from == "Tuner"
    assert trainer.inputs["hyperparameters"].producer_component_id == "Tuner"
    # --warm-start: the served model goes to the Tuner (every trial starts there), whose
    # handed-on model the Trainer continues.
    components, _, base_from = wiring(warm_start=True)
    assert components["Tuner"].inputs["base_model"].producer_component_id == "WarmStartModel"
    assert base_from == "Tuner"
    components, trainer, base_from = wiring(tuning="fixed", warm_start=True)
    assert "Tuner" not in components and base_from == "WarmStartModel"
    assert "hyperparameters" not in trainer.inputs or trainer.inputs["hyperparameters"] is None
    components, _, base_from = wiring(tuning="fixed")
    assert base_from is None


def test_the_evaluators_cache_key_holds_the_gate_metrics_code(tmp_path):
    """TFMA imports the gate's metric by name; its source hash in the EvalConfig reruns the
    Evaluator when that code changes instead of reusing a cached evaluation."""
    import shutil

    from pipeline.pipeline import GATE_METRIC, eval_config

    gate = [m for m in eval_config(make_config()).metrics_specs[0].metrics
            if m.module == "components.gate_metrics"]
    assert [m.class_name for m in gate] == ["PairedIntervals", "SliceIntervals"]
    recorded = json.loads(gate[0].config)["code_fingerprint"]
    assert json.loads(gate[1].config)["code_fingerprint"] == recorded
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert recorded == code_fingerprint(GATE_METRIC, here, ("components",))
    (tmp_path / "components").mkdir()
    copy = tmp_path / "components" / "gate_metrics.py"
    shutil.copy(os.path.join(here, "components", "gate_metrics.py"), copy)
    assert code_fingerprint(GATE_METRIC, str(tmp_path), ("components",)) == recorded
    copy.write_text(copy.read_text() + "\nTHRESHOLD = 0.6\n")
    assert code_fingerprint(GATE_METRIC, str(tmp_path), ("components",)) != recorded
