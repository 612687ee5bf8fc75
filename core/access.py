"""Access scoping in one place.

Every domain model's queryset derives from :class:`ScopedQuerySet` and answers
``Model.objects.for_user(user, action)``. Base views and base viewsets call it;
nothing else filters by permission.
"""

from django.db import models


class Action:
    VIEW = "view"
    CHANGE = "change"
    DELETE = "delete"

    ALL = (VIEW, CHANGE, DELETE)


class ScopedQuerySet(models.QuerySet):
    """A queryset that knows which rows a user may see or change."""

    def for_user(self, user, action: str = Action.VIEW):
        if action not in Action.ALL:
            raise ValueError(f"unknown action {action!r}")
        if user is None or not user.is_authenticated or not user.is_active:
            return self.anonymous_scope(action)
        if user.is_superuser:
            return self
        return self.user_scope(user, action)

    def anonymous_scope(self, action: str):
        """What anonymous visitors may see: nothing, unless a model says otherwise."""
        return self.none()

    def user_scope(self, user, action: str):  # pragma: no cover - every model overrides it
        raise NotImplementedError(f"{self.model.__name__} must define user_scope()")

    def can_add(self, user) -> bool:  # pragma: no cover - every model overrides it
        """Whether ``user`` may create objects of this model at all (the object's
        own scope, e.g. its region, is checked by the form or serializer)."""
        return False


class ScopedManager(models.Manager.from_queryset(ScopedQuerySet)):
    pass


# --- Roles ----------------------------------------------------------------------
# Role assignments are limited to a region subtree, so they live in ``regions``
# (RoleAssignment). Core asks through this hook, set by regions at start-up, so
# that no import points upward.

class Role(models.TextChoices):
    PLANNER = "planner", "Planung"
    REGION_LEAD = "region_lead", "Sozialraumleitung"
    VIEWER = "viewer", "Lesezugriff"


_role_provider = None
_unscoped_provider = None


def set_role_provider(func, unscoped_func) -> None:
    """``func(user, role) -> bool``: whether ``user`` holds ``role`` anywhere;
    ``unscoped_func(user, role) -> bool``: whether everywhere (no subtree limit)."""
    global _role_provider, _unscoped_provider
    _role_provider, _unscoped_provider = func, unscoped_func


def has_role(user, role: str) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    if _role_provider is None:  # pragma: no cover - regions is always installed
        raise RuntimeError("no role provider registered")
    return _role_provider(user, role)


def has_unscoped_role(user, role: str) -> bool:
    """Holds ``role`` without a region limit."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return _unscoped_provider(user, role)
