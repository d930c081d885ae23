"""Spreadsheet import and export (.xlsx, .csv) of catalogue entries, with Chinese column headers.

Each kind has a sheet of its own columns (a policy's 发文机关 and 文号, a practice's 合作伙伴, an analysis's
正文); the sheet of all entries adds 类型 and is for export only. Cells name regions by GB/T 2260 code or by
name (320000 / 江苏 / 江苏省), themes by slug or name, partners by name, levels and statuses by their labels
(省级, 已就绪) or values; several in one cell are separated by 、 , ; & or /. An unknown value, a bad date
or an id that is not an entry of the sheet's kind fails its row with a message naming the column, and
then nothing in the file is imported.
"""

import datetime
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import translation
from django.utils.translation import gettext as _
from import_export import fields, resources, widgets

from policies.indexing import entries_reindex
from policies.models import (
    Analysis,
    Briefing,
    Entry,
    Kind,
    Level,
    Partner,
    Policy,
    Region,
    RegionKind,
    Status,
    Theme,
    guarded_writes,
)
from policies.safety import SpreadsheetSafeResourceMixin

LIST_SEPARATORS = re.compile(r"\s*[,，、;；&＆/]\s*")


class NamedManyWidget(widgets.ManyToManyWidget):
    """Several related objects in one cell, each given by any of ``lookups`` (code, name, slug …).

    Some names hold a separator themselves (一件事/一窗受理), so the longest run of pieces that names an
    object wins: 一件事/一窗受理、跨省通办 is two themes, 四川/重庆 two regions.
    """

    def __init__(self, model, lookups, render_field):
        super().__init__(model, separator="、", field=render_field)
        self.lookups = lookups

    def clean(self, value, row=None, **kwargs):
        text = "" if value is None else str(value).strip()
        if not text:
            return self.model.objects.none()
        pieces = re.split(f"({LIST_SEPARATORS.pattern})", text)
        names, separators = pieces[0::2], pieces[1::2]
        found = []
        start = 0
        while start < len(names):
            if not names[start]:
                start += 1
                continue
            for end in range(len(names), start, -1):
                name = names[start] + "".join(separators[i] + names[i + 1] for i in range(start, end - 1))
                obj = self._find(name)
                if obj is not None:
                    found.append(obj.pk)
                    start = end
                    break
            else:
                raise ValueError(
                    _("unknown %(kind)s «%(name)s»") % {"kind": self.model._meta.verbose_name, "name": names[start]}
                )
        return self.model.objects.filter(pk__in=found)

    def _find(self, name):
        for lookup in self.lookups:
            if lookup == "code" and not name.isdigit():
                continue
            obj = self.model.objects.filter(**{lookup: name}).first()
            if obj is not None:
                return obj
        return None


class RegionsWidget(NamedManyWidget):
    """Regions by code, name, short name or alias. A name several regions share (河北: the province and 天津's
    河北区; 鼓楼: four districts) names the province if one of them is one, else nothing (an unknown-region
    error, so the file says 320106 or 鼓楼区 … instead)."""

    def __init__(self):
        super().__init__(Region, ["code"], "short_name")

    def _find(self, name):
        if found := super()._find(name):
            return found
        named = list(
            Region.objects.filter(
                models.Q(name=name)
                | models.Q(short_name=name)
                | models.Q(aliases__regex=rf"(^|\|){re.escape(name)}(\||$)")
            )[:10]
        )
        provinces = [region for region in named if region.kind == RegionKind.PROVINCE]
        exact = [region for region in named if region.name == name]
        for candidates in (provinces, exact, named):
            if len(candidates) == 1:
                return candidates[0]
        return None


