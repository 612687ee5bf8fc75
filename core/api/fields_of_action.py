"""Fields of action (Handlungsfelder) in the API: everyone signed in reads,
planners without a region limit create and change them."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from rest_framework import serializers

from ..filtersets import FieldOfActionFilterSet
from ..models import FieldOfAction
from .views import ScopedModelViewSet


class FieldOfActionSerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(
        slug_field="key", queryset=FieldOfAction.objects.all(), allow_null=True, required=False,
        help_text="Schlüssel des übergeordneten Handlungsfelds; leer = oberste Ebene.",
    )

    class Meta:
        model = FieldOfAction
        fields = [
            "id", "key", "name", "parent", "depth", "legal_basis", "description", "order", "active",
            "created_at", "updated_at",
        ]
        read_only_fields = ["depth", "created_at", "updated_at"]
        # key uniqueness and the tree are checked by the model (same messages as the pages)
        extra_kwargs = {"key": {"validators": []}}

    def validate_key(self, key):
        if self.instance is not None:
            if key != self.instance.key:
                raise serializers.ValidationError(
                    _("Der Schlüssel eines Handlungsfelds bleibt unverändert (Schnittstellen verweisen darauf).")
                )
        elif FieldOfAction.objects.filter(key=key).exists():
            raise serializers.ValidationError(_("Ein Handlungsfeld mit diesem Schlüssel existiert bereits."))
        return key

    def _apply(self, instance, validated):
        for k, v in validated.items():
            setattr(instance, k, v)
        try:
            # the model's field rules and tree rules (cycles, depth, inactive parent);
            # related objects are resolved above, the key's uniqueness is checked in
            # validate_key, and the database enforces every constraint anyway
            instance.full_clean(exclude=["parent", "created_by", "updated_by"], validate_constraints=False)
            instance.save()
        except DjangoValidationError as e:
            raise serializers.ValidationError(e.message_dict)
        return instance

    def create(self, validated):
        return self._apply(FieldOfAction(), validated)

    def update(self, instance, validated):
        return self._apply(instance, validated)


class FieldOfActionViewSet(ScopedModelViewSet):
    """Handlungsfelder (a taxonomy, at most three levels), parents before their
    sub-fields. ``ancestor=<key>`` gives a field with all its sub-fields.
    Fields in use are deactivated (``active: false``), not deleted: deleting a
    field that is still used answers 409."""

    model = FieldOfAction
    serializer_class = FieldOfActionSerializer
    filterset_class = FieldOfActionFilterSet
    queryset = FieldOfAction.objects.all()
    lookup_field = "key"

    def get_queryset(self):
        qs = super().get_queryset().select_related("parent")
        return qs.tree_order() if self.action == "list" else qs
