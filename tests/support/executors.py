"""Running a TFX component's executor directly, as its pod or Beam worker would."""
import socket

from tfx.utils import proto_utils


def artifact(cls, uri: str, **properties):
    """A TFX artifact of `cls` at `uri` with `properties` (e.g. split_names)."""
    made = cls()
    made.uri = uri
    for name, value in properties.items():
        setattr(made, name, value)
    return made


def exec_properties(component) -> dict:
    """The component's execution properties as its executor receives them (protos as JSON)."""
    return {name: proto_utils.proto_to_json(value) if hasattr(value, "DESCRIPTOR") else value
            for name, value in component.exec_properties.items() if value is not None}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
