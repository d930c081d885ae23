"""With DEBUG off the error pages are the site's own, in Chinese, never Django's English defaults; the 500 page
renders with nothing that could fail again (no request, no context processors, no database)."""

import pytest
from django.core.exceptions import SuspiciousOperation
from django.template import loader
from django.test import Client, override_settings
from django.urls import path

import dgd.urls
from tests.factories import UserFactory


def boom(request):
    raise RuntimeError("a bug")


def suspicious(request):
    raise SuspiciousOperation("tampered")


urlpatterns = [path("test-boom/", boom), path("test-suspicious/", suspicious), *dgd.urls.urlpatterns]

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.urls(__name__),
]
PRODUCTION = override_settings(DEBUG=False, ALLOWED_HOSTS=["testserver"])


def page(response):
    text = response.content.decode()
    assert "<html" in text and "数字政府动态" in text
    for english in ("Not Found", "Server Error", "Bad Request", "Forbidden", "CSRF verification failed"):
        assert english not in text
    return text


@PRODUCTION
def test_an_unknown_address_is_a_chinese_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "页面不存在" in page(response)


@PRODUCTION
def test_an_exception_is_a_chinese_500(client):
    client.raise_request_exception = False
    response = client.get("/test-boom/")
    assert response.status_code == 500
    assert "服务器出错" in page(response)


@PRODUCTION
def test_the_500_page_needs_no_request_and_no_database(django_assert_num_queries):
    with django_assert_num_queries(0):
        text = loader.get_template("500.html").render()
    assert "服务器出错" in text


@PRODUCTION
def test_a_suspicious_request_is_a_chinese_400(client):
    assert "请求无效" in page(client.get("/test-suspicious/"))
    response = client.get("/", HTTP_HOST="evil.example")  # DisallowedHost
    assert response.status_code == 400
    assert "请求无效" in page(response)


@PRODUCTION
def test_a_refused_page_is_a_chinese_403(client):
    client.force_login(UserFactory())  # signed in, but no role: the library is not theirs
    response = client.get("/library/")
    assert response.status_code == 403
    assert "无权访问" in page(response)


@PRODUCTION
def test_a_form_without_its_csrf_token_is_a_chinese_403():
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "x", "password": "y"})
    assert response.status_code == 403
    assert "表单已过期" in page(response)
