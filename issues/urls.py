from django.urls import path, re_path

from issues import views

app_name = "issues"

MONTH = r"(?P<year>\d{4})-(?P<month>0[1-9]|1[0-2])"

urlpatterns = [
    path("", views.home, name="home"),
    path("issues/", views.archive, name="archive"),
    path("issues/feed/", views.IssueFeed(), name="feed"),
    path("issues/feed.xsl", views.feed_stylesheet, name="feed_stylesheet"),
    path("issues/rss/", views.feed_page, name="feed_page"),
    path("issues/search/", views.search, name="search"),
    path("privacy/", views.privacy, name="privacy"),
    re_path(rf"^issues/{MONTH}/$", views.detail, name="detail"),
    re_path(rf"^issues/{MONTH}/pdf/$", views.pdf, name="pdf"),
    path("issues/preview/<int:pk>/", views.preview, name="preview"),
    path("issues/preview/<int:pk>/<str:rendition>/", views.preview, name="preview"),
]
