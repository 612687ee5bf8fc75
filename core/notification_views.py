"""The notification centre: a user's own notifications (unread first), marked
read one by one or all at once. Rows come from
``Notification.objects.for_user`` — another user's notification is 404."""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db.models import F
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views import View

from .access import Action
from .models import Notification
from .views import ScopedListView

PAGE_SIZE = 25


def own_notifications(user, action=Action.VIEW):
    """The user's own notifications. ``for_user`` scopes them; the extra filter
    keeps a superuser (whom ``for_user`` lets see every row) to their own too."""
    return Notification.objects.for_user(user, action).filter(user=user)


class NotificationListView(ScopedListView):
    """Unread first, newest first. The unread count comes from the context
    processor (``unread_notifications``), which the navigation shows anyway."""

    model = Notification
    template_name = "core/notifications/notification_list.html"
    paginate_by = PAGE_SIZE
    nav = "notifications"

    def scoped_queryset(self, qs):
        return qs.filter(user=self.request.user).order_by(F("read_at").asc(nulls_first=True), "-created_at", "-pk")


def _back(request):
    """The list again, on the page the form was sent from."""
    url = reverse("notification-list")
    page = request.POST.get("page", "")
    return redirect(f"{url}?page={page}" if page.isdigit() and page != "1" else url)


class NotificationReadView(LoginRequiredMixin, View):
    """Mark one notification read (POST). With ``open``: then go to its object."""

    http_method_names = ["post"]

    def post(self, request, pk):
        notification = get_object_or_404(own_notifications(request.user, Action.CHANGE), pk=pk)
        if notification.read_at is None:
            Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=timezone.now())
        if request.POST.get("open") and notification.url.startswith("/") and not notification.url.startswith("//"):
            return redirect(notification.url)
        messages.success(request, _("„%(title)s“ ist als gelesen markiert.") % {"title": notification.title})
        return _back(request)


class NotificationReadAllView(LoginRequiredMixin, View):
    """Mark all of one's unread notifications read (POST)."""

    http_method_names = ["post"]

    def post(self, request):
        count = own_notifications(request.user, Action.CHANGE).unread().update(read_at=timezone.now())
        if count:
            messages.success(request, ngettext("%(n)d Benachrichtigung ist als gelesen markiert.",
                                               "%(n)d Benachrichtigungen sind als gelesen markiert.", count) % {"n": count})
        else:
            messages.info(request, _("Es gab keine ungelesenen Benachrichtigungen."))
        return _back(request)
