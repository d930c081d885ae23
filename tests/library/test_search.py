"""Keyword search finds what people type: across punctuation and spaces, 文号 whole and in part, whole phrases
ranked first, matches marked in the results (docs/library.md, "Keyword search")."""

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from library.filters import LibraryFilter
from library.highlight import highlighted, snippet
from library.selectors import catalogue_rows, library_page
from policies.indexing import normalized, query_phrases, query_tokens, search_text
from policies.models import Entry
from tests.factories import EntryFactory
from tests.library.conftest import indexed

URL = "/library/"


def criteria(keyword, **others):
    return LibraryFilter({"q": keyword, **others}).criteria()


def found(keyword):
    return {pk for _day, pk in catalogue_rows(criteria(keyword))}


def normalised_texts():
    return {
        entry.pk: search_text(
            title=entry.title, issuer=entry.issuer, summary=entry.summary, doc_number=entry.doc_number
        )
        for entry in Entry.objects.filter(status="ready")
    }


def scan(keyword, texts):
    """What a normalised substring scan finds: every entry whose text holds each space-separated part."""
    phrases = query_phrases(keyword)
    return {pk for pk, text in texts.items() if phrases and all(phrase in text for phrase in phrases)}


@pytest.fixture
def sales_client(client, sales):
    client.force_login(sales)
    return client


# --- Normalising and segmenting -------------------------------------------------------------------


@pytest.mark.embedded
def test_normalising_keeps_letters_and_digits_only():
    assert normalized("江苏省政务服务“免证办”实施方案") == "江苏省政务服务免证办实施方案"
    assert normalized("苏政办发〔2022〕55号") == "苏政办发202255号"
    assert normalized(" **ＡＰＰ** 上线，２０２２年 ") == "app上线2022年"
    assert normalized("！？、《》") == ""


@pytest.mark.embedded
@pytest.mark.parametrize(
    "typed",
    ["苏政办发〔2022〕55号", "苏政办发[2022]55号", "苏政办发(2022)55号", "苏政办发（2022）55号", "苏政办发202255号"],
)
def test_a_document_number_asks_for_the_same_words_whatever_its_brackets(typed):
    assert query_phrases(typed) == ["苏政办发202255号"]
    assert query_tokens(typed) == ["苏政办发", "202255号"]


@pytest.mark.embedded
def test_query_words_are_pieces_of_the_typed_phrase():
    assert query_tokens("免证办实施方案") == ["免证办", "实施方案"]
    assert query_tokens("“免证办” 实施方案") == ["免证办", "实施方案"]
    assert query_tokens("证") == ["证"]
    assert query_tokens("，。！") == []
    for keyword in ["免证办实施方案", "跨省通办事项", "向基层延伸", "〔2022〕55号", "靖江政务服务"]:
        (phrase,) = query_phrases(keyword)
        assert all(word in phrase for word in query_tokens(keyword))


# --- What people type --------------------------------------------------------------------------------


@pytest.fixture
def typed_catalogue(db):
    """Titles with punctuation inside the phrases people type, and 文号 in several bracket styles."""
    return {
        "free": indexed(
            EntryFactory(
                title="江苏省政务服务“免证办”实施方案", doc_number="苏政办发〔2022〕55号", published_on="2022-01-10"
            )
        ),
        "apart": indexed(
            EntryFactory(title="推行免证办，细化事项的实施方案", summary="材料减免。", published_on="2022-06-10")
        ),
        "cross": indexed(EntryFactory(title="关于公布第二批“跨省通办”事项清单的通知", doc_number="国办发[2021]7号")),
        "cross_quoted": indexed(EntryFactory(title="政务服务“跨省通办”、事项清单调整", summary="")),
        "other_number": indexed(EntryFactory(title="关于印发数字政府建设方案的通知", doc_number="苏政办发(2021)3号")),
        "zhejiang": indexed(EntryFactory(title="浙江省数据共享办法", doc_number="浙政发〔2022〕55号")),
        "unrelated": indexed(EntryFactory(title="营商环境优化条例", summary="深化放管服改革。")),
    }


