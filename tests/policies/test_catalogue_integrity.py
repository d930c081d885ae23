"""One write path for the catalogue: whatever writes an entry or its tags, the library's index tables end equal
to a rebuild (``reindex_catalogue --check``)."""

import pytest
import tablib
from django.core.management import CommandError, call_command
from django.urls import reverse

from policies.indexing import catalogue_check
from policies.models import CatalogueRegion, CatalogueRow, Entry, Region, Status, Theme
from policies.resources import PolicyResource
from tests.factories import EntryFactory, UserFactory

pytestmark = [pytest.mark.django_db]


def check():
    result = catalogue_check()
    assert result.entries == [] and result.counts == []
    call_command("reindex_catalogue", "--check")  # exits non-zero on any difference


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """Run a write path as it runs in production: its commit hooks fire when it is done. (Every write of these
    tests goes through it: the test's own transaction never commits.)"""

    def run(step, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return step(*args, **kwargs)

    return run


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def policy_form(entry, **changes):
    form = {
        "title": entry.title,
        "issuer": entry.issuer,
        "action": entry.action,
        "doc_number": entry.doc_number,
        "level": entry.level,
        "published_on": entry.published_on.isoformat(),
        "summary": entry.summary,
        "source_url": "",
        "regions": [r.pk for r in entry.regions.all()],
        "themes": [t.pk for t in entry.themes.all()],
    }
    return {**form, **changes}


def test_every_write_path_leaves_the_index_equal_to_a_rebuild(run, admin_client, sample_bytes, researcher):
    from issues.services import issue_import_newsletter

    # newsletter import
    run(issue_import_newsletter, data=sample_bytes, source_name="sample.txt")
    check()

    # the admin change form: new regions and themes
    entry = run(EntryFactory, regions=[320000], themes=["one-network"])
    url = reverse("admin:policies_policy_change", args=[entry.pk])
    form = policy_form(entry, regions=[510000, 500000], themes=[Theme.objects.get(slug="cross-province").pk])
    response = run(admin_client.post, url, form)
    assert response.status_code == 302
    assert set(CatalogueRegion.objects.filter(entry=entry).values_list("region_id", flat=True)) == {510000, 500000}
    check()

    # history revert to the first version (江苏, 一网通办)
    first = entry.history.order_by("history_id").first()
    revert = reverse("admin:policies_policy_simple_history", args=[entry.pk, first.history_id])
    response = run(admin_client.post, revert, policy_form(entry, regions=[320000], themes=[]))
    assert response.status_code == 302
    check()

    # list actions: back to draft (leaves the library), ready again, suggested themes
    changelist = reverse("admin:policies_policy_changelist")
    for action in ("mark_draft", "mark_ready", "apply_suggested_themes"):
        response = run(admin_client.post, changelist, {"action": action, "_selected_action": [entry.pk], "index": 0})
        assert response.status_code == 302
        check()

    # spreadsheet import: a row changes its regions
    exported = PolicyResource().export(queryset=Entry.objects.filter(pk=entry.pk))
    row = list(exported[0])
    row[exported.headers.index("地区")] = "浙江"
    result = run(PolicyResource().import_data, tablib.Dataset(row, headers=exported.headers), dry_run=False)
    assert not result.has_errors() and not result.has_validation_errors()
    check()

    # a place GB/T 2260 lacks added, an entry tagged with it, the place moved under a city of its province
    run(Region.objects.create, code=320571, name="苏州工业园区", short_name="园区", kind="county", parent_id=320000)
    tagged = run(EntryFactory, regions=[320571])
    response = run(
        admin_client.post,
        reverse("admin:policies_region_change", args=[320571]),
        {"name": "苏州工业园区", "short_name": "园区", "kind": "county", "parent": 320500},
    )
    assert response.status_code == 302
    assert set(CatalogueRegion.objects.filter(entry=tagged).values_list("region_id", flat=True)) == {
        320571,
        320500,
        320000,
    }
    check()

    # the region deleted (its entries lose the tag)
    response = run(admin_client.post, reverse("admin:policies_region_delete", args=[320583]), {"post": "yes"})
    assert response.status_code == 302
    check()

    # themes merged in the admin (the action's page, then its POST)
    run(EntryFactory, themes=["one-network", "mobile"])
    merged = Theme.objects.get(slug="mobile")
    changelist = reverse("admin:policies_theme_changelist")
    page = admin_client.post(changelist, {"action": "merge", "_selected_action": [merged.pk]})
    assert "合并到" in page.content.decode()
    into = Theme.objects.get(slug="one-network")
    data = {"action": "merge", "_selected_action": [merged.pk], "into": into.pk, "post": "yes"}
    response = run(admin_client.post, changelist, data)
    assert response.status_code == 302
    assert not Theme.objects.filter(slug="mobile").exists()
    assert "掌上办" in Theme.objects.get(pk=into.pk).keyword_list
    check()

    # a theme deleted in the admin
    theme = Theme.objects.get(slug="cross-province")
    response = run(admin_client.post, reverse("admin:policies_theme_delete", args=[theme.pk]), {"post": "yes"})
    assert response.status_code == 302
    check()

    # entries deleted: through the admin, and by a plain queryset delete
    response = run(admin_client.post, reverse("admin:policies_policy_delete", args=[tagged.pk]), {"post": "yes"})
    assert response.status_code == 302
    check()
    run(Entry.objects.filter(pk=entry.pk).delete)
    check()


def test_the_check_names_the_entries_whose_rows_differ(run, capsys):
    good, bad = run(EntryFactory, regions=[320000]), run(EntryFactory, regions=[510000])
    drafted = run(EntryFactory, status=Status.DRAFT)
    check()
    CatalogueRegion.objects.filter(entry=bad).delete()  # behind the services' back
    CatalogueRow.objects.create(entry=drafted, published_on=drafted.published_on, kind=drafted.kind)
    with pytest.raises(CommandError):
        call_command("reindex_catalogue", "--check")
    out = capsys.readouterr().out
    assert f"entry {bad.pk}:" in out and f"entry {drafted.pk}:" in out and f"entry {good.pk}:" not in out
    assert "counts" in out  # the counts table no longer adds up to the index tables
    # the check changed nothing
    assert not CatalogueRegion.objects.filter(entry=bad).exists()
    call_command("reindex_catalogue")
    check()
