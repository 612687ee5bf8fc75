"""The service directory (Angebotsfinder) under /angebotsfinder/."""

from django.urls import path

from . import directory

urlpatterns = [
    path("", directory.DirectoryView.as_view(), name="directory"),
    path("angebot/<uuid:uuid>/", directory.DirectoryServiceView.as_view(), name="directory-service"),
    path("sozialraum-finden/", directory.DirectoryLocateView.as_view(), name="directory-locate"),
]
