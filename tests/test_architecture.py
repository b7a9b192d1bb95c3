"""docs/architecture.md's import rules, checked on the source (imports inside functions count)."""
import ast
import glob
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# package -> the project packages it may import (besides itself). docs/architecture.md draws it.
ALLOWED = {
    "contract": set(),
    "trainer": {"contract"},
    "serving": {"contract"},
    "components": {"contract", "serving"},
    "pipeline": {"contract", "components", "trainer"},
    "reports": {"contract", "components", "pipeline", "trainer"},
    "kubeflow": {"contract", "pipeline"},
    "cli": {"contract", "components", "pipeline", "reports", "trainer", "serving", "kubeflow"},
}


def _imports(path: str):
    with open(path, "rb") as source:
        tree = ast.parse(source.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _module_graph():
    """module -> project modules it imports."""
    modules = {os.path.relpath(p, ROOT)[:-3].replace(os.sep, "."): p
               for package in ALLOWED for p in glob.glob(os.path.join(ROOT, package, "*.py"))}
    modules = {name[:-len(".__init__")] if name.endswith(".__init__") else name: path
               for name, path in modules.items()}
    return {name: {m for m in _imports(path) if m in modules and m != name}
            for name, path in modules.items()}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_packages_import_only_what_the_architecture_allows(package):
    wrong = {f"{module} imports {target}" for module, targets in _module_graph().items()
             if module.split(".")[0] == package for target in targets
             if target.split(".")[0] not in ALLOWED[package] | {package}}
    assert not wrong


def test_components_read_the_serving_dir_but_write_no_deployment_files():
    """The Pusher runs in every pipeline: it needs the version folders and models.config, not
    the writers of Docker and Kubernetes files (nor the clients)."""
    used = {target for module, targets in _module_graph().items()
            if module.startswith("components.") for target in targets
            if target.startswith("serving.")}
    assert used <= {"serving.versions", "serving.models_config"}, used


def test_every_package_is_in_the_rules_and_in_setup_py():
    packages = {os.path.basename(os.path.dirname(p))
                for p in glob.glob(os.path.join(ROOT, "*", "__init__.py"))} - {"tests"}
    assert packages == set(ALLOWED)
    with open(os.path.join(ROOT, "setup.py")) as setup:
        text = setup.read()
    assert all(f'"{package}", "{package}.*"' in text for package in ALLOWED)


def test_no_import_cycle_between_modules():
    graph, state = _module_graph(), {}

    def visit(module, path):
        if state.get(module) == "done":
            return
        assert state.get(module) != "open", " -> ".join(path + [module])
        state[module] = "open"
        for target in sorted(graph[module]):
            visit(target, path + [module])
        state[module] = "done"

    for module in sorted(graph):
        visit(module, [])