@pytest.mark.embedded
def test_phrases_across_punctuation_are_found(typed_catalogue):
    assert typed_catalogue["free"].pk in found("免证办实施方案")
    assert found("跨省通办事项") >= {typed_catalogue["cross"].pk, typed_catalogue["cross_quoted"].pk}
    assert typed_catalogue["unrelated"].pk not in found("跨省通办事项")


@pytest.mark.embedded
@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("苏政办发〔2022〕55号", {"free"}),
        ("苏政办发[2022]55号", {"free"}),
        ("苏政办发(2022)55号", {"free"}),
        ("苏政办发202255号", {"free"}),
        ("〔2022〕55号", {"free", "zhejiang"}),
        ("2022]55号", {"free", "zhejiang"}),
        ("苏政办发", {"free", "other_number"}),
        ("国办发〔2021〕7号", {"cross"}),
        ("浙政发", {"zhejiang"}),
    ],
)
def test_document_numbers_are_found_whole_and_in_part(typed_catalogue, typed, expected):
    assert found(typed) == {typed_catalogue[name].pk for name in expected}


@pytest.mark.embedded
def test_whole_phrases_rank_before_scattered_words(typed_catalogue):
    page = library_page(criteria("免证办实施方案", sort="relevance"))
    ids = [entry.pk for entry in page.entries]
    assert page.ranked
    assert set(ids) == {typed_catalogue["free"].pk, typed_catalogue["apart"].pk}  # both words, apart or not
    assert ids[0] == typed_catalogue["free"].pk  # the whole phrase first, though the other is newer
    newest = [entry.pk for entry in library_page(criteria("免证办实施方案")).entries]
    assert newest == [typed_catalogue["apart"].pk, typed_catalogue["free"].pk]


# --- Recall against a normalised substring scan ---------------------------------------------------

PIECES = [
    "江苏省",
    "政务服务",
    "免证办",
    "实施方案",
    "跨省通办",
    "事项",
    "清单",
    "电子证照",
    "一网通办",
    "靖江",
    "延伸",
]
MARKS = ["“", "”", "、", "，", "《", "》", "（", "）", " ", "·", "——", ""]
PREFIXES = ["苏政办发", "浙政发", "国办发", "川办函"]
BRACKETS = [("〔", "〕"), ("[", "]"), ("(", ")"), ("（", "）"), ("", "")]


def generated_entry(rng):
    """A title of domain words with punctuation between them, a summary, a 文号 in some bracket style."""
    title = "".join(rng.choice(PIECES) + rng.choice(MARKS) for _ in range(rng.randint(2, 6)))
    summary = "。".join(rng.choice(PIECES) + rng.choice(MARKS) + rng.choice(PIECES) for _ in range(3))
    opening, closing = rng.choice(BRACKETS)
    number = f"{rng.choice(PREFIXES)}{opening}{rng.randint(2019, 2023)}{closing}{rng.randint(1, 60)}号"
    return EntryFactory(title=title[:300], summary=summary, doc_number=number if rng.random() < 0.7 else "")


@pytest.fixture
def generated_catalogue(db):
    rng = random.Random(12)
    return indexed(*(generated_entry(rng) for _ in range(60)))


@pytest.mark.embedded
def test_recall_is_complete_on_phrases_across_punctuation_and_on_document_numbers(generated_catalogue):
    """Any run of an entry's normalised text, typed with or without the punctuation it had (and 文号 in any
    bracket style), finds every entry whose normalised text holds it."""
    texts = normalised_texts()
    entries = {entry.pk: entry for entry in generated_catalogue}
    checked = []

    @settings(
        max_examples=150,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.data())
    def check(data):
        entry = entries[data.draw(st.sampled_from(sorted(entries)))]
        source = data.draw(st.sampled_from([entry.title, entry.summary, entry.doc_number or entry.title]))
        start = data.draw(st.integers(0, max(0, len(source) - 1)))
        typed = source[start : start + data.draw(st.integers(1, 14))]
        if not normalized(typed):
            return
        expected = scan(typed, texts)
        assert entry.pk in expected
        got = found(typed)
        assert expected <= got, (typed, expected - got)
        checked.append(typed)

    check()
    assert len(checked) > 50


