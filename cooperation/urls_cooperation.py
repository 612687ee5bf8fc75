"""Pages of cooperation below ``/kooperation/``: agreements, networks and
meetings, need reports, planning processes, conflict cases, who cooperates
with whom."""

from django.urls import include, path

urlpatterns = [
    path("vereinbarungen/", include("cooperation.urls_agreements")),
    path("netzwerke/", include("cooperation.urls_networks")),
    path("", include("cooperation.urls_planning")),
    path("", include("cooperation.urls_conflicts")),
]
