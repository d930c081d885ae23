"""The inbox's settings: ``SOURCES_*`` in ``dgd/settings.py``, each read from the environment with a default
(docs/sources.md, "Settings")."""

from django.conf import settings


def get(name):
    return getattr(settings, name)


def user_agent():
    site = getattr(settings, "SITE_URL", "")
    agent = get("SOURCES_USER_AGENT")
    return f"{agent[:-1]}; +{site})" if site and agent.endswith(")") else agent
