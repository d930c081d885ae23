"""Subscribers (double opt-in, preferences) and one delivery row per (issue, subscriber)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from issues.models import Issue
from policies.models import Region, RegionKind, Theme


class SubscriberStatus(models.TextChoices):
    PENDING = "pending", _("Awaiting confirmation")
    CONFIRMED = "confirmed", _("Confirmed")
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")


class Scope(models.TextChoices):
    WHOLE = "whole", _("The whole issue, what matches me first")
    MATCHING = "matching", _("Only what matches my provinces and themes")


class SubscriberQuerySet(models.QuerySet):
    def confirmed(self):
        return self.filter(status=SubscriberStatus.CONFIRMED)


class Subscriber(models.Model):
    email = models.EmailField(_("email"), max_length=254, unique=True)
    name = models.CharField(_("name"), max_length=100, blank=True)
    organisation = models.CharField(_("organisation"), max_length=200, blank=True)
    provinces = models.ManyToManyField(
        Region,
        verbose_name=_("provinces"),
        blank=True,
        related_name="subscribers",
        limit_choices_to={"kind": RegionKind.PROVINCE},
    )
    themes = models.ManyToManyField(Theme, verbose_name=_("themes"), blank=True, related_name="subscribers")
    scope = models.CharField(_("receive"), max_length=10, choices=Scope.choices, default=Scope.WHOLE)
    status = models.CharField(
        _("status"), max_length=12, choices=SubscriberStatus.choices, default=SubscriberStatus.PENDING, db_index=True
    )
    source = models.CharField(_("source"), max_length=100, default="web", help_text=_("Where the address came from."))
    consent_at = models.DateTimeField(_("consent given at"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    unsubscribed_at = models.DateTimeField(_("unsubscribed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = SubscriberQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("subscriber")
        verbose_name_plural = _("subscribers")

    def __str__(self):
        return self.email

    @property
    def is_confirmed(self):
        return self.status == SubscriberStatus.CONFIRMED


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped")


class Delivery(models.Model):
    """One issue for one subscriber. Created once (unique pair), claimed by a chunk task, then marked."""

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("issue"))
    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("subscriber")
    )
    status = models.CharField(
        _("status"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    error = models.TextField(_("error"), blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [models.UniqueConstraint(fields=["issue", "subscriber"], name="delivery_once_per_issue")]
        indexes = [models.Index(fields=["issue", "status"], name="delivery_issue_status")]

    def __str__(self):
        return f"{self.issue} → {self.subscriber}"
