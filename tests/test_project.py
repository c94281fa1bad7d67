"""The project keeps its promises: the README's contract is the schema's, CI runs the README's test command,
the code passes the linter, and pages and components never touch SQL."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from data_access import schema

ROOT = Path(__file__).resolve().parent.parent


def test_readme_contract_is_the_schema() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("<!-- contract:start -->\n")[1].split("<!-- contract:end -->")[0]
    assert section == schema.contract_markdown(), "run: python -m data_access contract, and paste it in the README"


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"^(python -m pytest)\s+# the tests$", readme, re.M)
    assert command is not None
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(rf"^{re.escape(command.group(1))}\b", ci, re.M)


def test_ruff_is_clean() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--output-format", "concise", str(ROOT)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout


def test_pages_and_components_write_no_sql() -> None:
    for folder in ("pages", "components"):
        for path in (ROOT / folder).glob("*.py"):
            text = path.read_text()
            assert "sqlalchemy" not in text, path
            assert not re.search(r"\b(SELECT|INSERT|DELETE|UPDATE)\s", text), path
