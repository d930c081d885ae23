"""Subscribers (double opt-in, preferences) and one delivery row per (issue, subscriber)."""

from django.contrib import admin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from issues.models import Issue
from mailings.models import DeliveryStatus, Queued  # noqa: F401 (the digests' states are every queued mail's)
from policies.models import Region, RegionKind, Theme


class SubscriberStatus(models.TextChoices):
    PENDING = "pending", _("Awaiting confirmation")
    CONFIRMED = "confirmed", _("Confirmed")
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")


class Scope(models.TextChoices):
    WHOLE = "whole", _("The whole issue, what matches me first")
    MATCHING = "matching", _("Only what matches my provinces and themes")
    # A short mail with the links to the web page and the PDF: the "fewer mails" choice for readers who read
    # the issue elsewhere.
    LINKS = "links", _("Only the links to the web version and the PDF")


# What the ``source`` field's usual values mean; it stays free text (a CSV import names its own source).
SOURCE_LABELS = {
    "web": _("Subscribe page"),
    "demo": _("Demo data"),
}


class SubscriberQuerySet(models.QuerySet):
    def confirmed(self):
        """Confirmed subscribers who receive the next issue: one who paused their subscription is left out
        until the pause ends (the fan-out and its preview both count from here)."""
        return self.filter(status=SubscriberStatus.CONFIRMED).filter(
            models.Q(paused_until__isnull=True) | models.Q(paused_until__lte=timezone.now())
        )

    def weekly_readers(self):
        """Confirmed subscribers (not paused) who chose the weekly 快讯 besides the digest."""
        return self.confirmed().filter(weekly=True)


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
    weekly = models.BooleanField(
        _("weekly news flash"),
        default=False,
        help_text=_("Also mail, every Monday, the new library entries matching the provinces and themes."),
    )
    status = models.CharField(
        _("status"), max_length=12, choices=SubscriberStatus.choices, default=SubscriberStatus.PENDING, db_index=True
    )
    source = models.CharField(_("source"), max_length=100, default="web", help_text=_("Where the address came from."))
    consent_at = models.DateTimeField(_("consent given at"), null=True, blank=True)
    consent_notice_version = models.CharField(
        _("privacy notice version consented to"),
        max_length=40,
        blank=True,
        help_text=_("The version of the privacy notice the subscriber agreed to (PRIVACY_NOTICE_VERSION then)."),
    )
    paused_until = models.DateTimeField(
        _("paused until"), null=True, blank=True, help_text=_("No issue is sent before this time.")
    )
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    unsubscribed_at = models.DateTimeField(_("unsubscribed at"), null=True, blank=True)
    preferences_requested_at = models.DateTimeField(
        _("preferences asked for at"),
        null=True,
        blank=True,
        help_text=_("When the current preferences were asked for; an older confirmation link is refused."),
    )
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

    @property
    def is_paused(self):
        return self.paused_until is not None and self.paused_until > timezone.now()

    @admin.display(description=_("source"), ordering="source")
    def source_label(self):
        """The source in words for the admin; an unknown (imported) source shows as typed."""
        return SOURCE_LABELS.get(self.source, self.source)


class ConfirmationRequest(models.Model):
    """One subscription request awaiting confirmation: the preferences asked for stay here, and the mailed link
    carries only a signed random nonce. Used once; refused when older than an unsubscribe or a newer change."""

    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.CASCADE, related_name="confirmation_requests", verbose_name=_("subscriber")
    )
    nonce = models.CharField(_("nonce"), max_length=64, unique=True)
    preferences = models.JSONField(_("preferences"), default=dict)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("confirmation request")
        verbose_name_plural = _("confirmation requests")

    def __str__(self):
        return f"{self.subscriber} @ {self.created_at:%Y-%m-%d %H:%M}"


class Delivery(Queued):
    """One issue for one subscriber. Created once (unique pair); a chunk task claims it under a lease (``claim``,
    ``lease_until``, renewed while the chunk is sending), then marks it sent the moment the SMTP server accepted
    it. A lease that runs out (a dead worker) puts the row back to pending. Its delivery fields are every queued
    mail's (``mailings.models.Queued``)."""

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("issue"))
    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("subscriber")
    )

    class Meta:
        ordering = ["id"]
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [models.UniqueConstraint(fields=["issue", "subscriber"], name="delivery_once_per_issue")]
        indexes = [
            models.Index(fields=["issue", "status"], name="delivery_issue_status"),
            # The periodic check looks at open rows only, across issues: a small partial index.
            models.Index(
                fields=["status", "issue"],
                name="delivery_open",
                condition=models.Q(status__in=["pending", "sending"]),
            ),
        ]

    def __str__(self):
        return f"{self.issue} → {self.subscriber}"


class Fanout(models.Model):
    """The fan-out of one published issue: seen when the publication is, done once its deliveries exist. The
    periodic check finds a publication whose fan-out never got done, and issues whose queued tasks were lost."""

    issue = models.OneToOneField(
        Issue, on_delete=models.CASCADE, primary_key=True, related_name="fanout", verbose_name=_("issue")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    deliveries_created_at = models.DateTimeField(_("deliveries created at"), null=True, blank=True)
    recipients = models.PositiveIntegerField(_("deliveries"), default=0)
    woken_at = models.DateTimeField(
        _("tasks last queued at"), null=True, blank=True, help_text=_("When chunk tasks were last queued for it.")
    )

    class Meta:
        verbose_name = _("fan-out")
        verbose_name_plural = _("fan-outs")

    def __str__(self):
        return str(self.issue)
