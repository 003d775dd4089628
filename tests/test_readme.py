"""The README's two commands are what CI and users run; keep them in step with .ci/run."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command():
    ci_lines = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.startswith("#") and not line.startswith(("set ", "cd "))
    ]
    assert ci_lines == ["bash scripts/setup.sh --dev && .venv/bin/python -m pytest -q"]
    readme_commands = re.findall(r"```bash\n(.*?)\n```", (ROOT / "README.md").read_text(), re.S)
    assert ci_lines[0] in readme_commands


def test_readme_generate_command_uses_the_cli():
    readme = (ROOT / "README.md").read_text()
    assert 'bash scripts/setup.sh && .venv/bin/lyra-sim generate "a warehouse with shelves and four pallets"' in readme
