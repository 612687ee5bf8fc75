from django.conf import settings

from . import access


def navigation(request):
    """For the navigation: whether the user edits offerings (planners, and
    provider staff with an editor membership — looked up only for users without
    a staff role, whose role scopes are loaded anyway), whether they work for
    an organisation ("Mein Trägerbudget"), and whether the directory is open to
    anonymous visitors."""
    user = getattr(request, "user", None)
    signed_in = bool(user and user.is_authenticated and user.is_active)
    edits = signed_in and (
        user.is_superuser or access.is_planner(user)
        or (not access.is_staff_reader(user) and bool(access.organization_ids(user, editor=True)))
    )
    members = signed_in and not access.is_staff_reader(user) and bool(access.organization_ids(user))
    return {
        "edits_offerings": edits,
        # API-Zugänge: planners and provider editors (IntegrationToken.objects.can_add, but for the rare
        # staff reader who also edits an organisation: no link, no extra query on every page)
        "manages_tokens": edits,
        "has_memberships": members,
        "directory_public": settings.DIRECTORY_PUBLIC,
    }
