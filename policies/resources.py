"""Spreadsheet import and export (.xlsx, .csv) of catalogue entries, with Chinese column headers.

Cells name regions by GB/T 2260 code or by name (江苏 / 江苏省), themes by slug or name, levels and
statuses by their Chinese labels; an unknown value fails its row with a message, and django-import-export
then imports nothing.
"""

import re

from django.core.exceptions import ValidationError
from import_export import fields, resources, widgets

from policies.models import Entry, Level, Partner, Policy, Region, Status, Theme

LIST_SEPARATORS = re.compile(r"\s*[,，、;；&＆/]\s*")


class NamedManyWidget(widgets.ManyToManyWidget):
    """Several related objects in one cell, each given by any of ``lookups`` (code, name, slug …)."""

    def __init__(self, model, lookups, render_field):
        super().__init__(model, separator="、", field=render_field)
        self.lookups = lookups

    def clean(self, value, row=None, **kwargs):
        if value is None or str(value).strip() == "":
            return self.model.objects.none()
        found = []
        for name in (part for part in LIST_SEPARATORS.split(str(value).strip()) if part):
            obj = self._find(name)
            if obj is None:
                raise ValueError(f"unknown {self.model._meta.verbose_name}: «{name}»")
            found.append(obj.pk)
        return self.model.objects.filter(pk__in=found)

    def _find(self, name):
        for lookup in self.lookups:
            if lookup == "code" and not name.isdigit():
                continue
            obj = self.model.objects.filter(**{lookup: name}).first()
            if obj is not None:
                return obj
        return None


class ChoiceWidget(widgets.Widget):
    """A choice given by its value (``provincial``) or its label (省级)."""

    def __init__(self, choices, required=False):
        super().__init__()
        self.choices = choices
        self.required = required

    def clean(self, value, row=None, **kwargs):
        value = "" if value is None else str(value).strip()
        if not value:
            if self.required:
                raise ValueError("a value is required")
            return ""
        for choice_value, label in self.choices.choices:
            if value in (choice_value, str(label)):
                return choice_value
        allowed = "、".join(str(label) for _, label in self.choices.choices)
        raise ValueError(f"«{value}» is not one of {allowed}")

    def render(self, value, obj=None, **kwargs):
        return str(self.choices(value).label) if value else ""


class EntryResource(resources.ModelResource):
    id = fields.Field(attribute="id", column_name="编号", widget=widgets.IntegerWidget())
    title = fields.Field(attribute="title", column_name="标题")
    level = fields.Field(attribute="level", column_name="级别", widget=ChoiceWidget(Level))
    regions = fields.Field(
        attribute="regions",
        column_name="地区",
        widget=NamedManyWidget(Region, ["code", "short_name", "name"], "short_name"),
    )
    themes = fields.Field(
        attribute="themes", column_name="主题", widget=NamedManyWidget(Theme, ["slug", "name"], "name")
    )
    published_on = fields.Field(
        attribute="published_on", column_name="日期", widget=widgets.DateWidget(format="%Y-%m-%d")
    )
    source_url = fields.Field(attribute="source_url", column_name="原文链接")
    summary = fields.Field(attribute="summary", column_name="摘要")
    status = fields.Field(attribute="status", column_name="状态", widget=ChoiceWidget(Status))

    class Meta:
        model = Entry
        import_id_fields = ["id"]
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True
        use_transactions = True

    def get_or_init_instance(self, instance_loader, row):
        instance, new = super().get_or_init_instance(instance_loader, row)
        if new and row.get("编号") not in (None, ""):
            # Never let a row's id reach an entry of another kind (or one that does not exist).
            raise ValidationError({"id": f"编号 {row['编号']}: no such {self._meta.model._meta.verbose_name}"})
        return instance, new

    def before_import_row(self, row, **kwargs):
        if not row.get("编号"):
            row["编号"] = None
        if not row.get("状态"):
            row["状态"] = Status.DRAFT
        if not row.get("原文链接"):
            row["原文链接"] = ""


class PolicyResource(EntryResource):
    issuer = fields.Field(attribute="issuer", column_name="发文机关")
    doc_number = fields.Field(attribute="doc_number", column_name="文号")

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


def partner_widget():
    return NamedManyWidget(Partner, ["name", "full_name"], "name")