class ChoiceWidget(widgets.Widget):
    """A choice given by its value (``provincial``) or its label in any of the site's languages (省级, Provincial)."""

    def __init__(self, choices, required=False):
        super().__init__()
        self.choices = choices
        self.required = required

    def clean(self, value, row=None, **kwargs):
        value = "" if value is None else str(value).strip()
        if not value:
            if self.required:
                raise ValueError(_("a value is required"))
            return ""
        for choice_value, label in self.choices.choices:
            if value == choice_value or value in self._labels(label):
                return choice_value
        allowed = "、".join(str(label) for _value, label in self.choices.choices)
        raise ValueError(_("«%(value)s» is not one of %(allowed)s") % {"value": value, "allowed": allowed})

    @staticmethod
    def _labels(label):
        # A spreadsheet exported by a colleague whose admin speaks English must still import.
        labels = set()
        for language, _name in settings.LANGUAGES:
            with translation.override(language):
                labels.add(str(label))
        return labels

    def render(self, value, obj=None, **kwargs):
        return str(self.choices(value).label) if value else ""


class DayWidget(widgets.DateWidget):
    """A date typed as text (2022-08-01) or a spreadsheet's date cell, which openpyxl reads as a datetime."""

    def clean(self, value, row=None, **kwargs):
        if isinstance(value, datetime.datetime):
            return value.date()
        try:
            return super().clean(value, row, **kwargs)
        except ValueError:
            raise ValueError(_("«%(value)s» is not a date like 2022-08-01") % {"value": value}) from None


