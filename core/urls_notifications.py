"""The notification centre below ``/benachrichtigungen/``."""

from django.urls import path

from . import notification_views as views

urlpatterns = [
    path("", views.NotificationListView.as_view(), name="notification-list"),
    path("<int:pk>/gelesen/", views.NotificationReadView.as_view(), name="notification-read"),
    path("alle-gelesen/", views.NotificationReadAllView.as_view(), name="notification-read-all"),
]
