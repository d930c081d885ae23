"""Mails made from a template trio (``{prefix}/subject.txt``, ``body.txt``, ``body.html``) and sent at once: the
confirmation and "already subscribed" mails. (The digests are rendered by ``subscribers.digests``; every other
batch by the mail engine, ``mailings``.)"""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string


def send_templated_mail(prefix, context, *, to, headers=None, connection=None):
    subject = " ".join(render_to_string(f"{prefix}/subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"{prefix}/body.txt", context),
        from_email=settings.SUBSCRIBERS_FROM_EMAIL,
        to=[to],
        reply_to=settings.SUBSCRIBERS_REPLY_TO or None,
        headers=headers,
        connection=connection,
    )
    import css_inline

    message.attach_alternative(css_inline.inline(render_to_string(f"{prefix}/body.html", context)), "text/html")
    message.send()
