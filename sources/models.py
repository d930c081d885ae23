"""The researchers' inbox: watched sources, the hosts they live on, and the candidate policies they bring in.

A ``Source`` is a feed or an HTML list page on a government site. Polling it (``sources.services``) turns each
new item into a ``Sighting`` (one URL seen on one source) attached to a ``Candidate`` (one policy): the same
policy reprinted by several sites is one candidate with several sightings. Researchers triage the candidates
in the admin: 收录 makes a draft catalogue entry of one, 忽略 sets it aside with a reason.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from policies.models import Entry, Level, Region, Theme
from policies.safety import HttpURLField


class SourceKind(models.TextChoices):
    FEED = "feed", _("RSS/Atom feed")
    LIST = "list", _("HTML list page")


class SourceQuerySet(models.QuerySet):
    def due(self, now):
        """Enabled sources whose next poll time has come (never polled ones first)."""
        return (
            self.filter(enabled=True)
            .filter(models.Q(next_poll_at__isnull=True) | models.Q(next_poll_at__lte=now))
            .order_by(models.F("next_poll_at").asc(nulls_first=True), "pk")
        )


class Source(models.Model):
    name = models.CharField(_("name"), max_length=200, help_text=_("For example 浙江省人民政府."))
    url = HttpURLField(_("address"), max_length=1000, unique=True, help_text=_("The feed or the list page."))
    kind = models.CharField(_("kind"), max_length=10, choices=SourceKind.choices, default=SourceKind.FEED)
    region = models.ForeignKey(
        Region, verbose_name=_("region"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    level = models.CharField(_("level"), max_length=10, choices=Level.choices, blank=True)
    issuer = models.CharField(
        _("issuing body"),
        max_length=200,
        blank=True,
        help_text=_("Suggested for items whose issuer cannot be read from their title or text."),
    )
    item_selector = models.CharField(_("item selector"), max_length=200, blank=True, help_text="ul.list li")
    title_selector = models.CharField(
        _("title selector"), max_length=200, blank=True, help_text=_("Inside an item; empty: the link's text.")
    )
    link_selector = models.CharField(_("link selector"), max_length=200, blank=True, help_text="a")
    date_selector = models.CharField(_("date selector"), max_length=200, blank=True, help_text="span.date")
    next_selector = models.CharField(
        _("next page selector"), max_length=200, blank=True, help_text=_("The link to the next list page, if any.")
    )
    max_pages = models.PositiveSmallIntegerField(_("pages read at most"), default=3)
    interval = models.PositiveIntegerField(_("polling interval (minutes)"), default=60)
    enabled = models.BooleanField(_("enabled"), default=True)

    # What the last poll found; written by the poller only.
    etag = models.CharField(max_length=300, blank=True, editable=False)
    last_modified = models.CharField(max_length=100, blank=True, editable=False)
    last_polled_at = models.DateTimeField(_("last polled"), null=True, blank=True, editable=False)
    last_status = models.CharField(_("last status"), max_length=100, blank=True, editable=False)
    last_error = models.TextField(_("last error"), blank=True, editable=False)
    failures = models.PositiveIntegerField(_("errors in a row"), default=0, editable=False)
    next_poll_at = models.DateTimeField(_("next poll"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = SourceQuerySet.as_manager()

    class Meta:
        ordering = ["name", "pk"]
        verbose_name = _("watched source")
        verbose_name_plural = _("watched sources")
        indexes = [models.Index(fields=["enabled", "next_poll_at"], name="source_due")]

    def __str__(self):
        return self.name


class Host(models.Model):
    """A web host's politeness state: one request at a time (a lease), a pause between requests, its robots.txt."""

    name = models.CharField(max_length=300, unique=True)  # scheme://host[:port]
    leased_until = models.DateTimeField(null=True, blank=True)
    next_request_at = models.DateTimeField(null=True, blank=True)
    robots_txt = models.TextField(blank=True)
    robots_status = models.CharField(max_length=20, blank=True)  # "ok", "missing" (4xx: allow) or "error"
    robots_fetched_at = models.DateTimeField(null=True, blank=True)
    requests = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = _("host")
        verbose_name_plural = _("hosts")

    def __str__(self):
        return self.name


