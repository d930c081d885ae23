from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SubscribersConfig(AppConfig):
    name = "subscribers"
    verbose_name = _("Subscribers")

    def ready(self):
        from issues.signals import issue_published
        from subscribers import confirmations, weekly  # noqa: F401 (their kinds of mail, registered)
        from subscribers.receivers import on_issue_published

        issue_published.connect(on_issue_published, dispatch_uid="subscribers.fan_out_on_publish")
