"""The owner's side: setting an alert from the saved filters page, the private feed (token, rotation,
escaping), and who may do what."""

import xml.etree.ElementTree as ET

import pytest
from django.urls import reverse

from alerts.models import Alert, Frequency
from alerts.tokens import filter_token
from library.models import SavedFilter
from tests.alerts.conftest import JIANGSU, ready_entry, saved_alert
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
ATOM = "{http://www.w3.org/2005/Atom}"


def feed_path(saved):
    alert = Alert.objects.filter(pk=saved.pk).first()
    return reverse("alerts:feed", args=[filter_token(saved.pk, alert.feed_key if alert else "")])


def test_the_saved_filters_page_sets_an_alert(client, salesperson):
    saved = SavedFilter.objects.create(
        user=salesperson, name="江苏跨省通办", query="region=320000&theme=cross-province"
    )
    client.force_login(salesperson)
    page = client.get(reverse("library:saved")).content.decode()
    assert 'name="frequency"' in page and "每日" in page and feed_path(saved) in page
    response = client.post(reverse("alerts:settings", args=[saved.pk]), {"frequency": "daily"})
    assert response.status_code == 302
    alert = Alert.objects.get(pk=saved.pk)
    assert alert.frequency == Frequency.DAILY and alert.since is not None
    assert 'value="daily" selected' in client.get(reverse("library:saved")).content.decode()
    assert client.post(reverse("alerts:settings", args=[saved.pk]), {"frequency": "hourly"}).status_code == 400
    assert Alert.objects.get(pk=saved.pk).frequency == Frequency.DAILY


def test_no_one_else_may_set_or_rotate_a_filters_alert(client, salesperson, researcher):
    saved = SavedFilter.objects.create(user=salesperson, name="江苏", query="region=320000")
    client.force_login(UserFactory(role="sales"))
    assert client.post(reverse("alerts:settings", args=[saved.pk]), {"frequency": "instant"}).status_code == 400
    assert client.post(reverse("alerts:rotate", args=[saved.pk])).status_code == 400
    assert not Alert.objects.exists()
    client.force_login(UserFactory())  # signed in, no role: may not use the library
    assert client.post(reverse("alerts:settings", args=[saved.pk]), {"frequency": "instant"}).status_code == 403
    client.logout()
    response = client.post(reverse("alerts:settings", args=[saved.pk]), {"frequency": "instant"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert not Alert.objects.exists()


def test_the_feed_lists_new_matching_entries_escaped(client, salesperson, researcher):
    saved = saved_alert(salesperson, "江苏", region=JIANGSU)
    entry = ready_entry(
        researcher, regions=[JIANGSU], title="关于<script>&跨省通办\x0b的通知", summary="推进 <b>证照</b> & 互认。"
    )
    other = ready_entry(researcher, regions=[330000])
    response = client.get(feed_path(saved))  # no session: the token is the key
    assert response.status_code == 200 and response["Content-Type"].startswith("application/atom+xml")
    root = ET.fromstring(response.content)  # well-formed XML, or this raises
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == 1
    assert entries[0].find(f"{ATOM}title").text == "【江苏】江苏省人民政府办公厅《关于<script>&跨省通办的通知》"
    assert entries[0].find(f"{ATOM}link").get("href").endswith(f"/library/entry/{entry.pk}/")
    assert "<b>证照</b> & 互认" in entries[0].find(f"{ATOM}summary").text
    assert b"<script>" not in response.content and f"/library/entry/{other.pk}/".encode() not in response.content


def test_a_rotated_feed_address_stops_working(client, salesperson):
    saved = saved_alert(salesperson, "江苏", region=JIANGSU)
    old = feed_path(saved)
    assert client.get(old).status_code == 200
    client.force_login(salesperson)
    assert client.post(reverse("alerts:rotate", args=[saved.pk])).status_code == 302
    new = feed_path(saved)
    assert new != old
    assert client.get(old).status_code == 404
    assert client.get(new).status_code == 200
    assert client.get(new[:-4] + "abc/").status_code == 404
    assert client.get(reverse("alerts:feed", args=["1-x"])).status_code == 404


def test_the_feed_of_someone_who_may_no_longer_read_the_library_is_closed(client, salesperson):
    saved = saved_alert(salesperson, "江苏", region=JIANGSU)
    salesperson.groups.clear()
    assert client.get(feed_path(saved)).status_code == 403
