"""Which organisations a user works for: built from Membership.

A user's memberships are loaded once per request (cached on the user object):
the organisations they are a member of, with their branches (organisations
whose parent chain leads to one of them), and whether they may edit them.
Staff roles (planner, region lead, viewer) come from ``core.access``.
"""

from core.access import Role, has_role

from .choices import MembershipRole


def organization_ids(user, editor: bool = False) -> frozenset[int]:
    """Ids of the organisations ``user`` is a member of (``editor``: as editor),
    including their branches at any depth. For a request made with an integration
    token limited to an organisation, that organisation and its branches only."""
    cached = getattr(user, "_sozialraum_orgs", None)
    if cached is None:
        from .models import Membership

        roles: dict[int, str] = {}
        for org_id, role in Membership.objects.filter(user=user).values_list("organization_id", "role"):
            if roles.get(org_id) != MembershipRole.EDITOR:
                roles[org_id] = role
        cached = _cache(user, _with_branches(roles))
    return cached["editor" if editor else "all"]


def _with_branches(roles: dict[int, str]) -> dict[int, str]:
    """Branches inherit the membership (a Träger's staff keep its branches current)."""
    from .models import Organization

    roles = dict(roles)
    frontier = dict(roles)
    while frontier:
        children = Organization.objects.filter(parent_id__in=list(frontier)).values_list("pk", "parent_id")
        frontier = {}
        for pk, parent_id in children:
            if pk not in roles or (roles[pk] != MembershipRole.EDITOR and roles[parent_id] == MembershipRole.EDITOR):
                roles[pk] = roles[parent_id]
                frontier[pk] = roles[pk]
    return roles


def _cache(user, roles: dict[int, str]) -> dict:
    cached = {
        "all": frozenset(roles),
        "editor": frozenset(pk for pk, role in roles.items() if role == MembershipRole.EDITOR),
    }
    user._sozialraum_orgs = cached
    return cached


def limit_to_organization(user, organization_id: int) -> None:
    """Let ``user`` (this request's instance) act only as an editor of the
    organisation and its branches: no staff role, no other membership, no
    superuser rights (an integration token made for an organisation). Nothing is
    saved; the next request loads the user afresh."""
    from regions.access import drop_roles

    user.is_superuser = user.is_staff = False
    drop_roles(user)
    _cache(user, _with_branches({organization_id: MembershipRole.EDITOR}))
    user._sozialraum_limited = True


def forget(user) -> None:
    """Drop the cached memberships (after they changed); not for a limited user."""
    if not getattr(user, "_sozialraum_limited", False):
        user.__dict__.pop("_sozialraum_orgs", None)


def is_staff_reader(user) -> bool:
    """Holds a staff role (planner, region lead, viewer) somewhere: reads every
    organisation and offering."""
    return any(has_role(user, role) for role in (Role.PLANNER, Role.REGION_LEAD, Role.VIEWER))


def is_planner(user) -> bool:
    return has_role(user, Role.PLANNER)
