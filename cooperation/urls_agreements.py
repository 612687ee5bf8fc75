"""Pages of agreements below ``/kooperation/vereinbarungen/``."""

from django.urls import path

from . import agreement_views as views

urlpatterns = [
    path("", views.AgreementListView.as_view(), name="agreement-list"),
    path("neu/", views.AgreementEditView.as_view(), name="agreement-create"),
    path("<uuid:uuid>/", views.AgreementDetailView.as_view(), name="agreement-detail"),
    path("<uuid:uuid>/bearbeiten/", views.AgreementEditView.as_view(), name="agreement-update"),
    path("<uuid:uuid>/status/", views.AgreementTransitionView.as_view(), name="agreement-transition"),
    path("<uuid:uuid>/parteien/neu/", views.PartyEditView.as_view(), name="agreement-party-create"),
    path("<uuid:uuid>/parteien/<int:pk>/bearbeiten/", views.PartyEditView.as_view(), name="agreement-party-update"),
    path("<uuid:uuid>/parteien/<int:pk>/entfernen/", views.PartyDeleteView.as_view(), name="agreement-party-delete"),
    path("<uuid:uuid>/parteien/<int:pk>/bestaetigen/", views.PartyConfirmView.as_view(),
         name="agreement-party-confirm"),
    path("<uuid:uuid>/stufen/neu/", views.EscalationStepCreateView.as_view(), name="agreement-step-create"),
    path("<uuid:uuid>/stufen/<int:pk>/entfernen/", views.EscalationStepDeleteView.as_view(),
         name="agreement-step-delete"),
    path("<uuid:uuid>/dokumente/neu/", views.DocumentUploadView.as_view(), name="agreement-document-create"),
    path("<uuid:uuid>/dokumente/<uuid:document_uuid>/", views.DocumentDownloadView.as_view(),
         name="agreement-document-download"),
    path("<uuid:uuid>/dokumente/<uuid:document_uuid>/loeschen/", views.DocumentDeleteView.as_view(),
         name="agreement-document-delete"),
    path("<uuid:uuid>/ziele/neu/", views.GoalEditView.as_view(), name="agreement-goal-create"),
    path("<uuid:uuid>/ziele/<int:pk>/bearbeiten/", views.GoalEditView.as_view(), name="agreement-goal-update"),
    path("<uuid:uuid>/ziele/<int:pk>/loeschen/", views.GoalDeleteView.as_view(), name="agreement-goal-delete"),
]
