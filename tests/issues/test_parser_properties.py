"""Whatever bytes arrive, the parser answers with an issue or a line-numbered NewsletterError."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from issues.newsletter.parser import NewsletterError, Vocabulary, parse
from policies.vocabulary import PARTNERS, PROVINCES
from tests.conftest import SAMPLE

pytestmark = pytest.mark.embedded

VOCABULARY = Vocabulary(
    regions={name: code for code, full, short in PROVINCES for name in (full, short)},
    partners={name for name, _ in PARTNERS},
)
with open(SAMPLE, encoding="utf-8") as f:
    SAMPLE_LINES = f.read().split("\n")


def parse_or_error(data):
    try:
        return parse(data, VOCABULARY)
    except NewsletterError as error:
        assert error.line >= 1
        assert str(error).startswith(f"line {error.line}: ")
        return None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_arbitrary_bytes(data):
    parse_or_error(data)


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(
            list("一二三四五、.1234【】&《》[]()#\n\r\t 　年月期分册本期导读要闻速递政策广角江苏新点**")
        ),
        max_size=400,
    )
)
def test_arbitrary_text_made_of_the_formats_own_characters(text):
    parse_or_error(text.encode("utf-8"))


@settings(max_examples=150, deadline=None)
@given(st.sets(st.integers(min_value=0, max_value=len(SAMPLE_LINES) - 1), max_size=40))
def test_the_sample_with_lines_missing(dropped):
    lines = [line for i, line in enumerate(SAMPLE_LINES) if i not in dropped]
    parsed = parse_or_error("\n".join(lines).encode("utf-8"))
    if parsed is not None:
        numbers = [entry.number for entry in parsed.entries]
        assert len(numbers) == len(set(numbers))
