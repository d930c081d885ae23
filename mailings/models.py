"""The generic delivery engine's rows: one ``Batch`` per (kind, key) — a week's 快讯, say — and one ``Message``
per (batch, recipient), claimed under a lease and marked sent the moment the SMTP server accepted it
(docs/delivery.md). ``mailings`` imports no other app of the project: every kind of mail stands above it."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped")


class Batch(models.Model):
    """One mailing of one kind: created once per (kind, key) with all its messages in one transaction, so a
    second run of the same mailing creates nothing. ``params`` is the kind's own data (a window, an id)."""

    kind = models.CharField(_("kind"), max_length=40)
    key = models.CharField(_("key"), max_length=100)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    recipients = models.PositiveIntegerField(_("messages"), default=0)
    woken_at = models.DateTimeField(
        _("tasks last queued at"), null=True, blank=True, help_text=_("When chunk tasks were last queued for it.")
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("mailing")
        verbose_name_plural = _("mailings")
        constraints = [models.UniqueConstraint(fields=["kind", "key"], name="batch_once_per_kind_key")]

    def __str__(self):
        return f"{self.kind} {self.key}"


class Queued(models.Model):
    """The delivery fields of a queued mail, shared by a mailing's ``Message`` and an issue's ``Delivery``
    (``subscribers``): claimed under a lease (``claim``, ``lease_until``, renewed while the chunk is sending),
    marked sent the moment the SMTP server accepted it; a lease that runs out puts the row back to pending."""

    status = models.CharField(
        _("status"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(
        _("attempts"), default=0, help_text=_("Times the message was handed to the SMTP server.")
    )
    claims = models.PositiveSmallIntegerField(
        _("claims"), default=0, help_text=_("Times a sender took the row (a dead sender's claim counts too).")
    )
    error = models.TextField(_("error"), blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    claim = models.UUIDField(_("claim"), null=True, blank=True)
    lease_until = models.DateTimeField(_("lease until"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), null=True, blank=True)

    class Meta:
        abstract = True


class Message(Queued):
    """One mail of a batch to one recipient: the row the engine claims, leases, marks and retries. ``recipient``
    is the kind's identity of the recipient (a subscriber's id), unique per batch; ``payload`` what the kind
    decided to send it when the batch was made (the entries of a 快讯), so a re-send is the same mail."""

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="messages", verbose_name=_("mailing"))
    recipient = models.CharField(_("recipient"), max_length=64)
    email = models.EmailField(_("email"), max_length=254)
    payload = models.JSONField(_("payload"), default=dict, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        constraints = [models.UniqueConstraint(fields=["batch", "recipient"], name="message_once_per_batch")]
        indexes = [
            models.Index(fields=["batch", "status"], name="message_batch_status"),
            models.Index(
                fields=["status", "batch"], name="message_open", condition=models.Q(status__in=["pending", "sending"])
            ),
        ]

    def __str__(self):
        return f"{self.batch} → {self.email}"
