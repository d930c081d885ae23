"""What the newsletter's text format looks like: shared by the parser and the writer."""

import re

# Canonical section titles of the text format (the content's language, not the interface's).
SECTION_TITLES = {
    "headlines": "要闻速递",
    "policies": "政策广角",
    "practices": "创新实践",
    "analysis": "新点解读",
    "outlook": "热点前瞻",
}
SECTION_BY_TITLE = {title: key for key, title in SECTION_TITLES.items()}
SECTION_KINDS = {
    "headlines": "policy",
    "policies": "policy",
    "practices": "practice",
    "analysis": "analysis",
    "outlook": "briefing",
}

CHINESE_NUMERALS = "一二三四五六七八九十"
INTRO_TITLE = "本期导读"
SOURCE_LABEL = "政策原文"
POLICY_VERBS = ("联合印发", "印发", "发布", "出台", "公布", "下发", "颁布", "制定")

TAG_SEPARATORS = re.compile(r"\s*[&＆、/／,，+＋·]\s*")
DOC_NUMBER = re.compile(r"[\u4e00-\u9fff]{1,12}\s*[〔\[［(（]\s*\d{4}\s*[〕\]］)）]\s*\d+\s*号")


def chinese_numeral(n):
    """1 → 一, 10 → 十, 12 → 十二 (sections never run past a dozen)."""
    if n <= 10:
        return CHINESE_NUMERALS[n - 1]
    return "十" + CHINESE_NUMERALS[n - 11]


def from_chinese_numeral(text):
    if text == "十":
        return 10
    if text.startswith("十"):
        return 10 + CHINESE_NUMERALS.index(text[1]) + 1
    return CHINESE_NUMERALS.index(text) + 1


def normalise_doc_number(text):
    return re.sub(r"\s+", "", text).replace("[", "〔").replace("]", "〕")
