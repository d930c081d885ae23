"""The apps are layered (docs/design.md, "Layers"): an app imports only apps below it, so the ground floor (the
catalogue) can be understood, tested and changed without the floors above it. Checked on the source with ``ast``:
imports anywhere in a file (inside functions too) and ``importlib.import_module("…")`` with a literal name.
"""

import ast
import re
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.embedded

ROOT = Path(__file__).resolve().parent.parent

# Lowest first. The project package's modules other than its roof (URLs, WSGI/ASGI) are the floor everyone stands
# on; then the mail engine (mailings: any kind of mail, exactly once; its kinds register from above), sign-in,
# the catalogue, practices (kinds of catalogue entry), the inbox of sources, issues (built from catalogue
# entries), the library (reads catalogue and issues), subscribers (mail issues), alerts (mail library filters),
# and demo (seeds them all).
LAYERS = [
    "dgd",
    "mailings",
    "accounts",
    "policies",
    "practices",
    "sources",
    "issues",
    "library",
    "subscribers",
    "alerts",
    "demo",
]
# dgd's modules that wire every app together (and prepare a serving process): above all of them.
ROOF = {"dgd.urls", "dgd.wsgi", "dgd.asgi", "dgd.startup"}


def app_packages():
    return [name for name in LAYERS if (ROOT / name / "__init__.py").exists()]


def source_files(package):
    """An app's Python files, its migrations aside (tests/test_migrations_frozen.py holds those to a stricter rule)."""
    return sorted(
        path
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.relative_to(ROOT).parts and not (package == "dgd" and _module(path) in ROOF)
    )


def _module(path):
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def imports_of(path):
    """(line, module) for every import of a file, ``importlib.import_module("literal")`` included."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value


def upward_imports(package, layers):
    """Imports from ``package`` of an app above it, or of the project's roof."""
    rank = {name: position for position, name in enumerate(layers)}
    found = []
    for path in source_files(package):
        for line, module in imports_of(path):
            top = module.split(".")[0]
            if module in ROOF or (top in rank and rank[top] > rank[package]):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return found


def test_every_local_app_has_a_place_in_the_layers():
    local = {app.split(".")[0] for app in settings.INSTALLED_APPS if (ROOT / app.split(".")[0]).is_dir()}
    assert local <= set(LAYERS), f"place {sorted(local - set(LAYERS))} in LAYERS and in docs/design.md"


def test_the_layers_are_written_down_in_the_design():
    design = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    written = re.search(r"<!-- layers -->(.*?)<!-- /layers -->", design, re.S)
    assert written, "docs/design.md lists the layers between <!-- layers --> and <!-- /layers -->"
    assert re.findall(r"`(\w+)`", written[1]) == LAYERS


@pytest.mark.parametrize("package", app_packages())
def test_an_app_imports_only_the_apps_below_it(package):
    assert upward_imports(package, LAYERS) == []


def test_the_check_sees_an_import_inside_a_function_and_through_importlib(tmp_path, monkeypatch):
    floor = tmp_path / "policies"
    floor.mkdir()
    (floor / "__init__.py").write_text("")
    (floor / "seed.py").write_text(
        "import importlib\nfrom policies.models import Entry\n"
        "def run():\n    from issues.models import Issue\n    importlib.import_module('subscribers.demo')\n"
    )
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    assert upward_imports("policies", LAYERS) == [
        "policies/seed.py:4 imports issues.models",
        "policies/seed.py:5 imports subscribers.demo",
    ]


# Files outside the repository that an earlier version cited; the repository must stand on its own.
OUTSIDE = re.compile(r"\b(DESIGN|STYLE|GLOSSARY|PERFORMANCE-NOTES)\.md\b|\.\./shared\b")
TEXT_SUFFIXES = {".py", ".md", ".html", ".txt", ".toml", ".yml", ".yaml", ".sh", ".css", ".js", ".po", ".cfg"}
SKIP_DIRS = {".git", ".venv", "var", "node_modules", "__pycache__", "dgd.egg-info"}


def repository_text_files():
    for path in ROOT.rglob("*"):
        parts = set(path.relative_to(ROOT).parts)
        if parts & SKIP_DIRS or not path.is_file():
            continue
        if path.suffix in TEXT_SUFFIXES or path.name in {"Makefile", "Dockerfile", "run"}:
            yield path


def test_nothing_cites_a_file_outside_the_repository():
    this_file = Path(__file__).resolve()
    citing = [
        f"{path.relative_to(ROOT)}: {match[0]}"
        for path in repository_text_files()
        if path.resolve() != this_file
        for match in OUTSIDE.finditer(path.read_text(encoding="utf-8", errors="replace"))
    ]
    assert citing == []
