"""``{{ entry.source_url|safe_url }}``: the link if ``policies.safety`` accepts it (absolute http/https with a
host), else the empty string. Every template that puts a stored link in an ``href`` or a mail goes through it,
so a row stored before the rule (or a frozen revision holding one) renders without a link, never with a
``javascript:``, ``data:`` or relative one."""

from django import template

from policies import safety

register = template.Library()


@register.filter
def safe_url(value):
    return safety.safe_url(value)
