"""The project's admin site: Django's, with autocomplete results that a model admin may label itself.

Django's autocomplete shows ``str(obj)``; a model admin with an ``autocomplete_label(obj)`` method names its
results with that instead (a region with its path: two 鼓楼区 are otherwise indistinguishable)."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.contrib.admin.views.autocomplete import AutocompleteJsonView


class LabelledAutocompleteJsonView(AutocompleteJsonView):
    def serialize_result(self, obj, to_field_name):
        result = super().serialize_result(obj, to_field_name)
        label = getattr(self.model_admin, "autocomplete_label", None)
        if label is not None:
            result["text"] = label(obj)
        return result


class DgdAdminSite(admin.AdminSite):
    def autocomplete_view(self, request):
        return LabelledAutocompleteJsonView.as_view(admin_site=self)(request)


class DgdAdminConfig(AdminConfig):
    default_site = "dgd.admin_site.DgdAdminSite"
