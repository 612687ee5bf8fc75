"""Pages of networks, their members, conflict procedure, meetings and tasks,
below ``/kooperation/netzwerke/``."""

from django.urls import path

from . import network_views as views

urlpatterns = [
    path("", views.NetworkListView.as_view(), name="network-list"),
    path("neu/", views.NetworkEditView.as_view(), name="network-create"),
    path("aufgaben/", views.MeetingTaskListView.as_view(), name="meeting-task-list"),
    path("aufgaben/<int:pk>/erledigt/", views.MeetingTaskDoneView.as_view(), name="meeting-task-done"),
    path("aufgaben/<int:pk>/wieder-offen/", views.MeetingTaskReopenView.as_view(), name="meeting-task-reopen"),
    path("sitzungen/<uuid:uuid>/", views.MeetingDetailView.as_view(), name="meeting-detail"),
    path("sitzungen/<uuid:uuid>/bearbeiten/", views.MeetingEditView.as_view(), name="meeting-update"),
    path("sitzungen/<uuid:uuid>/loeschen/", views.MeetingDeleteView.as_view(), name="meeting-delete"),
    path("sitzungen/<uuid:uuid>/aufgaben/", views.MeetingTaskCreateView.as_view(), name="meeting-task-create"),
    path("<uuid:uuid>/", views.NetworkDetailView.as_view(), name="network-detail"),
    path("<uuid:uuid>/bearbeiten/", views.NetworkEditView.as_view(), name="network-update"),
    path("<uuid:uuid>/loeschen/", views.NetworkDeleteView.as_view(), name="network-delete"),
    path("<uuid:uuid>/mitglieder/", views.NetworkMemberCreateView.as_view(), name="network-member-create"),
    path("<uuid:uuid>/mitglieder/<int:pk>/", views.NetworkMemberUpdateView.as_view(), name="network-member-update"),
    path("<uuid:uuid>/mitglieder/<int:pk>/entfernen/", views.NetworkMemberDeleteView.as_view(),
         name="network-member-delete"),
    path("<uuid:uuid>/konfliktverfahren/", views.EscalationStepCreateView.as_view(), name="network-step-create"),
    path("<uuid:uuid>/konfliktverfahren/<int:pk>/entfernen/", views.EscalationStepDeleteView.as_view(),
         name="network-step-delete"),
    path("<uuid:network_uuid>/sitzungen/neu/", views.MeetingEditView.as_view(), name="meeting-create"),
]
