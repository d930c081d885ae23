"""Series and issues (期): an ordered selection of catalogue entries in five sections."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from policies.models import Entry


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


class IssueQuerySet(models.QuerySet):
    def published(self):
        return self.filter(status=IssueStatus.PUBLISHED)

    def for_month(self, year, month):
        return self.filter(year=year, month=month)


class Issue(models.Model):
    series = models.ForeignKey(Series, verbose_name=_("series"), on_delete=models.PROTECT, related_name="issues")
    year = models.PositiveSmallIntegerField(_("year"))
    month = models.PositiveSmallIntegerField(_("month"), choices=[(m, f"{m:02d}") for m in range(1, 13)])
    number = models.PositiveIntegerField(_("number"), help_text=_("The series' running number: 第04期 is 4."))
    intro = models.TextField(_("introduction"), blank=True)
    status = models.CharField(_("status"), max_length=12, choices=IssueStatus.choices, default=IssueStatus.DRAFT)
    publish_at = models.DateTimeField(_("scheduled for"), null=True, blank=True)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
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
        constraints = [
            models.UniqueConstraint(fields=["series", "year", "month"], name="issue_one_per_month"),
            models.UniqueConstraint(fields=["series", "number"], name="issue_unique_number"),
        ]

    def __str__(self):
        return f"{self.series} {self.year}年{self.month:02d}月 第{self.number:02d}期"

    @property
    def key(self):
        """The issue's address in URLs and commands: ``2022-08``."""
        return f"{self.year}-{self.month:02d}"


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