class EntryResource(SpreadsheetSafeResourceMixin, resources.ModelResource):
    """Every kind of entry in one sheet (export only: a kind's own resource imports, and pins the kind).

    Every kind's resource derives from it, so every cell exported goes through ``policies.safety``'s
    ``spreadsheet_cell`` (no formula reaches a spreadsheet) and ``source_url`` is checked by the model field's
    ``validate_http_url`` on import (``clean_model_instances``)."""

    id = fields.Field(attribute="id", column_name="编号", widget=widgets.IntegerWidget())
    kind = fields.Field(attribute="kind", column_name="类型", widget=ChoiceWidget(Kind), readonly=True)
    title = fields.Field(attribute="title", column_name="标题", widget=widgets.CharWidget())
    issuer = fields.Field(attribute="issuer", column_name="发文机关", widget=widgets.CharWidget())
    doc_number = fields.Field(attribute="doc_number", column_name="文号", widget=widgets.CharWidget())
    level = fields.Field(attribute="level", column_name="级别", widget=ChoiceWidget(Level))
    regions = fields.Field(
        attribute="regions",
        column_name="地区",
        widget=RegionsWidget(),
    )
    partners = fields.Field(
        attribute="partners", column_name="合作伙伴", widget=NamedManyWidget(Partner, ["name", "full_name"], "name")
    )
    themes = fields.Field(
        attribute="themes", column_name="主题", widget=NamedManyWidget(Theme, ["slug", "name"], "name")
    )
    published_on = fields.Field(attribute="published_on", column_name="日期", widget=DayWidget(format="%Y-%m-%d"))
    source_url = fields.Field(attribute="source_url", column_name="原文链接", widget=widgets.CharWidget())
    summary = fields.Field(attribute="summary", column_name="摘要", widget=widgets.CharWidget())
    status = fields.Field(attribute="status", column_name="状态", widget=ChoiceWidget(Status))

    class Meta:
        model = Entry
        fields = (
            "id",
            "kind",
            "title",
            "issuer",
            "doc_number",
            "level",
            "regions",
            "partners",
            "themes",
            "published_on",
            "source_url",
            "summary",
            "status",
        )
        export_order = fields
        import_id_fields = ["id"]
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True
        use_transactions = True

    def import_data(self, dataset, **kwargs):
        # One bad row refuses the whole file, whoever calls: the admin, a command or a test.
        kwargs.setdefault("rollback_on_validation_errors", True)
        return super().import_data(dataset, **kwargs)

    def init_instance(self, row=None):
        instance = super().init_instance(row)
        # A kind's proxy pins its kind on save, but the row is validated (full_clean) before that.
        kind = getattr(self._meta.model, "KIND", None)
        if kind:
            instance.kind = kind
        return instance

    def get_or_init_instance(self, instance_loader, row):
        instance, new = super().get_or_init_instance(instance_loader, row)
        if new and row.get("编号") not in (None, ""):
            # Never let a row's id reach an entry of another kind (or one that does not exist).
            raise ValidationError(
                {
                    "id": _("编号 %(id)s: no such %(kind)s")
                    % {"id": row["编号"], "kind": self._meta.model._meta.verbose_name}
                }
            )
        return instance, new

    def import_instance(self, instance, row, **kwargs):
        """Check the many-to-many cells too before anything is saved, so that an unknown region or theme is a
        validation error of its row like any other (django-import-export reads them only after saving)."""
        errors = {}
        try:
            super().import_instance(instance, row, **kwargs)
        except ValidationError as error:
            errors = error.error_dict
        for field in self.get_import_fields():
            if isinstance(field.widget, widgets.ManyToManyWidget) and field.column_name in row:
                try:
                    field.clean(row)
                except ValueError as error:
                    errors[field.attribute] = [ValidationError(str(error), code="invalid")]
        stored = instance.guarded_stored_values() if instance.pk else {"status": Status.DRAFT}
        user = kwargs.get("user")
        if instance.status != stored.get("status") and user is not None and not user.has_perm("policies.mark_ready"):
            # The ready state is entry_mark_ready's: a sheet may change it only for someone who may mark ready.
            errors["status"] = [ValidationError(_("You may not mark entries ready."), code="permission")]
        if errors:
            raise ValidationError(errors)

    def save_instance(self, instance, is_create, row, **kwargs):
        """Save with leave to change the ready state, checked per row in ``import_instance``."""
        instance._change_reason = "spreadsheet import"
        user = kwargs.get("user")
        if user is not None and getattr(user, "pk", None):
            instance._history_user = user
        with guarded_writes(Entry):
            return super().save_instance(instance, is_create, row, **kwargs)

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        """Name the spreadsheet column in each message (日期: …), not the model field."""
        try:
            super().validate_instance(instance, import_validation_errors, validate_unique)
        except ValidationError as error:
            columns = {field.attribute: field.column_name for field in self.get_import_fields()}
            raise ValidationError(
                {
                    attribute: [f"{columns.get(attribute, attribute)}: {message}" for message in messages]
                    for attribute, messages in error.message_dict.items()
                }
            ) from None

    def after_import(self, dataset, result, **kwargs):
        super().after_import(dataset, result, **kwargs)
        if not self._is_dry_run(kwargs) and not result.has_errors() and not result.has_validation_errors():
            entries_reindex(entry_ids=[row.object_id for row in result.rows if row.object_id])

    def before_import_row(self, row, **kwargs):
        if not row.get("编号"):
            row["编号"] = None
        if not row.get("状态"):
            row["状态"] = Status.DRAFT
        if not row.get("原文链接"):
            row["原文链接"] = ""


class PolicyResource(EntryResource):
    class Meta(EntryResource.Meta):
        model = Policy
        fields = (
            "id",
            "title",
            "issuer",
            "doc_number",
            "level",
            "regions",
            "themes",
            "published_on",
            "source_url",
            "summary",
            "status",
        )
        export_order = fields


class AnalysisResource(EntryResource):
    body = fields.Field(attribute="body", column_name="正文", widget=widgets.CharWidget())

    class Meta(EntryResource.Meta):
        model = Analysis
        fields = (
            "id",
            "title",
            "level",
            "regions",
            "themes",
            "published_on",
            "source_url",
            "summary",
            "body",
            "status",
        )
        export_order = fields


class BriefingResource(EntryResource):
    class Meta(EntryResource.Meta):
        model = Briefing
        fields = (
            "id",
            "title",
            "issuer",
            "level",
            "regions",
            "themes",
            "published_on",
            "source_url",
            "summary",
            "status",
        )
        export_order = fields
