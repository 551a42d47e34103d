"""The layer rules in pyproject.toml ([tool.importlinter]) hold, and they can fail.

`make lint` runs the same check; this test also proves each kind of rule breaks when a forbidden
import is added, on a copy of the tree (the real tree is never touched).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
PACKAGES = ("exportsite", "campaigns", "exports")


def _lint_imports(tree: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=tree, capture_output=True, text=True, timeout=120, check=False
    )


def _copy_of_the_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copy(ROOT / "pyproject.toml", tree)
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tree / package, ignore=shutil.ignore_patterns("__pycache__"))
    return tree


def _add_import(module: Path, line: str) -> None:
    module.write_text(module.read_text() + f"\n{line}  # noqa\n")


def test_the_tree_keeps_every_contract():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        # The engine reaches the notifications only through signals.export_ended.
        (
            "exports/engine/outcomes.py",
            "from exports.services import notifications",
            "exports.engine is not allowed to import exports.services",
        ),
        ("campaigns/admin.py", "from exports import permissions", "campaigns is not allowed to import exports"),
        (
            "exports/serializers.py",
            "from exports.services import requesting",
            "exports.serializers is not allowed to import exports.services",
        ),
        ("exports/models.py", "from exports import states", "exports.models is not allowed to import exports.states"),
        # A cycle between siblings: storage ↔ links.
        ("exports/storage/__init__.py", "from exports import links", "No import cycles between sibling modules"),
    ],
    ids=["engine-to-services", "campaigns-to-exports", "serializer-to-service", "models-upwards", "cycle"],
)
def test_a_forbidden_import_breaks_a_contract(tmp_path, module, line, broken):
    tree = _copy_of_the_tree(tmp_path)
    target = tree / module
    if not target.exists():  # storage may be a module or a package
        target = tree / module.replace("/__init__.py", ".py")
    _add_import(target, line)
    result = _lint_imports(tree)
    assert result.returncode != 0, result.stdout
    assert broken in result.stdout.replace("\n", " ")