@pytest.mark.embedded
def test_recall_on_document_numbers_in_every_bracket_style(generated_catalogue):
    texts = normalised_texts()
    numbers = {entry.doc_number for entry in generated_catalogue if entry.doc_number}
    assert len(numbers) > 10
    for number in sorted(numbers):
        bare = normalized(number)
        digits = bare[next(i for i, char in enumerate(bare) if char.isdigit()) :]  # 〔2022〕55号 without its prefix
        year, rest = digits[:4], digits[4:]
        for opening, closing in BRACKETS:
            for typed in (f"{bare[: -len(digits)]}{opening}{year}{closing}{rest}", f"{opening}{year}{closing}{rest}"):
                assert scan(typed, texts) <= found(typed), typed


def test_recall_on_the_sample_for_runs_across_punctuation(imported_sample):
    """Phrases of 2 to 8 characters from the sample's own text that straddle punctuation or a space."""
    texts = normalised_texts()
    entries = list(Entry.objects.filter(status="ready"))
    rng = random.Random(3)
    straddling = []
    for entry in entries:
        for source in (entry.title, entry.summary.replace("**", "")):
            for _ in range(4):
                start = rng.randrange(max(1, len(source) - 8))
                typed = source[start : start + rng.randint(3, 9)]
                if normalized(typed) and normalized(typed) != typed:
                    straddling.append(typed.replace(" ", ""))
    assert len(straddling) > 40
    missed = [typed for typed in straddling if not scan(typed, texts) <= found(typed)]
    assert missed == []


# --- Marked matches in the results ---------------------------------------------------------------------


@pytest.mark.embedded
def test_highlighting_escapes_the_text_and_marks_matches_across_punctuation():
    marked = highlighted("江苏省政务服务“免证办”实施方案<script>alert(1)</script>", "免证办实施方案")
    assert marked == "江苏省政务服务“<mark>免证办”实施方案</mark>&lt;script&gt;alert(1)&lt;/script&gt;"
    hostile = highlighted('<img src=x onerror="alert(1)">证照', "证照")
    assert "<img" not in hostile and "&lt;img" in hostile and "<mark>证照</mark>" in hostile
    assert highlighted("<b>x</b>", "") == "&lt;b&gt;x&lt;/b&gt;"
    assert highlighted("苏政办发（2022）55号", "苏政办发[2022]55号") == "<mark>苏政办发（2022）55号</mark>"


@pytest.mark.embedded
def test_the_snippet_is_cut_around_the_first_match_and_marked():
    summary = "开头的话。" * 20 + "推进**电子证照**在<政务>服务中应用。" + "结尾的话。" * 40
    shown = snippet(summary, "电子证照")
    assert shown.startswith("…") and shown.endswith("…")
    assert "<mark>电子证照</mark>" in shown and "**" not in shown
    assert "&lt;政务&gt;" in shown and "<政务>" not in shown
    assert len(shown) < 200
    assert snippet("无关的摘要。", "电子证照") == "无关的摘要。"


def test_the_results_page_marks_matches_and_shows_a_snippet(sales_client, typed_catalogue):
    hostile = indexed(EntryFactory(title="<script>alert('x')</script>免证办方案", summary="免证办<b>全省</b>推开。"))
    response = sales_client.get(URL, {"q": "免证办"})
    page = response.content.decode()
    assert "<mark>免证办</mark>" in page
    assert '<p class="snippet">' in page
    assert "<script>alert('x')</script>" not in page and "&lt;script&gt;" in page
    assert "<b>全省</b>" not in page
    assert hostile.pk in {entry.pk for entry in response.context["results"].entries}
    numbers = sales_client.get(URL, {"q": "苏政办发[2022]55号"}).content.decode()
    assert "<mark>苏政办发〔2022〕55号</mark>" in numbers
