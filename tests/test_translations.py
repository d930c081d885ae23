import re
from pathlib import Path

import pytest
from django.utils import translation

from issues.models import Section
from policies.models import Level

pytestmark = pytest.mark.embedded

PO = Path(__file__).resolve().parent.parent / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def test_every_interface_string_has_a_chinese_translation():
    text = PO.read_text(encoding="utf-8")
    entries = re.split(r"\n\n", text)[1:]  # the first block is the header
    # an empty msgstr is one with no continuation line ("…") after it
    empty = re.compile(r'^msgstr(\[0\])? ""$(?!\n")', re.MULTILINE)
    untranslated = [e for e in entries if empty.search(e) and "msgid" in e]
    assert untranslated == []


def test_the_interface_speaks_chinese_and_can_speak_english():
    with translation.override("zh-hans"):
        assert str(Level.NATIONAL.label) == "国家级"
        assert str(Section.HEADLINES.label) == "要闻速递"
    with translation.override("en"):
        assert str(Level.NATIONAL.label) == "National"


@pytest.mark.django_db
def test_every_visitor_gets_chinese_whatever_the_browser_asks(client, settings):
    """No language negotiation: a browser preferring English (or a language cookie) still gets Chinese."""
    assert [code for code, _name in settings.LANGUAGES] == ["zh-hans"]
    assert "django.middleware.locale.LocaleMiddleware" not in settings.MIDDLEWARE
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.get("/admin/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    page = response.content.decode()
    assert '<html lang="zh-hans"' in page
    assert "数字政府动态 · 管理后台" in page and "Log in" not in page and "登录" in page


def test_the_workflow_speaks_chinese():
    from issues.workflow import TRANSITIONS

    with translation.override("zh-hans"):
        labels = {name: str(t.label) for name, t in TRANSITIONS.items()}
    assert labels["return_to_draft"] == "退回草稿"
    assert labels["submit"] == "提交审核" and labels["approve"] == "批准"
    assert all(not any("a" <= c.lower() <= "z" for c in label) for label in labels.values())
