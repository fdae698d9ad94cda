"""The demo's central URLconf (Django style)."""

from qiao.urls import path, re_path

from . import views

urlpatterns = [
    path("articles/<int:year>/", views.year_archive, name="year_archive"),
    re_path(r"^archive/(?P<year>[0-9]{4})/$", views.legacy_archive, name="legacy_archive"),
    path("api/items/<int:id>", views.ItemView, name="item"),
]
