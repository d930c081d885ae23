from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PracticesConfig(AppConfig):
    name = "practices"
    verbose_name = _("Innovation practices")

    def ready(self):
        from policies.apps import track_proxy_history
        from practices.models import Practice

        track_proxy_history(Practice)
