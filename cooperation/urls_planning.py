"""Pages of need reports (``bedarfsmeldungen/``) and cooperative planning
processes (``planungen/``), below ``/kooperation/``."""

from django.urls import path

from . import planning_views as views

urlpatterns = [
    path("bedarfsmeldungen/", views.NeedReportListView.as_view(), name="needreport-list"),
    path("bedarfsmeldungen/neu/", views.NeedReportEditView.as_view(), name="needreport-create"),
    path("bedarfsmeldungen/<uuid:uuid>/", views.NeedReportDetailView.as_view(), name="needreport-detail"),
    path("bedarfsmeldungen/<uuid:uuid>/bearbeiten/", views.NeedReportEditView.as_view(), name="needreport-update"),
    path("bedarfsmeldungen/<uuid:uuid>/zurueckziehen/", views.NeedReportDeleteView.as_view(),
         name="needreport-delete"),
    path("bedarfsmeldungen/<uuid:uuid>/bearbeitung/", views.NeedReportTriageView.as_view(), name="needreport-triage"),
    path("planungen/", views.PlanningListView.as_view(), name="planning-list"),
    path("planungen/neu/", views.PlanningEditView.as_view(), name="planning-create"),
    path("planungen/<uuid:uuid>/", views.PlanningDetailView.as_view(), name="planning-detail"),
    path("planungen/<uuid:uuid>/bearbeiten/", views.PlanningEditView.as_view(), name="planning-update"),
    path("planungen/<uuid:uuid>/phase/", views.PlanningPhaseView.as_view(), name="planning-phase"),
    path("planungen/<uuid:uuid>/abschluss/", views.PlanningCloseView.as_view(), name="planning-close"),
    path("planungen/<uuid:uuid>/beteiligte/", views.ParticipantCreateView.as_view(), name="planning-participant-create"),
    path("planungen/<uuid:uuid>/beteiligte/<int:pk>/entfernen/", views.ParticipantDeleteView.as_view(),
         name="planning-participant-delete"),
    path("planungen/<uuid:uuid>/swot/", views.SwotCreateView.as_view(), name="planning-swot-create"),
    path("planungen/<uuid:uuid>/swot/<int:pk>/loeschen/", views.SwotDeleteView.as_view(), name="planning-swot-delete"),
    path("planungen/<uuid:uuid>/beschluesse/", views.DecisionCreateView.as_view(), name="planning-decision-create"),
    path("planungen/<uuid:uuid>/beschluesse/<int:pk>/loeschen/", views.DecisionDeleteView.as_view(),
         name="planning-decision-delete"),
]
