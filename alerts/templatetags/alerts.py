"""``{% alert_controls saved %}`` on the saved filters page: the alert's frequency and the private feed."""

from django import template
from django.urls import reverse

from alerts.models import Alert, Frequency
from alerts.tokens import filter_token

register = template.Library()


@register.inclusion_tag("alerts/_controls.html", takes_context=True)
def alert_controls(context, saved_filter):
    alert = Alert.objects.filter(pk=saved_filter.pk).first()
    feed_key = alert.feed_key if alert else ""
    return {
        "saved": saved_filter,
        "frequency": alert.frequency if alert else Frequency.OFF,
        "choices": Frequency.choices,
        "feed_url": context["request"].build_absolute_uri(
            reverse("alerts:feed", args=[filter_token(saved_filter.pk, feed_key)])
        ),
        "csrf_token": context.get("csrf_token"),
    }
