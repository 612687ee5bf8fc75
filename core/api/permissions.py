from rest_framework import permissions


class ScopedModelPermission(permissions.BasePermission):
    """Default for every API view: authenticated users only (never AllowAny).

    Which rows a user sees or changes is decided by the queryset's
    ``for_user`` (applied in :class:`core.api.views.ScopedViewSet`), not here:
    a row outside the user's view scope is 404, a visible row the user may not
    change is 403. Creating needs ``can_add`` on the model's queryset.
    """

    def has_permission(self, request, view):
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
