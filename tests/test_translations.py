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
