from django.contrib import admin

from policies.admin import KindAdmin
from practices.models import Practice
from practices.resources import PracticeResource


@admin.register(Practice)
class PracticeAdmin(KindAdmin):
    resource_classes = [PracticeResource]
    hidden = ["kind", "issuer", "action", "doc_number", "interprets", "body", "issued_on"]
