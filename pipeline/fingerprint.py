"""Cache keys for the code TFX runs by import path.

Transform, Tuner and Trainer reference their functions by import path
(`trainer.preprocessing.preprocessing_fn`), which TFX's cache cannot see into. Each gets the hash
of exactly the project modules its function imports, directly or not, in its custom_config:
a change to training code reruns the Tuner and Trainer but not Transform, and a docstring
elsewhere reruns nothing (what `module_file=` would do, without packaging the code each run).
"""
import ast
import hashlib
import os
from typing import List, Optional, Tuple

# Packages whose code runs inside Transform, Tuner and Trainer (the rest is TFX's or the
# pipeline's own, which the cache keys through the component's other properties).
PROJECT_PACKAGES = ("trainer", "contract")
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _module_path(module: str, root: str) -> Optional[str]:
    base = os.path.join(root, *module.split("."))
    for path in (base + ".py", os.path.join(base, "__init__.py")):
        if os.path.exists(path):
            return path
    return None


def _imported(tree: ast.AST) -> List[str]:
    names = []
    for node in ast.walk(tree):  # Imports inside functions count too.
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            # `from trainer import data` imports trainer.data (a module) or a name of trainer.
            names += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def module_closure(module: str, root: str = _ROOT,
                   packages: Tuple[str, ...] = PROJECT_PACKAGES) -> List[str]:
    """`module` and every module of `packages` it imports, directly or not, sorted."""
    seen, todo = set(), [module]
    while todo:
        name = todo.pop()
        path = _module_path(name, root)
        if name in seen or path is None or name.split(".")[0] not in packages:
            continue
        seen.add(name)
        with open(path, "rb") as source:
            todo += _imported(ast.parse(source.read(), path))
    return sorted(seen)


def code_fingerprint(function_path: str, root: str = _ROOT,
                     packages: Tuple[str, ...] = PROJECT_PACKAGES) -> str:
    """Hash of the sources `function_path`'s module needs (e.g. "trainer.training.run_fn")."""
    digest = hashlib.sha256()
    for name in module_closure(function_path.rsplit(".", 1)[0], root, packages):
        digest.update(name.encode())
        with open(_module_path(name, root), "rb") as source:
            digest.update(source.read())
    return digest.hexdigest()[:16]
