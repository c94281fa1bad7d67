"""The project keeps its promises: the README's contract is the schema's, CI runs the README's test command,
the code passes the linter, and pages and components never touch SQL."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from data_access import schema

ROOT = Path(__file__).resolve().parent.parent


def test_readme_contract_is_the_schema() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("<!-- contract:start -->\n")[1].split("<!-- contract:end -->")[0]
    assert section == schema.contract_markdown(), "run: python -m data_access contract, and paste it in the README"


def test_readme_sources_are_the_catalogue() -> None:
    from data_access.sources import docs

    readme = (ROOT / "README.md").read_text()
    section = readme.split("<!-- sources:start -->\n")[1].split("<!-- sources:end -->")[0]
    assert section == docs.markdown(), "run: python -m data_access sources, and paste it in the README"


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
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text()
            assert "sqlalchemy" not in text, path
            assert not re.search(r"\b(SELECT|INSERT|DELETE|UPDATE)\s", text), path


# --- the house: no import cycle, one page list, small modules -------------------------------------------------------

PACKAGES = ("data_access", "components", "sample_data")


def _modules() -> dict[str, Path]:
    """The project's own modules by dotted name (a package is its ``__init__``), pages and app.py included."""
    found = {"app": ROOT / "app.py"}
    for top in (*PACKAGES, "pages"):
        for path in (ROOT / top).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules that importing ``name`` runs, as Python runs them: every import in the file, late ones
    inside functions too; ``from a.b import c`` runs ``a.b.c`` when that is a module, else takes ``c`` from ``a.b``;
    and importing a submodule first runs each package above it, except the packages ``name`` itself is inside
    (they are running already, and a sibling is reached without them)."""
    own_packages = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
    if path.name == "__init__.py":
        own_packages.add(name)
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            named = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            named = [
                f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module for a in node.names
            ]
        else:
            continue
        for module in named:  # the module named runs; so does each package above it, unless name is inside it
            parts = module.split(".")
            above = {".".join(parts[:i]) for i in range(1, len(parts))} - own_packages
            targets |= {m for m in (module, *above) if m in modules}
    targets.discard(name)
    return targets


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_the_project() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert graph["components.shell"] >= {"components.auth", "data_access.pages"}  # the graph sees imports
    assert "data_access.store" in graph["data_access.queries.kpis"]  # and the package a submodule runs first
    assert _cycles(graph) == []


def test_the_page_list_is_written_once_and_everything_derives_from_it() -> None:
    from components import shell
    from data_access import access
    from data_access import pages as registry
    from data_access.ops import bench, loadtest
    from tests import test_browser, test_i18n, test_pages

    scripts = {p.relative_to(ROOT).as_posix() for p in (ROOT / "pages").glob("*.py")}
    assert scripts == {p.path for p in registry.PAGES}, "a script in pages/ for every page of the registry, no other"
    for page in registry.PAGES:  # each script opens itself under its own key
        assert re.search(rf"shell\.(start|open_page)\(\"{page.key}\"\)", (ROOT / page.path).read_text()), page.path
    assert shell.PAGES is registry.PAGES
    assert access.PAGES == registry.KEYS
    assert {role: registry.pages_of(role) for role in access.ROLES} == access.ROLE_PAGES
    assert all(page.roles for page in registry.PAGES) and access.ROLE_PAGES[access.ADMIN] == set(registry.KEYS)
    assert [k for k in bench.QUERIES if k != bench.SIDEBAR] == [k for k in bench.QUERIES if k in registry.DATA_PAGES]
    assert set(bench.QUERIES) - {bench.SIDEBAR} == set(registry.DATA_PAGES)
    assert tuple(loadtest.PAGES) == registry.DATA_PAGES
    assert set(test_pages.PAGES) == set(test_i18n.RUSSIAN_PAGES) == scripts
    assert set(test_browser.PAGES.values()) == {p.title for p in registry.PAGES}


def test_the_menu_is_made_of_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    from components import shell
    from data_access import access
    from data_access import pages as registry

    monkeypatch.setattr(shell.st, "Page", lambda path, **kw: {"path": path, **kw})
    menu = shell.menu(access.Access.local())
    listed = [page for section in menu.values() for page in section]
    assert [p["path"] for p in listed] == [p.path for p in registry.PAGES]
    assert [(p["url_path"], p["title"], p["icon"]) for p in listed] == [
        (p.key, p.title, p.icon) for p in registry.PAGES
    ]
    assert list(menu) == list(dict.fromkeys(p.section for p in registry.PAGES))


MOST_LINES = 600
MOST_FLAT_MODULES = 12  # at the top of data_access/: the shared vocabulary; the rest lives in packages by concern


def test_no_module_is_over_600_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): n
        for path in _modules().values()
        if (n := len(path.read_text().splitlines())) > MOST_LINES
    }
    assert long == {}


def test_data_access_keeps_few_flat_modules() -> None:
    flat = sorted(p.name for p in (ROOT / "data_access").glob("*.py") if not p.name.startswith("__"))
    assert len(flat) <= MOST_FLAT_MODULES, flat


def test_builders_only_build() -> None:
    """components/builders/ returns figures, tables and files; what draws with Streamlit lives one level up."""
    modules = _modules()
    for name, path in modules.items():
        if name.startswith("components.builders"):
            imported = _imports(name, path, modules) | {
                a.name for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Import) for a in n.names
            }
            text = path.read_text()
            assert not re.search(r"^\s*(import streamlit|from streamlit)", text, re.M), path
            assert not {m for m in imported if m.startswith("components.") and "builders" not in m}, path


def test_the_interface_writes_through_one_path() -> None:
    """Every change made from a page runs through components/writes.py: no other component or page opens a writing
    engine for a change (auth.py writes the audit entry itself, session.py the first-run sample store)."""
    for folder in ("pages", "components"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "writes.py":
                continue
            text = path.read_text()
            assert "with_writer" not in text, path
            if path.name not in ("auth.py", "session.py"):
                assert "create_store_engine" not in text, path
