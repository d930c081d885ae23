"""The catalogue: regions, themes, partners and the entries research staff curate.

Every kind of entry (policy, practice, analysis, briefing) lives in the one ``Entry`` table so that the
library, its exports and the subscriber digests read a single list; each kind has a proxy model of its
own for the admin and the spreadsheet import.
"""

import contextlib
import contextvars

from django.apps import apps
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import PermissionDenied
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from policies.safety import HttpURLField

# --- Fields only a service may change ---------------------------------------------------------------

_services_writing = contextvars.ContextVar("services_writing", default=frozenset())


class GuardedFieldError(PermissionDenied):
    """A save would change a field that only its service may change (an entry's ready state, an issue's
    workflow state): the path that tried it (a form, a history revert, an import) is a side door."""


@contextlib.contextmanager
def guarded_writes(model):
    """Let the code inside change ``model``'s guarded fields: the services that own them (with their
    permission checks and audit records) wrap their saves in this, and nothing else does."""
    label = model._meta.concrete_model._meta.label
    token = _services_writing.set(_services_writing.get() | {label})
    try:
        yield
    finally:
        _services_writing.reset(token)


class GuardedFieldsMixin:
    """Refuse, at ``save()``, a change to one of ``GUARDED_FIELDS`` of a stored row unless its service is
    writing (``guarded_writes``). The values loaded from the database are remembered (``from_db``), so the
    check costs a query only for an instance that was not loaded (such as one rebuilt from its history)."""

    GUARDED_FIELDS = ()

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._guarded_loaded = {name: getattr(instance, name) for name in cls.GUARDED_FIELDS if name in field_names}
        return instance

    def guarded_stored_values(self):
        """The guarded fields as stored (``{}`` for a row not stored yet)."""
        loaded = getattr(self, "_guarded_loaded", None)
        if loaded is None or len(loaded) < len(self.GUARDED_FIELDS):
            loaded = type(self)._base_manager.filter(pk=self.pk).values(*self.GUARDED_FIELDS).first() or {}
        return loaded

    def save(self, *args, **kwargs):
        label = self._meta.concrete_model._meta.label
        if self.pk is not None and label not in _services_writing.get():  # adding or not: a rebuilt row has a pk
            stored = self.guarded_stored_values()
            changed = [name for name in self.GUARDED_FIELDS if name in stored and getattr(self, name) != stored[name]]
            if changed:
                names = "、".join(str(self._meta.get_field(name).verbose_name) for name in changed)
                raise GuardedFieldError(_("%(fields)s can only be changed through the workflow.") % {"fields": names})
        super().save(*args, **kwargs)
        self._guarded_loaded = {name: getattr(self, name) for name in self.GUARDED_FIELDS}


class RegionKind(models.TextChoices):
    PROVINCE = "province", _("Province")
    CITY = "city", _("City")
    COUNTY = "county", _("County or district")


class Region(models.Model):
    """An administrative division keyed by its GB/T 2260 code (110000 北京, 320583 昆山, …)."""

    code = models.PositiveIntegerField(_("GB/T 2260 code"), primary_key=True)
    # Not unique: 鼓楼区, 朝阳区 … recur in several cities; the code tells them apart.
    name = models.CharField(_("name"), max_length=50, db_index=True)
    short_name = models.CharField(_("short name"), max_length=20, db_index=True)
    aliases = models.CharField(
        _("aliases"),
        max_length=200,
        blank=True,
        help_text=_("Other names the region goes by, separated by |, e.g. 郑州高新区."),
    )
    initials = models.CharField(_("pinyin initials"), max_length=20, blank=True, db_index=True)
    kind = models.CharField(_("kind"), max_length=10, choices=RegionKind.choices, default=RegionKind.PROVINCE)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("part of"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )

    class Meta:
        ordering = ["code"]
        verbose_name = _("region")
        verbose_name_plural = _("regions")

    def __str__(self):
        return self.name

    @property
    def province_code(self):
        return self.code // 10000 * 10000

    def path(self, separator=" · "):
        """江苏省 · 南京市 · 鼓楼区: the region named with the regions above it, which tells apart the names
        several regions share. One query per level not loaded already: ``select_related("parent__parent")``
        loads a county's whole path with it."""
        names = []
        region = self
        while region is not None:
            names.append(region.name)
            region = region.parent
        return separator.join(reversed(names))

    @property
    def alias_list(self):
        return [alias for alias in self.aliases.split("|") if alias]


