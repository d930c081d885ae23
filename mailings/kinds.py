"""Kinds of mail the engine sends. A kind is a template trio and two functions: who a batch goes to (with
what each recipient is to get), and, per chunk about to be sent, each message's template context and
headers — or why it is no longer sent (the recipient left meanwhile). Apps register their kinds when
Django starts (their ``AppConfig.ready``); a worker knows every kind its project installs."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Recipient:
    """One message of a batch: ``key`` identifies the recipient within it (unique per batch)."""

    key: str
    email: str
    payload: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Outgoing:
    """What a message is sent with: the trio's template context and extra headers (List-Unsubscribe …); a kind
    whose mails come in variants (a confirmation, or "you are subscribed already") names the variant's trio."""

    context: dict
    headers: dict = field(default_factory=dict)
    templates: str | None = None  # another trio's folder than the kind's


@dataclass(frozen=True)
class Kind:
    name: str
    templates: str  # the trio's folder: {templates}/subject.txt, body.txt, body.html
    recipients: Callable[..., Iterable[Recipient]]  # (batch) -> recipients, when the batch is made
    # (batch, messages) -> {message id: Outgoing, or a reason (str) to skip it}; called once per chunk
    prepare: Callable[..., dict]
    from_setting: str = "SUBSCRIBERS_FROM_EMAIL"


KINDS = {}


def register(kind):
    KINDS[kind.name] = kind
    return kind


def unregister(name):
    KINDS.pop(name, None)


def kind_of(name):
    try:
        return KINDS[name]
    except KeyError:
        raise LookupError(f"no mail kind {name!r} is registered") from None
