"""Conflict cases and "Wer kooperiert mit wem?" per region, below ``/kooperation/``."""

from django.urls import path

from . import conflict_views, region_views

urlpatterns = [
    path("konflikte/", conflict_views.ConflictCaseListView.as_view(), name="conflict-list"),
    path("konflikte/neu/", conflict_views.ConflictCaseCreateView.as_view(), name="conflict-create"),
    path("konflikte/<uuid:uuid>/", conflict_views.ConflictCaseDetailView.as_view(), name="conflict-detail"),
    path("konflikte/<uuid:uuid>/naechste-stufe/", conflict_views.ConflictEscalateView.as_view(),
         name="conflict-escalate"),
    path("konflikte/<uuid:uuid>/abschliessen/", conflict_views.ConflictCloseView.as_view(), name="conflict-close"),
    path("raeume/<str:code>/", region_views.RegionCooperationView.as_view(), name="region-cooperation"),
]
