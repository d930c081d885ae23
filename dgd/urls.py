from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path
from django.views.decorators.cache import cache_control

admin.site.site_header = "数字政府动态 · 管理后台"
admin.site.site_title = "数字政府动态 · 管理后台"
admin.site.index_title = "工作台"
admin.site.site_url = "/"  # 查看站点: the public site (the admin's header also links the library)


@cache_control(max_age=86400)
def favicon(request):
    return redirect(static("dgd/favicon.svg"))  # resolved per request: the manifest exists only after collectstatic


urlpatterns = [
    path("admin/", admin.site.urls),
    path("favicon.ico", favicon),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("library/", include("library.urls")),
    path("alerts/", include("alerts.urls")),
    path("subscribe/", include("subscribers.urls")),
    path("", include("issues.urls")),
]