class CandidateStatus(models.TextChoices):
    NEW = "new", _("Suggested")
    DUPLICATE = "duplicate", _("Duplicate of an entry")
    TAKEN = "taken", _("Taken")
    IGNORED = "ignored", _("Ignored")


class CandidateQuerySet(models.QuerySet):
    def queue(self):
        """The triage queue: newest first, then the most recently found."""
        return self.order_by(models.F("published_on").desc(nulls_last=True), "-pk")


class Candidate(models.Model):
    """One policy found on the watched sources, waiting for a researcher's decision."""

    title = models.CharField(_("title"), max_length=500)
    url = models.URLField(_("address"), max_length=1000, help_text=_("Where it was first found."))
    published_on = models.DateField(_("date"), null=True, blank=True, db_index=True)
    issued_on = models.DateField(_("issued on"), null=True, blank=True)
    issuer = models.CharField(_("issuing body"), max_length=200, blank=True)
    doc_number = models.CharField(_("document number"), max_length=100, blank=True)
    doc_key = models.CharField(max_length=100, blank=True, db_index=True, editable=False)  # normalised 文号
    level = models.CharField(_("level"), max_length=10, choices=Level.choices, blank=True)
    regions = models.ManyToManyField(Region, verbose_name=_("regions"), blank=True, related_name="+")
    themes = models.ManyToManyField(Theme, verbose_name=_("themes"), blank=True, related_name="+")
    summary = models.TextField(_("summary draft"), blank=True)
    text = models.TextField(_("main text"), blank=True)
    fingerprint = models.BinaryField(editable=False, default=bytes)  # MinHash of the title and text
    status = models.CharField(
        _("status"), max_length=10, choices=CandidateStatus.choices, default=CandidateStatus.NEW, db_index=True
    )
    duplicate_of = models.ForeignKey(
        Entry,
        verbose_name=_("duplicate of"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    entry = models.ForeignKey(
        Entry, verbose_name=_("entry"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    ignore_reason = models.CharField(_("reason"), max_length=300, blank=True)
    found_at = models.DateTimeField(_("found at"), auto_now_add=True)

    objects = CandidateQuerySet.as_manager()

    class Meta:
        verbose_name = _("candidate")
        verbose_name_plural = _("candidates")
        indexes = [models.Index(fields=["status", "-published_on"], name="candidate_queue")]

    def __str__(self):
        return self.title


class Sighting(models.Model):
    """One URL on one source where a candidate was found (its canonical form is unique: seen once)."""

    candidate = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="sightings")
    source = models.ForeignKey(
        Source, verbose_name=_("source"), null=True, on_delete=models.SET_NULL, related_name="sightings"
    )
    url = models.URLField(_("address"), max_length=1000)
    url_key = models.CharField(max_length=1000, unique=True)
    title = models.CharField(_("title"), max_length=500, blank=True)
    found_at = models.DateTimeField(_("found at"), auto_now_add=True)

    class Meta:
        ordering = ["found_at", "pk"]
        verbose_name = _("sighting")
        verbose_name_plural = _("sightings")

    def __str__(self):
        return self.url


class Decision(models.Model):
    """What a researcher did with a candidate, and when: the inbox's record of what was taken or ignored."""

    class Action(models.TextChoices):
        TAKEN = "taken", _("Taken")
        IGNORED = "ignored", _("Ignored")
        RESTORED = "restored", _("Put back in the queue")

    candidate = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="decisions")
    action = models.CharField(_("action"), max_length=10, choices=Action.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(_("at"), auto_now_add=True)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    entry = models.ForeignKey(Entry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = _("decision")
        verbose_name_plural = _("decisions")

    def __str__(self):
        return f"{self.candidate_id} {self.action}"
