"""Metrics with their intervals as words, the same in the text report, the HTML report and the
reasons a run gives for not blessing."""
from typing import Any, Dict, List

from components import gate_metrics


def _number(value) -> str:
    """4 decimals; TFMA stores an undefined metric (precision with no positive prediction) as
    the string 'NaN', shown as it is."""
    return f"{value:.4f}" if isinstance(value, (int, float)) else str(value)


def interval_text(metrics: Dict[str, float], name: str) -> str:
    """'0.9199 (95 % interval 0.9165 to 0.9232)'; the point alone without an interval."""
    value = metrics.get(name)
    if value is None:
        return "?"
    low, high = (metrics.get(gate_metrics.lower(name)), metrics.get(gate_metrics.upper(name)))
    if low is None or high is None:
        return _number(value)
    return f"{_number(value)} (95 % interval {_number(low)} to {_number(high)})"


def slice_rows(metrics: Dict[str, float]) -> List[Dict[str, Any]]:
    """One dict per slice of the gate's slice metric: name ("length=long (> 212 tokens)"),
    reviews and the statistics by their plain names."""
    rows = {}
    for key, value in metrics.items():
        if "@" in key:
            statistic, where = key.split("@", 1)
            rows.setdefault(where, {})[statistic] = value
    result = []
    edges = {where: row.get("max_tokens") for where, row in rows.items()}
    for where, row in rows.items():
        name = where
        if where in ("length=short", "length=middle") and edges.get(where) is not None:
            name += f" (<= {edges[where]:.0f} tokens)"
        elif where == "length=long" and edges.get("length=middle") is not None:
            name += f" (> {edges['length=middle']:.0f} tokens)"
        result.append({"where": where, "name": name, **row})
    return result


def difference_text(metrics: Dict[str, float]) -> str:
    """Candidate - served accuracy with its paired interval, signed."""
    name = gate_metrics.ACCURACY_DIFF
    value, low, high = (metrics.get(name), metrics.get(gate_metrics.lower(name)),
                        metrics.get(gate_metrics.upper(name)))
    if not all(isinstance(v, (int, float)) for v in (value, low, high)):
        return "candidate - served: ?"
    return f"candidate - served {value:+.4f} (95 % interval {low:+.4f} to {high:+.4f})"
