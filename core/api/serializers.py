import json
import math

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import serializers

from ..imports import registry
from ..models import ImportRun


class ImportRunSerializer(serializers.ModelSerializer):
    created_by = serializers.StringRelatedField(allow_null=True)

    class Meta:
        model = ImportRun
        fields = [
            "id", "kind", "status", "original_name", "options", "dry_run", "created_at", "created_by",
            "started_at", "finished_at", "summary", "errors", "error_count",
        ]
        read_only_fields = fields


class ImportSubmitSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[])
    file = serializers.FileField()
    options = serializers.CharField(required=False, allow_blank=True,
                                    help_text="JSON-Objekt, z. B. {\"profile\": \"berlin-lor\"}")
    dry_run = serializers.BooleanField(required=False, default=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(k, c.label) for k, c in registry.kinds().items()]

    def validate_file(self, f):
        if f.size > settings.IMPORT_MAX_UPLOAD_BYTES:
            raise serializers.ValidationError(_("Datei ist zu groß (höchstens %(mb)d MB).") % {
                "mb": settings.IMPORT_MAX_UPLOAD_BYTES // (1024 * 1024)})
        return f

    def validate_options(self, text):
        if not text:
            return {}
        try:
            value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
        except (json.JSONDecodeError, ValueError) as e:
            raise serializers.ValidationError(_("Kein gültiges JSON: %(e)s") % {"e": e})
        if not isinstance(value, dict):
            raise serializers.ValidationError(_("Optionen müssen ein JSON-Objekt sein."))
        if _has_nul(value):  # PostgreSQL's jsonb takes no \u0000
            raise serializers.ValidationError(_("Nullzeichen sind nicht erlaubt."))
        return value


def _no_constant(name):
    raise ValueError(_("%(name)s ist keine Zahl in JSON") % {"name": name})


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):  # 1e999: PostgreSQL's jsonb takes no Infinity
        raise ValueError(_("Zahl %(text)s ist zu groß") % {"text": text})
    return value


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False
