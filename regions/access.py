"""Who may see and change which regions: built from RoleAssignment.

A user's scopes are loaded once per request (cached on the user object) and
turned into path-prefix filters, so scoping costs no extra query per row.
"""

from django.db.models import Q

from core.access import Role


def scopes(user) -> list[tuple[str, str | None]]:
    """[(role, region path or None for everywhere), …] for ``user``."""
    cached = getattr(user, "_sozialraum_scopes", None)
    if cached is None:
        from .models import RoleAssignment

        cached = [
            (role, path)
            for role, path in RoleAssignment.objects.filter(user=user).values_list("role", "region__path")
        ]
        user._sozialraum_scopes = cached
    return cached


def forget(user) -> None:
    """Drop the cached scopes (after role assignments changed); a user whose
    roles were dropped for this request keeps none."""
    if not getattr(user, "_sozialraum_no_roles", False):
        user.__dict__.pop("_sozialraum_scopes", None)


def drop_roles(user) -> None:
    """This request's ``user`` instance holds no staff role (an integration token
    limited to one organisation acts without its owner's roles)."""
    user._sozialraum_scopes = []
    user._sozialraum_no_roles = True


def has_role(user, role: str) -> bool:
    return any(r == role for r, _ in scopes(user))


def is_unscoped(user, role: str) -> bool:
    """Holds ``role`` everywhere (not limited to a subtree)."""
    if user.is_superuser:
        return True
    return any(r == role and p is None for r, p in scopes(user))


def _paths_q(paths, prefix: str) -> Q:
    q = Q()
    for p in paths:
        q |= Q(**{f"{prefix}path__startswith": p})
    return q


def visible_regions_q(user, prefix: str = "") -> Q | None:
    """Q over regions ``user`` may read; None means all.

    Staff with an unscoped role, and provider staff without any role, read all
    regions (regional statistics are public information). A scoped role sees its
    subtree(s) and the chain of ancestors above them (for context).
    """
    user_scopes = scopes(user)
    if not user_scopes or any(p is None for _, p in user_scopes):
        return None
    paths = {p for _, p in user_scopes}
    ancestor_ids = {int(i) for p in paths for i in p.strip("/").split("/")[:-1]}
    q = _paths_q(sorted(paths), prefix)
    if ancestor_ids:
        q |= Q(**{f"{prefix}pk__in": sorted(ancestor_ids)})
    return q


def changeable_regions_q(user, prefix: str = "") -> Q | None:
    """Q over regions ``user`` may change (planners, within their subtree)."""
    paths = [p for r, p in scopes(user) if r == Role.PLANNER]
    if not paths:
        return Q(pk__in=[])
    if any(p is None for p in paths):
        return None
    return _paths_q(sorted(set(paths)), prefix)
