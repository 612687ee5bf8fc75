from django.conf import settings

from .access import Role, has_role


def navigation(request):
    user = getattr(request, "user", None)
    return {
        "is_planner": bool(user and has_role(user, Role.PLANNER)),
        "demo_mode": settings.SOZIALRAUM_DEMO_MODE,
    }
