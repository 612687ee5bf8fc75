import json

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import serializers

from ..imports import registry
from ..models import ImportRun


class ImportRunSerializer(serializers.ModelSerializer):
    created_by = serializers.StringRelatedField()

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
            value = json.loads(text)
        except json.JSONDecodeError as e:
            raise serializers.ValidationError(_("Kein gültiges JSON: %(e)s") % {"e": e})
        if not isinstance(value, dict):
            raise serializers.ValidationError(_("Optionen müssen ein JSON-Objekt sein."))
        return value
