from django.urls import path

from alerts import views

app_name = "alerts"

urlpatterns = [
    path("saved/<int:pk>/", views.alert_settings, name="settings"),
    path("saved/<int:pk>/rotate/", views.feed_rotate, name="rotate"),
    path("mail/<int:pk>/", views.mail_detail, name="mail"),
    path("feed/<str:token>/", views.SavedFilterFeed(), name="feed"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
