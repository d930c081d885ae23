import pytest
from django.core import signing

from subscribers.tokens import BadToken, confirm_token, manage_token, read_confirm_token, read_manage_token

pytestmark = pytest.mark.embedded


def test_confirm_token_round_trip():
    token = confirm_token(subscriber_id=7, preferences={"scope": "whole", "provinces": [110000], "themes": []})
    assert read_confirm_token(token) == (7, {"scope": "whole", "provinces": [110000], "themes": []})


def test_confirm_token_altered_is_refused():
    token = confirm_token(subscriber_id=7, preferences={"scope": "whole", "provinces": [], "themes": []})
    with pytest.raises(BadToken):
        read_confirm_token(token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1])


def test_confirm_token_expires(settings):
    token = confirm_token(subscriber_id=7, preferences={})
    settings.SUBSCRIBERS_CONFIRM_MAX_AGE = -1
    with pytest.raises(BadToken, match="age"):
        read_confirm_token(token)


def test_confirm_token_signed_for_another_purpose_is_refused():
    with pytest.raises(BadToken):
        read_confirm_token(signing.dumps({"s": 7, "p": {}}, salt="another.purpose"))


def test_manage_token_names_one_subscriber():
    assert read_manage_token(manage_token(42)) == 42
    forged = "43:" + manage_token(42).split(":", 1)[1]
    with pytest.raises(BadToken):
        read_manage_token(forged)
    with pytest.raises(BadToken):
        read_manage_token("42")
