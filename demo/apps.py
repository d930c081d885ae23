from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DemoConfig(AppConfig):
    """Synthetic data for demos and benchmarks (``seed_demo``): the top floor, reaching into the catalogue and
    the subscribers; nothing below imports it."""

    name = "demo"
    verbose_name = _("Demo data")
