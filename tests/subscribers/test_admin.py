"""Who may see and manage subscribers and deliveries: anonymous, sales, researcher, chief editor."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from subscribers.models import Delivery, DeliveryStatus, Subscriber, SubscriberStatus
from tests.factories import IssueFactory
from tests.subscribers.helpers import make_subscriber

pytestmark = [pytest.mark.django_db]

PAGES = [
    reverse("admin:subscribers_subscriber_changelist"),
    reverse("admin:subscribers_subscriber_import"),
    reverse("admin:subscribers_delivery_changelist"),
]


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_and_sales_are_sent_to_the_login(client, sales, url):
    assert client.get(url).status_code == 302
    client.force_login(sales)  # sales staff have no admin
    response = client.get(url)
    assert response.status_code == 302 and "/admin/login/" in response.url


@pytest.mark.parametrize("url", PAGES)
def test_researchers_are_refused(client, researcher, url):
    client.force_login(researcher)
    assert client.get(url).status_code == 403


def test_researchers_are_refused_the_report(client, researcher):
    issue = IssueFactory()
    client.force_login(researcher)
    assert client.get(reverse("admin:subscribers_delivery_report", args=[issue.pk])).status_code == 403


def test_chief_editor_lists_filters_searches_and_exports(client, chief_editor):
    make_subscriber("a@example.org", provinces=[110000])
    make_subscriber("b@example.org", status=SubscriberStatus.PENDING)
    client.force_login(chief_editor)
    url = reverse("admin:subscribers_subscriber_changelist")
    assert "a@example.org" in client.get(url, {"q": "a@"}).content.decode()
    filtered = client.get(url, {"status__exact": "pending"}).content.decode()
    assert "b@example.org" in filtered and "a@example.org" not in filtered
    assert "a@example.org" in client.get(url, {"provinces__code__exact": "110000"}).content.decode()
    response = client.post(
        url, {"action": "export_csv", "_selected_action": list(Subscriber.objects.values_list("pk", flat=True))}
    )
    body = response.content.decode("utf-8-sig")
    assert response["Content-Type"].startswith("text/csv")
    assert body.splitlines()[0].startswith("email,name,organisation,provinces,themes,scope,status,source")
    assert "a@example.org,,,110000,,whole,confirmed,web" in body


def test_chief_editor_imports_csv(client, chief_editor):
    client.force_login(chief_editor)
    upload = SimpleUploadedFile("list.csv", "email,name\nnew@example.org,新人\n".encode(), content_type="text/csv")
    response = client.post(
        reverse("admin:subscribers_subscriber_import"), {"file": upload, "source": "CRM", "consented": "on"}
    )
    assert response.status_code == 302
    imported = Subscriber.objects.get(email="new@example.org")
    assert (imported.status, imported.source) == (SubscriberStatus.CONFIRMED, "CRM")


def test_chief_editor_sees_the_report_and_retries_failed(client, chief_editor, django_capture_on_commit_callbacks):
    issue = IssueFactory()
    subscriber = make_subscriber("f@example.org")
    Delivery.objects.create(issue=issue, subscriber=subscriber, status=DeliveryStatus.FAILED, error="550 5.1.1 no")
    client.force_login(chief_editor)
    url = reverse("admin:subscribers_delivery_report", args=[issue.pk])
    page = client.get(url).content.decode()
    assert "550 5.1.1 no" in page and 'id="count-failed">1<' in page
    with django_capture_on_commit_callbacks() as callbacks:  # the chunk task would be enqueued after commit
        assert client.post(url, {"_retry": "1"}).status_code == 302
    assert len(callbacks) == 1
    assert Delivery.objects.get().status == DeliveryStatus.PENDING


def test_a_non_utf8_csv_is_refused_with_a_chinese_message(client, chief_editor):
    client.force_login(chief_editor)
    upload = SimpleUploadedFile("list.csv", "email,name\nnew@example.org,新人\n".encode("gb18030"))
    response = client.post(reverse("admin:subscribers_subscriber_import"), {"file": upload, "source": "CRM"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "CSV 文件不是 UTF-8 编码" in page
    assert not Subscriber.objects.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"email,name\nnul@example.org,a\x00b\n", "空字符"),
        ("email,name\nlong@example.org,{}\n".format("名" * 101).encode(), "第2行"),
        # csv's own cell limit (128 KB) is raised to the file's: the whole rest of the file is one bad address.
        (b"email,name\n" + b'"unterminated@example.org,' + b"x" * 200_000 + b"\n", "第2行：电子邮件地址无效"),
        (b"name\nx\n", "第1行：必须有"),
        (b"email\nnot-an-address\n", "第2行：电子邮件地址无效«not-an-address»"),
        ("email,provinces\na@example.org,火星\n".encode(), "第2行：未知的省份或主题：火星"),
        (b"email,scope\na@example.org,everything\n", "第2行：订阅范围"),
    ],
)
def test_a_malformed_csv_is_refused_and_nothing_written(client, chief_editor, content, message):
    client.force_login(chief_editor)
    upload = SimpleUploadedFile("list.csv", content)
    response = client.post(reverse("admin:subscribers_subscriber_import"), {"file": upload, "source": "CRM"})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert "line " not in response.content.decode().lower().replace("inline", "").replace("outline", "")
    assert not Subscriber.objects.exists()


def test_a_csv_over_the_size_or_row_limit_is_refused(client, chief_editor, settings):
    client.force_login(chief_editor)
    url = reverse("admin:subscribers_subscriber_import")
    settings.DGD_IMPORT_MAX_FILE_SIZE = 1000
    rows = "".join(f"a{i}@example.org,某某\n" for i in range(100))
    response = client.post(url, {"file": SimpleUploadedFile("list.csv", f"email,name\n{rows}".encode()), "source": "x"})
    assert response.status_code == 200
    assert "文件过大" in response.content.decode()
    settings.DGD_IMPORT_MAX_FILE_SIZE = 10 * 1024 * 1024
    settings.DGD_SUBSCRIBERS_IMPORT_MAX_ROWS = 50
    response = client.post(url, {"file": SimpleUploadedFile("list.csv", f"email,name\n{rows}".encode()), "source": "x"})
    assert "文件超过 50 行" in response.content.decode()
    assert not Subscriber.objects.exists()


def test_the_import_service_checks_the_permission(researcher):
    from django.core.exceptions import PermissionDenied

    from subscribers.services import subscribers_import_csv

    with pytest.raises(PermissionDenied):
        subscribers_import_csv(data=b"email\nx@example.org\n", consented=True, source="x", by=researcher)
    assert not Subscriber.objects.exists()
