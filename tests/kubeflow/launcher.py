"""Runs tasks of a compiled PipelineSpec the way a KFP launcher would, on local files.

For each task it builds the `ExecutorInput` from the spec (artifact types from the component's
definitions, producers' outputs as inputs, constant or root-default parameters), substitutes
`{{$}}` in the container's exact command and args, runs it as a subprocess with the venv's
Python and reads back the `ExecutorOutput` the entrypoint wrote. Remote paths in parameter
values are swapped for local ones; nothing else in the spec is touched.
"""
import json
import os
import subprocess
import sys
from typing import Any, Dict, List, Optional

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def topological_order(spec: Dict[str, Any]) -> List[str]:
    tasks = spec["root"]["dag"]["tasks"]
    done: List[str] = []
    while len(done) < len(tasks):
        ready = sorted(name for name, task in tasks.items() if name not in done
                       and set(task.get("dependentTasks", [])) <= set(done))
        assert ready, f"cycle among {set(tasks) - set(done)}"
        done.append(ready[0])
    return done


class LocalLauncher:
    def __init__(self, spec: Dict[str, Any], root: str, local_paths: Dict[str, str]):
        self.spec = spec
        self.root = root
        # Longest first, so gs://b/out/x is replaced before gs://b/out.
        self.local_paths = sorted(local_paths.items(), key=lambda item: -len(item[0]))
        self.outputs: Dict[str, Dict[str, Dict[str, Any]]] = {}  # task -> key -> artifact
        # task -> parameter values its pre-cache-check driver resolved (a file-based
        # ExampleGen's span, version, fingerprint and input_config), which KFP hands to the
        # executor in place of the compiled ones.
        self.driver_parameters: Dict[str, Dict[str, Any]] = {}

    def _localize(self, value: Any) -> Any:
        if isinstance(value, str):
            for remote, local in self.local_paths:
                value = value.replace(remote, local)
        return value

    def _parameter(self, spec: Dict[str, Any]) -> Any:
        if "componentInputParameter" in spec:
            root = self.spec["root"]["inputDefinitions"]["parameters"]
            return self._localize(root[spec["componentInputParameter"]]["defaultValue"])
        return self._localize(spec["runtimeValue"]["constant"])

    def executor_input(self, task_name: str, run: str) -> Dict[str, Any]:
        task = self.spec["root"]["dag"]["tasks"][task_name]
        component = self.spec["components"][task["componentRef"]["name"]]
        inputs = {}
        for key, source in task.get("inputs", {}).get("artifacts", {}).items():
            producer = source["taskOutputArtifact"]
            inputs[key] = {"artifacts": [
                self.outputs[producer["producerTask"]][producer["outputArtifactKey"]]]}
        task_dir = os.path.join(self.root, f"{task_name}{run}")
        outputs = {}
        for key, definition in component.get("outputDefinitions", {}).get("artifacts",
                                                                           {}).items():
            outputs[key] = {"artifacts": [{
                "name": f"artifacts/{task_name}{run}-{key}", "type": definition["artifactType"],
                "uri": os.path.join(task_dir, key), "metadata": {}}]}
        parameters = {key: self._parameter(value)
                      for key, value in task.get("inputs", {}).get("parameters", {}).items()}
        parameters.update(self.driver_parameters.get(task_name, {}))
        return {"inputs": {"artifacts": inputs, "parameterValues": parameters},
                "outputs": {"artifacts": outputs,
                            "outputFile": os.path.join(task_dir, "executor_output.json")}}

    def container(self, task_name: str) -> Dict[str, Any]:
        task = self.spec["root"]["dag"]["tasks"][task_name]
        label = self.spec["components"][task["componentRef"]["name"]]["executorLabel"]
        return self.spec["deploymentSpec"]["executors"][label]["container"]

    def command(self, task_name: str, executor_input: Dict[str, Any],
                hook: str = "") -> List[str]:
        """The container's command and args (or those of its lifecycle `hook`, e.g.
        "preCacheCheck"), exactly as compiled, with `{{$}}` filled in."""
        container = self.container(task_name)
        if hook:
            container = container["lifecycle"][hook]
        serialized = json.dumps(executor_input)
        return [*container["command"], *(arg.replace("{{$}}", serialized)
                                         for arg in container["args"])]

    def _execute(self, command: List[str], executor_input: Dict[str, Any], task_name: str,
                 timeout: float) -> Dict[str, Any]:
        assert command[0] == "python"
        env = {**os.environ, "PYTHONPATH": REPO_ROOT, "TF_CPP_MIN_LOG_LEVEL": "2"}
        task_dir = os.path.dirname(executor_input["outputs"]["outputFile"])
        os.makedirs(task_dir, exist_ok=True)
        process = subprocess.run([sys.executable, *command[1:]], env=env, cwd=task_dir,
                                 capture_output=True, text=True, timeout=timeout)
        assert process.returncode == 0, (f"{task_name} failed ({process.returncode}):\n"
                                         f"{process.stderr[-4000:]}")
        with open(executor_input["outputs"]["outputFile"]) as output_file:
            return json.load(output_file)

    def run_driver(self, task_name: str, run: str = "", timeout: float = 600) -> Dict[str, Any]:
        """Runs the task's pre-cache-check driver (as KFP does before the cache lookup) and
        keeps the parameters it resolved for the executor."""
        executor_input = self.executor_input(task_name, run + "-driver")
        driver_output = self._execute(self.command(task_name, executor_input, "preCacheCheck"),
                                      executor_input, task_name + " driver", timeout)
        self.driver_parameters[task_name] = driver_output.get("parameterValues", {})
        return driver_output

    def run(self, task_name: str, run: str = "", timeout: float = 600) -> Dict[str, Any]:
        """Runs one task; returns its ExecutorOutput and records its output artifacts."""
        executor_input = self.executor_input(task_name, run)
        executor_output = self._execute(self.command(task_name, executor_input),
                                        executor_input, task_name, timeout)
        recorded = {}
        for key, declared in executor_input["outputs"]["artifacts"].items():
            written: Optional[Dict[str, Any]] = (
                executor_output.get("artifacts", {}).get(key, {}).get("artifacts", [None])[0])
            assert written is not None, f"{task_name} wrote no {key!r} artifact"
            # KFP records what the executor reported (uri, metadata) under the declared type.
            recorded[key] = {**declared["artifacts"][0], "uri": written["uri"],
                             "metadata": written.get("metadata", {})}
        self.outputs[task_name] = recorded
        return executor_output
