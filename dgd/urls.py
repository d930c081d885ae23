from django.contrib import admin
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path
from django.views.decorators.cache import cache_control

admin.site.site_header = "数字政府动态"
admin.site.site_title = "数字政府动态"
admin.site.index_title = "DGD"


@cache_control(max_age=86400)
def favicon(request):
    return redirect(static("dgd/favicon.svg"))  # resolved per request: the manifest exists only after collectstatic


urlpatterns = [
    path("admin/", admin.site.urls),
    path("favicon.ico", favicon),
    path("", include("issues.urls")),
]
