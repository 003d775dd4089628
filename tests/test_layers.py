"""The layer contract (pyproject.toml's import-linter `layers` contract, ARCHITECTURE.md) holds.

import-linter reads the package from disk, so it is given the package as installed: `envs/` and
`exporters/` placed inside `lyra_sim/` by the setuptools ``package-dir`` mapping.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"]


def installed_tree(dest: Path) -> Path:
    """Copy the package's ``.py`` files to ``dest`` laid out as setuptools installs them; returns ``dest``."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    mapping = config["tool"]["setuptools"]["package-dir"]
    for package, source in sorted(mapping.items(), key=lambda kv: kv[0].count(".")):  # parents first
        target = dest.joinpath(*package.split("."))
        for file in (ROOT / source).rglob("*.py"):
            relative = file.relative_to(ROOT / source)
            if relative.parts[0] in {p.split(".")[-1] for p in mapping if p.startswith(package + ".")}:
                continue  # a subpackage mapped from elsewhere (lyra_sim/envs is envs/)
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file, target / relative)
    shutil.copyfile(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def lint(tree: Path) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"}
    return subprocess.run([*LINT_IMPORTS, "--no-cache", "pyproject.toml"], cwd=tree, env=env, capture_output=True, text=True)


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    pytest.importorskip("importlinter", reason="import-linter is not installed (pip install -e '.[dev]')")
    return installed_tree(tmp_path_factory.mktemp("installed"))


def test_every_import_points_down_the_layers(tree):
    assert (tree / "lyra_sim" / "envs" / "vector_env.py").is_file() and (tree / "lyra_sim" / "exporters" / "usd.py").is_file()
    result = lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_an_upward_import_inside_a_function_breaks_the_contract(tree, tmp_path):
    broken = shutil.copytree(tree, tmp_path / "broken")
    scene = broken / "lyra_sim" / "scene.py"
    scene.write_text(scene.read_text() + "\n\ndef _cli():\n    from lyra_sim.cli import main\n\n    return main\n")
    result = lint(broken)
    assert result.returncode == 1
    assert "lyra_sim.scene -> lyra_sim.cli" in result.stdout, result.stdout


def test_a_module_outside_every_layer_breaks_the_contract(tree, tmp_path):
    broken = shutil.copytree(tree, tmp_path / "unplaced")
    (broken / "lyra_sim" / "helpers.py").write_text("X = 1\n")
    result = lint(broken)
    assert result.returncode == 1 and "lyra_sim.helpers" in result.stdout, result.stdout
