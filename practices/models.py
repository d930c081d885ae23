"""Innovation practices (创新实践): local cases, tagged by province and sometimes by a partner company."""

from django.utils.translation import gettext_lazy as _

from policies.models import Kind, KindProxy, KindProxyManager


class Practice(KindProxy):
    KIND = Kind.PRACTICE
    objects = KindProxyManager(Kind.PRACTICE)

    class Meta:
        proxy = True
        verbose_name = _("innovation practice")
        verbose_name_plural = _("innovation practices")
