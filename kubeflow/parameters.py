"""Pipeline parameters a cluster user sets per run, without recompiling.

TFX compiles a `RuntimeParameter` into a root input of the spec only where it stands for a whole
primitive execution property (int, float or str). In this pipeline those are TfdsExampleGen's
(with --input-pattern there are none: the file-based ExampleGen's settings are protos):

  max_examples   int  reviews read per TFDS split, 0 = all (e.g. a quick run on the cluster)
  eval_percent   int  percent of TFDS `train` hashed into `eval`
  tfds_data_dir  str  the TFDS data dir (not re-checked at run time: give a gs:// URI)

Everything else needs a recompile: model, training and tuning settings and the GloVe path sit
in the Transform/Tuner/Trainer `custom_config` (a dict; TFX type-checks it as one, so it cannot
be a parameter), accuracy thresholds in the Evaluator's `eval_config` proto, the serving dir in
the Pusher's `push_destination` proto.
"""
import dataclasses
from typing import Any, Dict, Sequence

from tfx.orchestration import data_types

from pipeline.config import ConfigError
from pipeline import nodes


@dataclasses.dataclass(frozen=True)
class Parameter:
    name: str  # Root input name in the compiled spec.
    component_id: str
    exec_property: str
    ptype: type


PARAMETERS = (
    Parameter("max_examples", nodes.EXAMPLE_GEN, "max_examples", int),
    Parameter("eval_percent", nodes.EXAMPLE_GEN, "eval_percent", int),
    Parameter("tfds_data_dir", nodes.EXAMPLE_GEN, "data_dir", str),
)

_PARSERS = {"NUMBER_INTEGER": int, "NUMBER_DOUBLE": float, "STRING": str,
            "BOOLEAN": lambda text: {"true": True, "false": False}[text.lower()]}


def attach(pipeline) -> Dict[str, Any]:
    """Turns the properties above into RuntimeParameters defaulting to their compiled values."""
    components = {component.id: component for component in pipeline.components}
    defaults = {}
    for parameter in PARAMETERS:
        if parameter.component_id not in components:
            continue
        properties = components[parameter.component_id].exec_properties
        value = properties[parameter.exec_property]
        properties[parameter.exec_property] = data_types.RuntimeParameter(
            name=parameter.name, ptype=parameter.ptype, default=value)
        defaults[parameter.name] = value
    return defaults


def add_defaults(pipeline_spec: Dict[str, Any], defaults: Dict[str, Any]) -> None:
    """TFX leaves root inputs without defaults; KFP would then demand every value per run."""
    if not defaults:
        return
    definitions = pipeline_spec["root"]["inputDefinitions"]["parameters"]
    for name, value in defaults.items():
        definitions[name]["defaultValue"] = value
        definitions[name]["isOptional"] = True


def parse_assignments(pipeline_spec: Dict[str, Any],
                      assignments: Sequence[str]) -> Dict[str, Any]:
    """`NAME=VALUE` strings, typed by the spec's root inputs; every problem in one ConfigError."""
    definitions = pipeline_spec.get("root", {}).get("inputDefinitions", {}).get("parameters", {})
    values, errors = {}, []
    for assignment in assignments:
        name, sep, text = assignment.partition("=")
        if not sep:
            errors.append(f"--parameter {assignment!r}: expected NAME=VALUE")
        elif name not in definitions:
            errors.append(f"--parameter {name}: not a parameter of this pipeline (it has "
                          f"{sorted(definitions) or 'none'})")
        else:
            kind = definitions[name].get("parameterType", "STRING")
            try:
                values[name] = _PARSERS[kind](text)
            except (KeyError, ValueError):
                errors.append(f"--parameter {name}={text!r}: not a valid {kind}")
    if errors:
        raise ConfigError("invalid run parameters:\n  - " + "\n  - ".join(errors))
    return values
