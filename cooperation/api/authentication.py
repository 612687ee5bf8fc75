"""Authentication of integration tokens (``Authorization: Token szr_…`` or
``Authorization: Bearer szr_…``), see cooperation.models.tokens.

Every attempt, good or bad, goes to the security log. A token limited to an
organisation is checked against its owner's rights on every request: it works
only while the owner is a planner or an editor of that organisation.
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from core import security

from .. import access
from ..models.tokens import PREFIX, IntegrationToken, digest

KEYWORDS = (b"token", b"bearer")


class IntegrationTokenAuthentication(BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in KEYWORDS:
            return None  # not ours: session or anonymous
        if len(parts) != 2:
            return self.fail(request, "malformed_header", _("Ungültiger Token-Header: erwartet „Token <Schlüssel>“."))
        try:
            key = parts[1].decode()
        except UnicodeError:
            return self.fail(request, "malformed_header", _("Ungültiger Token-Header: Zeichen außerhalb von ASCII."))
        if not key.startswith(PREFIX):
            return self.fail(request, "unknown_token", _("Unbekannter oder ungültiger Token."))
        token = (IntegrationToken.objects.select_related("owner", "organization")
                 .filter(key_digest=digest(key)).first())
        if token is None:
            return self.fail(request, "unknown_token", _("Unbekannter oder ungültiger Token."), prefix=key[:12])
        if token.status == "revoked":
            return self.fail(request, "revoked", _("Der Token wurde widerrufen."), token=token)
        if token.status == "expired":
            return self.fail(request, "expired", _("Der Token ist abgelaufen."), token=token)
        user = token.owner
        if not user.is_active:
            return self.fail(request, "owner_inactive", _("Das Konto hinter diesem Token ist deaktiviert."), token=token)
        if token.organization_id is not None:
            if not (access.is_planner(user) or token.organization_id in access.organization_ids(user, editor=True)):
                return self.fail(request, "owner_lost_rights",
                                 _("Wer diesen Token angelegt hat, bearbeitet die Organisation nicht mehr."), token=token)
            access.limit_to_organization(user, token.organization_id)
        token.touch(security.client_ip(request))
        security.log(security.TOKEN_SUCCEEDED, request, user=user, token=token.prefix, scope=token.scope,
                     organization=token.organization_id)
        return user, token

    def fail(self, request, reason, message, token=None, prefix=None):
        security.log(security.TOKEN_FAILED, request, user=token.owner if token else None, reason=reason,
                     token=token.prefix if token else prefix)
        raise exceptions.AuthenticationFailed(message)

    def authenticate_header(self, request):
        return self.keyword


class IntegrationTokenScheme(OpenApiAuthenticationExtension):
    """The token in the OpenAPI schema (Swagger UI's "Authorize" button)."""

    target_class = IntegrationTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Integration token from the page „API-Zugänge“: `Token szr_…` (or `Bearer szr_…`).",
        }
