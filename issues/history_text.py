"""Change reasons as staff read them. The history stores short machine reasons in English ("workflow: submit",
"marked ready", "import_newsletter FILE"): stable for code and tests, so the admin translates them on display."""

import re

from django.utils.safestring import SafeData, mark_safe
from django.utils.text import capfirst
from django.utils.translation import gettext as _

FIXED = {
    "marked ready": lambda: _("marked ready"),
    "marked draft": lambda: _("taken back to draft"),
    "spreadsheet import": lambda: _("spreadsheet import"),
    "themes merged": lambda: _("themes merged"),
    "Published": lambda: _("Published"),
}


def reason_display(reason):
    """The reason in the reader's language; an empty reason is a dash, never "None"."""
    from issues.workflow import TRANSITIONS  # the workflow imports models that import this module's callers

    if not reason:
        return "—"
    if reason in FIXED:
        return FIXED[reason]()
    if reason.startswith("workflow: "):
        action = reason.removeprefix("workflow: ")
        label = TRANSITIONS[action].label if action in TRANSITIONS else action
        return _("workflow: %(step)s") % {"step": label}
    if reason.startswith("published with "):
        return _("published with %(issue)s") % {"issue": reason.removeprefix("published with ")}
    if reason.startswith("import_newsletter"):
        source = reason.removeprefix("import_newsletter").strip()
        return (_("newsletter import: %(file)s") % {"file": source}) if source else _("newsletter import")
    return reason


def _model_of(record):
    return getattr(record, "instance_type", None) or type(getattr(record, "instance", record))


def _field(record, name):
    """The model field called ``name``, or whose label is ``name`` (simple-history hands the template the
    changed field's label, 状态, not its name)."""
    fields = _model_of(record)._meta.get_fields()
    for field in fields:
        if field.name == name:
            return field
    for field in fields:
        if capfirst(str(getattr(field, "verbose_name", ""))) == str(name):
            return field
    return None


def field_label(record, name):
    """A history column or a changed field as its form label (``status`` → 状态)."""
    field = _field(record, name)
    return capfirst(str(field.verbose_name)) if field is not None and hasattr(field, "verbose_name") else name


DELETED_PK = re.compile(r"\s*\(pk=[^)]*\)")


def value_display(record, name, value):
    """A stored value as people read it: a choice's label, a deleted object without its key, a dash for nothing."""
    if value is None or value == "" or str(value) == "None":
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    field = _field(record, name)
    choices = dict(field.flatchoices) if field is not None and getattr(field, "flatchoices", None) else {}
    if choices:
        return choices.get(value, choices.get(str(value), value))
    if isinstance(value, SafeData):  # simple-history escaped it already; removing "(pk=…)" adds no markup
        return mark_safe(DELETED_PK.sub("", value))
    if isinstance(value, str):
        return DELETED_PK.sub("", value)
    return value
