"""Filters for django-simple-history's pages (templates/simple_history/): reasons, field names and stored values
as staff read them, never a raw "None", "in_review" or "status"."""

from django import template

from issues.history_text import field_label, reason_display, value_display

register = template.Library()


@register.filter
def change_reason(reason):
    """``{{ record.history_change_reason|change_reason }}``."""
    return reason_display(reason)


@register.filter
def history_field(record, name):
    """``{{ record|history_field:change.field }}``: the field's label."""
    return field_label(record, name)


@register.simple_tag
def history_value(record, name, value):
    """``{% history_value record change.field change.old %}``: the value as the form shows it."""
    return value_display(record, name, value)


@register.simple_tag
def history_column(record, name):
    """``{% history_column record column %}``: a history_list_display column's value for ``record``."""
    return value_display(record, name, getattr(record, name, None))
