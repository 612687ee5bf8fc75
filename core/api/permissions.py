from django.utils.translation import gettext_lazy as _
from rest_framework import permissions

READ_ONLY_TOKEN = _("Dieser Token darf nur lesen (Umfang „read“).")


def token_allows(request) -> bool:
    """A read-only integration token (``request.auth.read_only``) may only use
    safe methods."""
    return request.method in permissions.SAFE_METHODS or not getattr(request.auth, "read_only", False)


class ScopedModelPermission(permissions.BasePermission):
    """Default for every API view: authenticated users only (never AllowAny).

    Which rows a user sees or changes is decided by the queryset's
    ``for_user`` (applied in :class:`core.api.views.ScopedViewSet`), not here:
    a row outside the user's view scope is 404, a visible row the user may not
    change is 403. Creating needs ``can_add`` on the model's queryset. A read-only integration
    token is refused every unsafe method (403).
    """

    message = None

    def has_permission(self, request, view):
        if not token_allows(request):
            self.message = READ_ONLY_TOKEN
            return False
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        if getattr(view, "action", None) == "create" or (
            request.method == "POST" and getattr(view, "requires_add_permission", False)
        ):
            model = view.get_queryset().model
            return model.objects.can_add(user)
        return True

    def has_object_permission(self, request, view, obj):
        if request.method in permissions.SAFE_METHODS:
            return True
        from core.access import Action

        action = Action.DELETE if request.method == "DELETE" else Action.CHANGE
        return type(obj).objects.for_user(request.user, action).filter(pk=obj.pk).exists()
