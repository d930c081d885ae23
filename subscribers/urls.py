from django.urls import path

from subscribers import views

app_name = "subscribers"

urlpatterns = [
    path("", views.subscribe, name="subscribe"),
    path("thanks/", views.subscribe_done, name="subscribe_done"),
    path("confirm/<str:token>/", views.confirm, name="confirm"),
    path("manage/<str:token>/", views.manage, name="manage"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("fewer/<str:token>/", views.fewer, name="fewer"),
    path("erase/<str:token>/", views.erase, name="erase"),
    path("weekly-off/<str:token>/", views.weekly_off, name="weekly_off"),
]