class ThemeQuerySet(models.QuerySet):
    def suggested_for(self, text):
        """Themes whose keyword rules match ``text``, in the vocabulary's order."""
        return [theme for theme in self if theme.matches(text)]


class Theme(models.Model):
    """A controlled-vocabulary topic with keyword rules used to suggest it for new entries."""

    slug = models.SlugField(_("slug"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=50, unique=True)
    keywords = models.TextField(
        _("keywords"),
        blank=True,
        help_text=_("One keyword per line. An entry whose title or summary contains one is suggested this theme."),
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    objects = ThemeQuerySet.as_manager()

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("theme")
        verbose_name_plural = _("themes")

    def __str__(self):
        return self.name

    @property
    def keyword_list(self):
        return [line.strip() for line in self.keywords.splitlines() if line.strip()]

    def matches(self, text):
        return any(keyword in text for keyword in self.keyword_list)


class Partner(models.Model):
    """A company named in an entry's tag, such as 新点 in 【河南&新点】: not a region."""

    name = models.CharField(_("name"), max_length=50, unique=True)
    full_name = models.CharField(_("full name"), max_length=200, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("partner")
        verbose_name_plural = _("partners")

    def __str__(self):
        return self.name


class Level(models.TextChoices):
    NATIONAL = "national", _("National")
    MINISTRY = "ministry", _("Ministry")
    PROVINCIAL = "provincial", _("Provincial")
    MUNICIPAL = "municipal", _("Municipal")
    COUNTY = "county", _("County")


class Kind(models.TextChoices):
    POLICY = "policy", _("Policy")
    PRACTICE = "practice", _("Innovation practice")
    ANALYSIS = "analysis", _("Analysis")
    BRIEFING = "briefing", _("Briefing")


class Status(models.TextChoices):
    DRAFT = "draft", _("Draft")
    READY = "ready", _("Ready")


class EntryQuerySet(models.QuerySet):
    def ready(self):
        return self.filter(status=Status.READY)

    def of_kind(self, kind):
        return self.filter(kind=kind)

    def with_tags(self):
        return self.prefetch_related("regions", "themes", "partners")


def display_title(kind, title, issuer):
    """How lists and pages name an entry: a policy as 发文机关《标题》, anything else by its title."""
    if kind == Kind.POLICY:
        return f"{issuer}《{title}》" if issuer else f"《{title}》"
    return title


class Entry(GuardedFieldsMixin, models.Model):
    # The ready state changes only through ``policies.services.entry_mark_ready`` / ``entry_mark_draft``;
    # ``ready_at`` follows it (``save``), so it is guarded with it.
    GUARDED_FIELDS = ("status", "ready_at")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, db_index=True)
    title = models.CharField(_("title"), max_length=300, help_text=_("For a policy, the document title without 《》."))
    issuer = models.CharField(_("issuing body"), max_length=200, blank=True)
    action = models.CharField(
        _("verb"), max_length=10, blank=True, help_text=_("How the issuer put it out: 印发, 发布, 出台 …")
    )
    doc_number = models.CharField(_("document number"), max_length=100, blank=True, help_text="浙政发〔2022〕20号")
    level = models.CharField(_("level"), max_length=10, choices=Level.choices, blank=True)
    regions = models.ManyToManyField(Region, verbose_name=_("regions"), blank=True, related_name="entries")
    themes = models.ManyToManyField(Theme, verbose_name=_("themes"), blank=True, related_name="entries")
    partners = models.ManyToManyField(Partner, verbose_name=_("partners"), blank=True, related_name="entries")
    issued_on = models.DateField(_("issued on"), null=True, blank=True)
    published_on = models.DateField(_("date"), help_text=_("The date the catalogue files this entry under."))
    source_url = HttpURLField(_("original text"), max_length=1000, blank=True)  # http(s) only: policies.safety
    summary = models.TextField(_("summary"), blank=True, help_text=_("Paragraphs; **bold** marks key phrases."))
    body = models.TextField(
        _("body"), blank=True, help_text=_("An analysis's long text; lines starting with ## are sub-headings.")
    )
    # The original document's main text as read from its site (the inbox's 收录). Not shown; its opening
    # (``policies.indexing.FULL_TEXT_SEARCHED`` characters) is searched in the library with the other fields.
    full_text = models.TextField(
        _("full text of the original"),
        blank=True,
        default="",
        db_default="",  # bulk loaders that COPY the other columns (seed_demo) leave it empty, not NULL
        help_text=_("The document's text as read from its site; its opening is searched in the library."),
    )
    interprets = models.ForeignKey(
        "self",
        verbose_name=_("interprets"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="analyses",
        limit_choices_to={"kind": Kind.POLICY},
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    # When the entry last became ready (visible in the library): what saved-filter alerts go by. Not
    # ``published_on``, which can be back-dated; kept through edits, cleared when sent back to draft.
    ready_at = models.DateTimeField(_("ready since"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    history = HistoricalRecords(m2m_fields=[regions, themes, partners])
    objects = EntryQuerySet.as_manager()

    class Meta:
        ordering = ["-published_on", "-id"]
        verbose_name = _("catalogue entry")
        verbose_name_plural = _("catalogue entries")
        indexes = [
            models.Index(fields=["-published_on", "-id"], name="entry_newest"),
            models.Index(fields=["ready_at"], name="entry_ready_at"),
        ]
        permissions = [("mark_ready", _("Can mark entries ready"))]

    def __str__(self):
        return self.display_title

    def save(self, *args, **kwargs):
        """Keep ``ready_at`` in step with ``status`` on every path that may set the ready state (a new entry, or
        the services that own it: marking ready, an import, a publication): set when it becomes ready, kept
        while it stays ready, cleared in draft. Any other save leaves both as stored (the guard checks it)."""
        if self._state.adding or self._meta.concrete_model._meta.label in _services_writing.get():
            if self.status == Status.READY and self.ready_at is None:
                self.ready_at = timezone.now()
            elif self.status != Status.READY:
                self.ready_at = None
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "status" in update_fields and "ready_at" not in update_fields:
            kwargs["update_fields"] = [*update_fields, "ready_at"]
        super().save(*args, **kwargs)

    @property
    def display_title(self):
        return display_title(self.kind, self.title, self.issuer)

    def get_admin_url(self):
        proxy = proxy_for_kind(self.kind)
        return reverse(f"admin:{proxy._meta.app_label}_{proxy._meta.model_name}_change", args=[self.pk])


class KindProxyManager(models.Manager):
    def __init__(self, kind):
        super().__init__()
        self.kind = kind

    def get_queryset(self):
        return EntryQuerySet(self.model, using=self._db).filter(kind=self.kind)


class KindProxy(Entry):
    """Base of the per-kind proxies: each pins ``kind`` and filters the table to its own rows."""

    KIND = None

    class Meta:
        proxy = True

    def save(self, *args, **kwargs):
        self.kind = self.KIND
        super().save(*args, **kwargs)


class Policy(KindProxy):
    KIND = Kind.POLICY
    objects = KindProxyManager(Kind.POLICY)

    class Meta:
        proxy = True
        verbose_name = _("policy")
        verbose_name_plural = _("policies")


class Analysis(KindProxy):
    KIND = Kind.ANALYSIS
    objects = KindProxyManager(Kind.ANALYSIS)

    class Meta:
        proxy = True
        verbose_name = _("analysis")
        verbose_name_plural = _("analyses")


class Briefing(KindProxy):
    KIND = Kind.BRIEFING
    objects = KindProxyManager(Kind.BRIEFING)

    class Meta:
        proxy = True
        verbose_name = _("briefing")
        verbose_name_plural = _("briefings")


def proxy_for_kind(kind):
    """The proxy model of a kind, wherever it is defined (Practice lives in the practices app)."""
    return next(model for model in apps.get_models() if issubclass(model, KindProxy) and kind == model.KIND)


# --- The library's index tables -------------------------------------------------------------------
# Kept in step by ``policies.indexing.entries_reindex`` (the only writer). They hold ready entries only and
# carry the date, kind and level, so a province, theme or pair page is answered from one narrow index
# walked newest first, without joining the entry table (docs/library.md).


class CatalogueFacts(models.Model):
    """What every index row carries of its entry, so a list filters and pages without the entry table."""

    published_on = models.DateField()
    kind = models.CharField(max_length=10)
    level = models.CharField(max_length=10, blank=True)

    class Meta:
        abstract = True


class CatalogueRow(CatalogueFacts):
    """One row per ready entry: what every library list filters and pages on, with its search tokens."""

    entry = models.OneToOneField(Entry, on_delete=models.CASCADE, primary_key=True, related_name="catalogue_row")
    # The entry's issuing body, title, summary and 文号, normalised (``policies.indexing.search_text``: letters
    # and digits only, lower case); a trigram GIN index on PostgreSQL (migration 0010) serves ``LIKE``.
    search_text = models.TextField(blank=True, default="")
    # Every two-character run of ``search_text`` (and its last character) as the lexemes of a tsvector; a GIN
    # index on PostgreSQL (migration 0003). Left empty on SQLite, where keyword search reads ``search_text``.
    vector = SearchVectorField(null=True)

    class Meta:
        indexes = [models.Index(fields=["-published_on", "-entry"], name="catrow_newest")]

    def __str__(self):
        return f"{self.entry_id} {self.published_on}"


class CatalogueRegion(CatalogueFacts):
    """Entry × region, each tag expanded to its ancestors: 昆山 is also filed under 苏州 and 江苏."""

    entry = models.ForeignKey(Entry, on_delete=models.CASCADE, related_name="+", db_index=False)
    region = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="+", db_index=False)
    is_province = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(fields=["region", "-published_on", "-entry"], name="catregion_newest"),
        ]
        constraints = [models.UniqueConstraint(fields=["entry", "region"], name="catregion_once")]

    def __str__(self):
        return f"{self.entry_id} × {self.region_id}"


class CatalogueTheme(CatalogueFacts):
    entry = models.ForeignKey(Entry, on_delete=models.CASCADE, related_name="+", db_index=False)
    theme = models.ForeignKey(Theme, on_delete=models.CASCADE, related_name="+", db_index=False)

    class Meta:
        indexes = [
            models.Index(fields=["theme", "-published_on", "-entry"], name="cattheme_newest"),
        ]
        constraints = [models.UniqueConstraint(fields=["entry", "theme"], name="cattheme_once")]

    def __str__(self):
        return f"{self.entry_id} × {self.theme_id}"


class CatalogueRegionTheme(CatalogueFacts):
    """The pair table: a narrow province + theme filter walks one index instead of probing a join."""

    entry = models.ForeignKey(Entry, on_delete=models.CASCADE, related_name="+", db_index=False)
    region = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="+", db_index=False)
    theme = models.ForeignKey(Theme, on_delete=models.CASCADE, related_name="+", db_index=False)
    is_province = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(fields=["region", "theme", "-published_on", "-entry"], name="catpair_newest"),
        ]
        constraints = [models.UniqueConstraint(fields=["entry", "region", "theme"], name="catpair_once")]

    def __str__(self):
        return f"{self.entry_id} × {self.region_id} × {self.theme_id}"


class CatalogueSample(CatalogueFacts):
    """The entries of the first ``SAMPLE_TABLE_BUCKETS`` sample buckets (6 of 64), each in one compact row with
    its tags as arrays and its search tokens: a facet that would count too many matches is estimated from one
    scan of this table (``library.selectors``). PostgreSQL only; on SQLite it stays empty (facets are exact)."""

    entry = models.OneToOneField(Entry, on_delete=models.CASCADE, primary_key=True, related_name="+")
    sample = models.SmallIntegerField()
    vector = SearchVectorField(null=True)
    regions = ArrayField(models.IntegerField(), default=list)  # tags with their ancestors, as CatalogueRegion
    provinces = ArrayField(models.IntegerField(), default=list)
    themes = ArrayField(models.IntegerField(), default=list)
    # The entry's issuing body: its facet and filter counted from this table alone (a visit to the entry per
    # sampled row cost 200 ms of a cold facets request at a million entries).
    issuer = models.CharField(max_length=200, blank=True, default="")
    # GIN index on the vector on PostgreSQL: migration 0006. Rows go in ordered by bucket (per batch), so the
    # first buckets lie together and an estimate reads only their pages.

    class Meta:
        indexes = [
            # Covering (PostgreSQL): a facet's scan of the first buckets reads this index alone, 15 MB at a
            # million entries, instead of rows that carry the vector (117 MB).
            models.Index(
                fields=["sample"],
                include=["published_on", "kind", "level", "entry", "regions", "provinces", "themes", "issuer"],
                name="catsample_covering",
            )
        ]

    def __str__(self):
        return f"{self.entry_id} (sample {self.sample})"


COUNT_COLUMNS = ["kind", "level", "entries", "is_province"]  # what a sum over the counts table reads


class CatalogueCount(models.Model):
    """Ready entries per month × region × theme × kind × level: the facet counts without a keyword.

    ``region`` NULL means any region (every ready entry, tagged or not), ``theme`` NULL any theme; so each
    entry is counted once in the (NULL, NULL) row of its bucket, once per region (ancestors included) in the
    (region, NULL) rows, once per theme in the (NULL, theme) rows and once per pair in the (region, theme)
    rows. The province facet under one theme (or none) and the theme facet under one region (or none) are then
    exact sums. Kept in step by ``policies.indexing`` (a delta per reindexed batch; a full rebuild after a
    bulk load).
    """

    month = models.DateField()  # the first of the month
    region = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="+", db_index=False, null=True)
    theme = models.ForeignKey(Theme, on_delete=models.CASCADE, related_name="+", db_index=False, null=True)
    is_province = models.BooleanField(default=False)
    kind = models.CharField(max_length=10)
    level = models.CharField(max_length=10, blank=True)
    entries = models.IntegerField()

    class Meta:
        indexes = [
            # per province under a theme (or NULL), per theme under a region (or NULL); covering (PostgreSQL):
            # a sum reads the index alone, not rows scattered over the table
            models.Index(fields=["theme", "region", "month"], include=COUNT_COLUMNS, name="catcount_theme_covering"),
            models.Index(fields=["region", "theme", "month"], include=COUNT_COLUMNS, name="catcount_region_covering"),
            # the province facet: the provinces' rows alone (a sixth of the table)
            models.Index(
                fields=["theme", "month"],
                include=["region", *COUNT_COLUMNS],
                condition=models.Q(is_province=True),
                name="catcount_province",
            ),
            models.Index(fields=["month"], name="catcount_month"),
        ]

    def __str__(self):
        return f"{self.month:%Y-%m} {self.region_id} × {self.theme_id} {self.kind} {self.level}: {self.entries}"


class CatalogueVersion(models.Model):
    """A counter bumped by every reindex: cached facet counts are keyed by it, so a change clears them."""

    number = models.BigIntegerField(default=0)

    def __str__(self):
        return str(self.number)


class ImportJobStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be checked")
    CHECKING = "checking", _("Checking")
    INVALID = "invalid", _("Refused")
    READY = "ready", _("Checked: waiting for confirmation")
    QUEUED = "queued", _("Waiting to be imported")
    IMPORTING = "importing", _("Importing")
    DONE = "done", _("Imported")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class ImportJob(models.Model):
    """One spreadsheet import from the admin: checked row by row (nothing written), shown to the user, and on
    their confirmation imported in one transaction, by a Celery task for a large file (``policies.imports``)."""

    RUNNING = (ImportJobStatus.PENDING, ImportJobStatus.CHECKING, ImportJobStatus.QUEUED, ImportJobStatus.IMPORTING)

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="import_jobs",
        verbose_name=_("user"),
    )
    kind = models.CharField(_("kind"), max_length=100)  # the model's label, "policies.Policy"
    resource = models.CharField(max_length=200)  # the django-import-export resource, by dotted path
    file = models.FileField(upload_to="imports/%Y/%m/", max_length=300, blank=True)
    file_name = models.CharField(_("file name"), max_length=255)
    file_format = models.CharField(_("format"), max_length=10)
    file_size = models.PositiveBigIntegerField(_("file size"), default=0)
    language = models.CharField(max_length=20, blank=True)  # the user's, for the messages
    status = models.CharField(
        _("status"), max_length=20, choices=ImportJobStatus.choices, default=ImportJobStatus.PENDING
    )
    rows_total = models.PositiveIntegerField(_("rows"), default=0)
    rows_done = models.PositiveIntegerField(_("rows done"), default=0)
    errors = models.JSONField(_("errors"), default=list, blank=True)
    result = models.JSONField(_("result"), default=dict, blank=True)  # {"new": n, "update": n, "skip": n}
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")

    def __str__(self):
        return f"{self.file_name} ({self.get_status_display()})"

    @property
    def model(self):
        return apps.get_model(self.kind)

    @property
    def is_running(self):
        return self.status in self.RUNNING
