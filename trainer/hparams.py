"""Hyperparameters of the model, and their defaults (the pipeline's model flags point here).

They travel from the pipeline config (or the Tuner's artifact) to `run_fn` as a plain dict, so
the trainer package never imports the pipeline package.
"""
import dataclasses
from typing import Any, Dict

CELLS = ("lstm", "gru")
TUNER_ALGORITHMS = ("random", "bayesian", "hyperband")  # Keras Tuner's (trainer/tuning.py).
POOLINGS = ("last", "max_mean")


@dataclasses.dataclass(frozen=True)
class ModelHParams:
    cell: str = "gru"
    num_layers: int = 1
    units: int = 64
    dropout: float = 0.3
    spatial_dropout: float = 0.2
    bidirectional: bool = True
    pooling: str = "max_mean"
    dense_units: int = 32
    learning_rate: float = 2e-3
    glove_trainable: bool = True

    def validate(self) -> "ModelHParams":
        errors = []
        if self.cell not in CELLS:
            errors.append(f"cell must be one of {CELLS}, got {self.cell!r}")
        if self.pooling not in POOLINGS:
            errors.append(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")
        for name in ("num_layers", "units", "dense_units"):
            if int(getattr(self, name)) < 1:
                errors.append(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("dropout", "spatial_dropout"):
            if not 0.0 <= float(getattr(self, name)) < 1.0:
                errors.append(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if not 0.0 < float(self.learning_rate) <= 1.0:
            errors.append(f"learning_rate must be in (0, 1], got {self.learning_rate}")
        if errors:
            raise ValueError("invalid model hyperparameters: " + "; ".join(errors))
        return self

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Dict[str, Any]) -> "ModelHParams":
        """Ignores unknown keys so a Tuner artifact with extra entries still loads."""
        types = {field.name: field.type for field in dataclasses.fields(cls)}
        # Keras Tuner's stepped floats carry float noise (0.30000000000000004): round it off.
        cast = {"bool": bool, "int": int, "float": lambda v: round(float(v), 8), "str": str}
        # Keras Tuner stores booleans of a Choice as 0/1; normalize to the declared types.
        return cls(**{k: cast.get(getattr(types[k], "__name__", str(types[k])), lambda v: v)(v)
                      for k, v in values.items() if k in types}).validate()
