from django.urls import path

from library import views

app_name = "library"

urlpatterns = [
    path("", views.index, name="index"),
    path("facets/", views.facets, name="facets"),
    path("map.svg", views.map_svg, name="map"),
    path("export.csv", views.export, {"extension": "csv"}, name="export_csv"),
    path("export.xlsx", views.export, {"extension": "xlsx"}, name="export_xlsx"),
    path("entry/<int:pk>/", views.entry_detail, name="entry"),
    path("province/<int:code>/", views.province_detail, name="province"),
    path("saved/", views.saved_filters, name="saved"),
    path("saved/<int:pk>/delete/", views.saved_filter_remove, name="saved_delete"),
]
