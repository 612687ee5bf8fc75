"""The OpenAPI schema of every API view: drf-spectacular's AutoSchema plus the
error answers the API gives, so that a client (and the schema test with
Schemathesis, tests/api) knows every status code it can receive.

Added to each operation unless the view documents that code itself:

* 401 — no or an invalid, revoked or expired token (every operation);
* 403 — not allowed (unsafe methods: the role, a read-only token);
* 404 — an object in the path the caller does not see, a page past the end
  (``page``) or an unknown ``format``;
* 400 — the body or a filter is invalid (operations with a body or query
  parameters), as ``{"field": ["message", …], …}`` or ``{"detail": "…"}``;
* 409 — DELETE of an object that is still in use;
* 415 — a body in a media type the operation does not take;
* 429 — too many requests (throttling, with ``Retry-After``).

Errors are always JSON (also where a list exports CSV/XLSX or GeoJSON).
"""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

JSON = ["application/json"]
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
PAGINATION = {"page", "page_size"}


class ErrorSerializer(serializers.Serializer):
    """An error that is not about a single field (German message)."""

    detail = serializers.CharField()

    class Meta:
        ref_name = "Error"


class ValidationErrorSerializer(serializers.Serializer):
    """What was wrong with the request: each field (or filter) with its
    messages; ``non_field_errors`` for the request as a whole, ``detail`` for a
    refused step of a workflow."""

    non_field_errors = serializers.ListField(child=serializers.CharField(), required=False)
    detail = serializers.CharField(required=False)

    class Meta:
        ref_name = "ValidationErrors"


ERRORS = {
    "400": OpenApiResponse(ValidationErrorSerializer, description="Ungültige Anfrage (Felder oder Filter)."),
    "401": OpenApiResponse(ErrorSerializer, description="Nicht angemeldet oder Token ungültig."),
    "403": OpenApiResponse(ErrorSerializer, description="Keine Berechtigung."),
    "404": OpenApiResponse(ErrorSerializer, description="Nicht gefunden (oder nicht sichtbar)."),
    "409": OpenApiResponse(ErrorSerializer, description="Wird noch verwendet und kann nicht gelöscht werden."),
    "415": OpenApiResponse(ErrorSerializer, description="Nicht unterstützter Medientyp des Inhalts."),
    "429": OpenApiResponse(ErrorSerializer, description="Zu viele Anfragen; später erneut versuchen."),
}


class AutoSchema(SpectacularAutoSchema):
    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses = operation.setdefault("responses", {})
        for code in self.error_codes(operation):
            if code not in responses:
                responses[code] = self._get_response_for_code(ERRORS[code], code, JSON)
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def error_codes(self, operation) -> list[str]:
        query = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
        codes = ["401", "429"]
        if self.method in UNSAFE:
            codes.append("403")
        if "{" in self.path or query & {"page", "format"}:
            codes.append("404")
        if "requestBody" in operation or query - PAGINATION - {"format"}:
            codes.append("400")
        if self.method == "DELETE":
            codes.append("409")
        if "requestBody" in operation:
            codes.append("415")
        return codes
