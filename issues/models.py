"""Series and issues (期): an ordered selection of catalogue entries in five sections."""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from mailings.models import Message
from policies.models import Entry, GuardedFieldsMixin


class Section(models.TextChoices):
    """The sections of an issue, in the order they appear."""

    HEADLINES = "headlines", _("News in brief")
    POLICIES = "policies", _("Policy panorama")
    PRACTICES = "practices", _("Innovation practices")
    ANALYSIS = "analysis", _("Analysis")
    OUTLOOK = "outlook", _("Outlook")


SECTION_ORDER = list(Section.values)


class Series(models.Model):
    name = models.CharField(_("name"), max_length=50, unique=True, help_text="政务服务分册")
    slug = models.SlugField(_("slug"), max_length=50, unique=True)
    publication = models.CharField(_("publication"), max_length=50, default="数字政府动态")
    publisher = models.CharField(_("publisher"), max_length=100, default="新点软件数字政府研究院")

    class Meta:
        ordering = ["name"]
        verbose_name = _("series")
        verbose_name_plural = _("series")

    def __str__(self):
        return self.name


class IssueStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    IN_REVIEW = "in_review", _("In review")
    APPROVED = "approved", _("Approved")
    SCHEDULED = "scheduled", _("Scheduled")
    PUBLISHED = "published", _("Published")


# Content changes only while an issue is a draft: what a chief editor reviews must not move under them, so
# from submission on the form is read-only and assembling is refused (send it back to draft to change it).
# Approval freezes the content (``Issue.approved_data``) and publishing publishes exactly that.
EDITABLE_STATUSES = (IssueStatus.DRAFT,)
# A draft or an issue in review can still be deleted or have an old version restored: nothing approved is lost.
DELETABLE_STATUSES = (IssueStatus.DRAFT, IssueStatus.IN_REVIEW)
FROZEN_STATUSES = (IssueStatus.APPROVED, IssueStatus.SCHEDULED)


class IssueQuerySet(models.QuerySet):
    def published(self):
        return self.filter(status=IssueStatus.PUBLISHED)

    def for_month(self, year, month):
        return self.filter(year=year, month=month)


def issue_label(series, year, month, number):
    """An issue's name as readers know it: 政务服务分册 2022年08月 第08期 (also built from plain values, in lists)."""
    return f"{series} {year}年{month:02d}月 第{number:02d}期"


