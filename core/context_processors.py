from django.conf import settings

from .access import Role, has_role
from .models import Notification


def navigation(request):
    user = getattr(request, "user", None)
    return {
        "is_planner": bool(user and has_role(user, Role.PLANNER)),
        "demo_mode": settings.SOZIALRAUM_DEMO_MODE,
        "accessibility_contact": settings.ACCESSIBILITY_CONTACT_EMAIL,
        "unread_notifications": _unread_count(user),
    }


def _unread_count(user):
    """The number of the user's unread notifications, for the navigation: a
    callable, so the query runs only when a template shows it (once)."""
    result = []

    def count() -> int:
        if not result:
            if user is None or not user.is_authenticated or not user.is_active:
                result.append(0)
            else:  # own ones only, also for a superuser (for_user would give them everyone's)
                result.append(Notification.objects.for_user(user).filter(user=user).unread().count())
        return result[0]

    return count
