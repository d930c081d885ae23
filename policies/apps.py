from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _


def _forward_to_concrete_model(signal):
    def forward(sender, **kwargs):
        kwargs.pop("signal", None)
        signal.send(sender=sender._meta.concrete_model, **kwargs)

    return forward


def track_proxy_history(proxy):
    """Let django-simple-history record saves made through a proxy of a tracked model.

    Django sends ``post_save`` with the proxy as sender, and simple-history listens for the concrete
    model only; the admin's history view also looks the manager up on the proxy's own ``_meta``.
    """
    concrete = proxy._meta.concrete_model
    proxy._meta.simple_history_manager_attribute = concrete._meta.simple_history_manager_attribute
    for signal in (post_save, post_delete):
        signal.connect(_forward_to_concrete_model(signal), sender=proxy, weak=False)


class PoliciesConfig(AppConfig):
    name = "policies"
    verbose_name = _("Catalogue")

    def ready(self):
        from policies.models import Analysis, Briefing, Policy

        for proxy in (Policy, Analysis, Briefing):
            track_proxy_history(proxy)

        from policies import receivers

        receivers.connect()
