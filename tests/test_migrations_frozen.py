"""A migration means the same forever: it imports no application code, so changing that code never changes what
an old migration does to a database. The staff roles, which migrations used to sync, are ensured after every
migrate instead (``dgd.apps``)."""

import ast
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.management.sql import emit_post_migrate_signal

from dgd import roles

ROOT = Path(__file__).resolve().parent.parent

# A custom model field's module: Django's migration writer refers to the field's class by its import path, so
# these modules are part of the schema's history and keep their names and behaviour (docs/design.md).
FIELD_MODULES = {"policies.safety"}


def first_party_packages():
    return {path.parent.name for path in ROOT.glob("*/__init__.py")}


def migration_files():
    return sorted(
        path
        for package in first_party_packages()
        for path in (ROOT / package / "migrations").glob("*.py")
        if path.name != "__init__.py"
    )


def imported_modules(tree):
    """Every module a file imports, at the top or inside a function; a relative import as ``.name``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield "." * node.level + (node.module or "")


def forbidden_imports(path, first_party):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        module
        for module in imported_modules(tree)
        if module.startswith(".") or (module.split(".")[0] in first_party and module not in FIELD_MODULES)
    ]


def test_the_migrations_are_found():
    names = {f"{path.parent.parent.name}/{path.stem}" for path in migration_files()}
    assert {"issues/0002_series_and_roles", "policies/0004_catalogue_count", "subscribers/0003_confirm_once"} <= names


@pytest.mark.parametrize("path", migration_files(), ids=lambda path: f"{path.parent.parent.name}/{path.stem}")
def test_a_migration_imports_only_django_the_standard_library_and_third_party_packages(path):
    assert forbidden_imports(path, first_party_packages()) == []


def test_the_check_catches_application_code_even_inside_a_function(tmp_path):
    migration = tmp_path / "0099_live.py"
    migration.write_text(
        "import json\nfrom django.db import migrations\nimport simple_history.models\n"
        "def fill(apps, schema_editor):\n    from policies.indexing import catalogue_counts_refresh\n"
        "from dgd.roles import ROLES\nfrom . import helpers\nimport policies.safety\n"
    )
    assert sorted(forbidden_imports(migration, {"policies", "dgd"})) == [".", "dgd.roles", "policies.indexing"]
    assert "json" in sys.stdlib_module_names


@pytest.mark.django_db
def test_migrate_ensures_the_roles_table():
    for name, wanted in roles.ROLES.items():
        held = Group.objects.get(name=name).permissions.values_list("content_type__app_label", "codename")
        assert {f"{app}.{codename}" for app, codename in held} == set(wanted), name


@pytest.mark.django_db
def test_the_roles_come_back_after_a_flush_or_a_migrate():
    Group.objects.filter(name__in=roles.ROLES).delete()
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")  # what migrate and flush send
    assert set(Group.objects.filter(name__in=roles.ROLES).values_list("name", flat=True)) == set(roles.ROLES)
    assert Group.objects.get(name=roles.SALES).permissions.count() == len(set(roles.ROLES[roles.SALES]))
