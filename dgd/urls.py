from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "数字政府动态"
admin.site.site_title = "数字政府动态"
admin.site.index_title = "DGD"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("issues.urls")),
]
