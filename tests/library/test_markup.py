"""The library's own escaping (``library.markup.esc``) gives exactly what Django's ``escape`` gives."""

from django.utils.html import escape
from django.utils.translation import gettext_lazy
from hypothesis import given
from hypothesis import strategies as st

from library.markup import esc


@given(st.one_of(st.text(), st.integers()))
def test_esc_is_django_s_escape(value):
    assert esc(value) == escape(value)


def test_esc_escapes_every_markup_character_and_reads_lazy_text():
    assert (
        esc("""<a href="x" onclick='y'>&</a>""") == "&lt;a href=&quot;x&quot; onclick=&#x27;y&#x27;&gt;&amp;&lt;/a&gt;"
    )
    assert esc(gettext_lazy("Entries")) == escape(gettext_lazy("Entries"))
