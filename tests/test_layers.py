"""The layers point one way (docs/ARCHITECTURE.md): netsim knows nothing above it, emulator only
netsim, vkernel only emulator and netsim; the front (vcluster) sits on top. Read from the sources
with ast, every import anywhere in a module (a function's deferred import too)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# the packages of the project each layer must not import (guest and configs are shared by all)
FORBIDDEN = {
    "netsim": {"emulator", "vkernel", "vcluster"},
    "emulator": {"vkernel", "vcluster"},
    "vkernel": {"vcluster"},
}


def imports_of(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, top-level package) of every import in a module, relative imports resolved."""
    tree = ast.parse(path.read_text(), str(path))
    package = path.relative_to(root).parts[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append(
                (node.lineno, package if node.level else (node.module or "").split(".")[0])
            )
    return found


def upward_imports(layer: str, root: Path = ROOT) -> list[str]:
    return [
        f"{path.relative_to(root).as_posix()}:{line}: imports {top}"
        for path in sorted((root / layer).rglob("*.py"))
        for line, top in imports_of(path, root)
        if top in FORBIDDEN[layer]
    ]


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_no_layer_imports_a_layer_above_it(layer):
    assert upward_imports(layer) == []


def test_the_check_sees_an_upward_import(tmp_path):
    """A deferred import inside a function (as vkernel/workloads.py had) and a relative one."""
    (tmp_path / "vkernel" / "servers").mkdir(parents=True)
    (tmp_path / "vkernel" / "m.py").write_text(
        "import netsim.scheduler\n\ndef f():\n    from vcluster.session import Session\n"
    )
    (tmp_path / "vkernel" / "servers" / "s.py").write_text("from ..kernel import Kernel\n")
    (tmp_path / "emulator").mkdir()
    (tmp_path / "emulator" / "e.py").write_text("from vkernel import ops\nfrom . import cpu\n")
    assert upward_imports("vkernel", tmp_path) == ["vkernel/m.py:4: imports vcluster"]
    assert upward_imports("emulator", tmp_path) == ["emulator/e.py:1: imports vkernel"]
