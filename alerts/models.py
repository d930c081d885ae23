"""Alerts on the library's saved filters: how often each tells its owner what is new, and a record of every
alert mail with the entries it carried (one row per (alert, entry): nothing is announced twice).

``alerts`` depends on ``library`` and ``policies``; nothing below it imports it."""

import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _

from library.models import SavedFilter
from policies.models import Entry


class Frequency(models.TextChoices):
    OFF = "off", _("Off")
    INSTANT = "instant", _("Instant")
    DAILY = "daily", _("Daily")
    WEEKLY = "weekly", _("Weekly")


def new_feed_key():
    return secrets.token_urlsafe(16)


class Alert(models.Model):
    """A saved filter's alert settings and progress. ``since`` is when it was switched on (nothing ready
    before that is announced); ``checked_until`` the end of the last window looked at."""

    saved_filter = models.OneToOneField(
        SavedFilter, on_delete=models.CASCADE, primary_key=True, related_name="alert", verbose_name=_("saved filter")
    )
    frequency = models.CharField(_("frequency"), max_length=10, choices=Frequency.choices, default=Frequency.OFF)
    since = models.DateTimeField(_("alerting since"), null=True, blank=True)
    checked_until = models.DateTimeField(_("checked until"), null=True, blank=True)
    # Part of what the feed's token signs (alerts.tokens): empty until the owner asks for a new address; a new
    # key makes every earlier one invalid.
    feed_key = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        indexes = [models.Index(fields=["frequency"], name="alert_frequency")]

    def __str__(self):
        return f"{self.saved_filter} ({self.get_frequency_display()})"


class AlertMail(models.Model):
    """One alert mail: recorded (with its entries) before it is sent, marked sent once the server accepted
    it. A mail still pending after its lease ran out was in flight when its sender died: it is sent again."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="mails")
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    entry_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("alert mail")
        verbose_name_plural = _("alert mails")
        indexes = [
            models.Index(fields=["alert"], condition=models.Q(sent_at=None), name="alertmail_pending"),
        ]

    def __str__(self):
        return f"{self.alert_id} @ {self.window_end:%Y-%m-%d %H:%M}"


class AlertMailEntry(models.Model):
    """An entry announced by an alert: at most once per alert, whatever runs, retries or edits follow."""

    mail = models.ForeignKey(AlertMail, on_delete=models.CASCADE, related_name="items")
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="+", db_index=False)
    entry = models.ForeignKey(Entry, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["alert", "entry"], name="alert_entry_once")]

    def __str__(self):
        return f"{self.alert_id} × {self.entry_id}"
