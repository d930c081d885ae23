"""An alert mail: the template trio ``alerts/mail/{subject.txt,body.txt,body.html}`` with the new entries
(at most ``MAIL_LIST_LIMIT``, then a link to the full list), List-Unsubscribe with RFC 8058's one-click POST,
and a Message-ID derived from the mail's row, so a mail sent again after a crash carries the same one."""

import re
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse

from alerts.selectors import mail_entries
from alerts.tokens import UNSUBSCRIBE_SALT, alert_token
from mailings.services import template_trio, trio_subject

MAIL_LIST_LIMIT = 50
SNIPPET_LENGTH = 120


def absolute(path):
    return settings.SITE_URL.rstrip("/") + path


def snippet(summary, length=SNIPPET_LENGTH):
    """The summary's first ``length`` characters as plain text (its ``**bold**`` marks dropped)."""
    text = re.sub(r"\s+", " ", summary.replace("**", "")).strip()
    return text if len(text) <= length else text[:length].rstrip() + "…"


def message_id(mail):
    domain = urlsplit(settings.SITE_URL).hostname or "localhost"
    return f"<dgd-alert{mail.alert_id}-mail{mail.pk}@{domain}>"


def mail_context(mail, entries):
    alert = mail.alert
    saved_filter = alert.saved_filter
    return {
        "name": saved_filter.name,
        "user": saved_filter.user,
        "count": mail.entry_count,
        "more": mail.entry_count > len(entries),
        "frequency": alert.get_frequency_display(),
        "entries": [
            {
                "title": entry.display_title,
                "regions": [region.short_name for region in entry.regions.all()],
                "themes": [theme.name for theme in entry.themes.all()],
                "issuer": entry.issuer,
                "published_on": entry.published_on,
                "snippet": snippet(entry.summary),
                "url": absolute(reverse("library:entry", args=[entry.pk])),
            }
            for entry in entries
        ],
        "full_list_url": absolute(reverse("alerts:mail", args=[mail.pk])),
        "filter_url": absolute(saved_filter.get_absolute_url()),
        "settings_url": absolute(reverse("library:saved")),
        "unsubscribe_url": unsubscribe_url(alert),
    }


def unsubscribe_url(alert):
    return absolute(reverse("alerts:unsubscribe", args=[alert_token(alert, salt=UNSUBSCRIBE_SALT)]))


def mail_templates():
    """The template trio, compiled once per run (not once per message)."""
    return template_trio("alerts/mail")


def alert_message(mail, *, connection=None, templates=None, loaded=None):
    """The mail as a message; ``loaded``: the run's entries read so far (``alerts.selectors.mail_entries``)."""
    templates = templates or mail_templates()
    entries = mail_entries(mail, limit=MAIL_LIST_LIMIT, loaded=loaded)
    context = mail_context(mail, entries)
    message = EmailMultiAlternatives(
        subject=trio_subject(templates, context),
        body=templates["body.txt"].render(context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[mail.alert.saved_filter.user.email],
        connection=connection,
        headers={
            "Message-ID": message_id(mail),
            "List-Unsubscribe": f"<{context['unsubscribe_url']}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    message.attach_alternative(templates["body.html"].render(context), "text/html")
    return message