class Issue(GuardedFieldsMixin, models.Model):
    """A monthly issue. Its workflow lives in ``issues.workflow``, the only code that may change the workflow
    fields (``GUARDED_FIELDS``). Approval freezes the content as the chief editor saw it (``approved_data``),
    and publishing publishes that; once published readers see its latest ``IssueRevision``, whatever later
    happens to the entries."""

    GUARDED_FIELDS = ("status", "publish_at", "published_at", "approved_data")

    series = models.ForeignKey(Series, verbose_name=_("series"), on_delete=models.PROTECT, related_name="issues")
    year = models.PositiveSmallIntegerField(_("year"))
    month = models.PositiveSmallIntegerField(_("month"), choices=[(m, f"{m:02d}") for m in range(1, 13)])
    number = models.PositiveIntegerField(_("number"), help_text=_("The series' running number: 第04期 is 4."))
    intro = models.TextField(_("introduction"), blank=True)
    status = models.CharField(_("status"), max_length=12, choices=IssueStatus.choices, default=IssueStatus.DRAFT)
    publish_at = models.DateTimeField(_("scheduled for"), null=True, blank=True)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    approved_data = models.JSONField(_("content as approved"), null=True, blank=True, editable=False)
    source_name = models.CharField(
        _("imported from"), max_length=255, blank=True, help_text=_("The newsletter file it was imported from.")
    )
    entries = models.ManyToManyField(Entry, through="IssueEntry", related_name="issues", verbose_name=_("entries"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    history = HistoricalRecords()
    objects = IssueQuerySet.as_manager()

    class Meta:
        ordering = ["-year", "-month"]
        verbose_name = _("issue")
        verbose_name_plural = _("issues")
        permissions = [
            ("submit_issue", _("Can submit an issue for review")),
            ("approve_issue", _("Can approve an issue or send it back to draft")),
            ("publish_issue", _("Can schedule, publish and revise an issue")),
        ]
        constraints = [
            models.UniqueConstraint(fields=["series", "year", "month"], name="issue_one_per_month"),
            models.UniqueConstraint(fields=["series", "number"], name="issue_unique_number"),
        ]

    def __str__(self):
        return issue_label(str(self.series), self.year, self.month, self.number)

    def get_absolute_url(self):
        return reverse("issues:detail", args=[self.year, f"{self.month:02d}"])

    @property
    def key(self):
        """The issue's address in URLs and commands: ``2022-08``."""
        return f"{self.year}-{self.month:02d}"

    @property
    def is_published(self):
        return self.status == IssueStatus.PUBLISHED

    def latest_revision(self):
        return self.revisions.order_by("-number").first()

    @property
    def is_content_editable(self):
        return self.status in EDITABLE_STATUSES

    def submitter(self):
        """Who submitted the issue for its current review (the latest ``submit`` step), or None."""
        if self.pk is None:
            return None
        event = self.events.filter(action="submit").select_related("actor").order_by("-created_at", "-id").first()
        return event.actor if event else None

    @property
    def entry_edit_note(self):
        """What editing one of this issue's entries does to the issue now (shown beside the entry in the admin)."""
        if self.status in FROZEN_STATUSES:
            return _(
                "approved: what the chief editor approved is what gets published; an edit made now reaches this "
                "issue only if a chief editor sends it back to draft and it is approved again"
            )
        if self.status == IssueStatus.PUBLISHED:
            return _("published: readers see the published revision until a chief editor publishes a correction")
        return ""


class IssueEntry(models.Model):
    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="items", verbose_name=_("issue"))
    entry = models.ForeignKey(Entry, on_delete=models.PROTECT, related_name="issue_items", verbose_name=_("entry"))
    section = models.CharField(_("section"), max_length=12, choices=Section.choices)
    position = models.PositiveIntegerField(_("position"), default=0, db_index=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("issue entry")
        verbose_name_plural = _("issue entries")
        constraints = [models.UniqueConstraint(fields=["issue", "entry"], name="issue_entry_once")]

    def __str__(self):
        return str(self.entry)


class IssueRevision(models.Model):
    """What readers see of a published issue: the issue as it stood when published (revision 1), or as a
    chief editor corrected it later (2, 3, …). Later edits to the entries do not reach it."""

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="revisions", verbose_name=_("issue"))
    number = models.PositiveIntegerField(_("revision"))
    data = models.JSONField(_("content"))
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, verbose_name=_("by")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["issue", "number"]
        verbose_name = _("published revision")
        verbose_name_plural = _("published revisions")
        constraints = [models.UniqueConstraint(fields=["issue", "number"], name="issue_revision_once")]

    def __str__(self):
        return f"{self.issue} r{self.number}"


class IssueEvent(models.Model):
    """The audit trail: every workflow step, who took it and when."""

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="events", verbose_name=_("issue"))
    action = models.CharField(_("action"), max_length=20)
    from_status = models.CharField(_("from"), max_length=12, choices=IssueStatus.choices)
    to_status = models.CharField(_("to"), max_length=12, choices=IssueStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, verbose_name=_("by")
    )
    comment = models.TextField(_("comment"), blank=True)
    created_at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("workflow event")
        verbose_name_plural = _("workflow events")

    def __str__(self):
        from issues.history_text import reason_display  # the step's label lives with the workflow

        return f"{self.issue}：{reason_display(f'workflow: {self.action}')}"


class NoticeKind(models.TextChoices):
    SUBMITTED = "submitted", _("Submitted for review")
    APPROVED = "approved", _("Approved")
    RETURNED = "returned", _("Sent back to draft")


NOTICE_KIND = "notice"  # the workflow notices' kind of mail (mailings), registered by issues.notices


class NoticeManager(models.Manager):
    def get_queryset(self):
        return super().get_queryset().filter(batch__kind=NOTICE_KIND).select_related("batch")


class IssueNotice(Message):
    """One workflow mail to one person (a chief editor told of a submission, the author told of an approval or a
    send-back), as the mail engine holds it: a ``mailings.Message`` of the step's batch (kind ``notice``, key
    ``{issue id}-{event id}``), the notice's kind in its payload. Recorded in the step's transaction, so a mail
    that failed is visible and can be sent again."""

    objects = NoticeManager()

    class Meta:
        proxy = True
        ordering = ["-created_at", "-id"]
        verbose_name = _("workflow mail")
        verbose_name_plural = _("workflow mails")

    @property
    def kind(self):
        return self.payload.get("kind", "")

    def get_kind_display(self):
        return NoticeKind(self.kind).label if self.kind in NoticeKind.values else self.kind

    @cached_property
    def issue(self):
        return Issue.objects.select_related("series").filter(pk=self.batch.params.get("issue_id")).first()

    @classmethod
    def load_issues(cls, notices):
        """Give each of ``notices`` its issue in one query (a list page would ask once per row)."""
        ids = {notice.batch.params.get("issue_id") for notice in notices}
        issues = Issue.objects.select_related("series").in_bulk([pk for pk in ids if pk is not None])
        for notice in notices:
            notice.__dict__["issue"] = issues.get(notice.batch.params.get("issue_id"))

    @cached_property
    def event(self):
        return IssueEvent.objects.select_related("actor").filter(pk=self.batch.params.get("event_id")).first()

    def __str__(self):
        return f"{self.issue}: {self.get_kind_display()} → {self.email}"
