"""The notification centre under /api/v1/notifications/: everyone reads and
marks only their own notifications (``Notification.objects.for_user``);
notifications are written by the reminder jobs, never through the API."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from ..access import Action
from ..filtersets import NotificationFilterSet
from ..models import Notification
from .renderers import ExportViewSetMixin
from .views import ScopedReadOnlyViewSet


class NotificationSerializer(serializers.ModelSerializer):
    unread = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "text", "url", "created_at", "read_at", "unread"]
        read_only_fields = fields

    def get_unread(self, obj) -> bool:
        return obj.read_at is None


class NotificationViewSet(ExportViewSetMixin, ScopedReadOnlyViewSet):
    """The signed-in user's notifications, newest first (``unread=true``: only
    unread ones); ``read`` marks one as read, ``read-all`` all of them."""

    model = Notification
    queryset = Notification.objects.all()
    serializer_class = NotificationSerializer
    filterset_class = NotificationFilterSet

    @extend_schema(request=None, responses={200: NotificationSerializer})
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        """Mark the notification as read (kept as it was if it already is)."""
        notification = self.get_object()  # own only (others are 404)
        if notification.read_at is None:
            Notification.objects.for_user(request.user, Action.CHANGE).filter(
                pk=notification.pk, read_at__isnull=True).update(read_at=timezone.now())
            notification.refresh_from_db(fields=["read_at"])
        return Response(self.get_serializer(notification).data)

    @extend_schema(request=None, responses={200: inline_serializer("NotificationsRead", {
        "marked": serializers.IntegerField(help_text="So viele waren ungelesen und sind nun gelesen."),
    })})
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request):
        """Mark every unread notification of the user as read."""
        marked = Notification.objects.for_user(request.user, Action.CHANGE).unread().update(read_at=timezone.now())
        return Response({"marked": marked})
