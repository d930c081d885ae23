from django.contrib import admin

from library.models import SavedFilter


@admin.register(SavedFilter)
class SavedFilterAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "query", "created_at"]
    list_filter = ["user"]
    search_fields = ["name", "query"]
    raw_id_fields = ["user"]
