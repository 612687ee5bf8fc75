"""Trägerbudgets under /api/v1/: the explicit share table (``provider-shares``,
planners who may change the budget write it) and the computed provider
allocations (``provider-allocations``, read-only: written by
``budgets.providers`` whenever the adoption, the shares or the agreements
change). Providers see the allocations of their own organisations
(``ProviderAllocation.objects.for_user``). Both lists export as CSV/XLSX.
"""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import serializers

from cooperation.api.cooperation_serializers import ModelChecksSerializer
from cooperation.models import Organization
from core.access import Action
from core.api.renderers import ExportViewSetMixin
from core.api.views import ScopedModelViewSet, ScopedReadOnlyViewSet
from regions.models import Region

from ..filtersets import ProviderAllocationFilterSet, ProviderShareFilterSet
from ..models import Budget, ProviderAllocation, ProviderShare

# --- FilterSets (not in budgets/filtersets.py yet) -------------------------------------------


# --- serializers ---------------------------------------------------------------------------------


class ScopedBudgetField(serializers.PrimaryKeyRelatedField):
    """A budget by number, among those the user may change (others "do not exist")."""

    def get_queryset(self):
        request = self.context.get("request")
        return Budget.objects.for_user(getattr(request, "user", None), Action.CHANGE)


class ProviderShareSerializer(ModelChecksSerializer):
    budget = ScopedBudgetField(help_text=gettext_lazy("Nummer des Budgets (eines, das Sie ändern dürfen)."))
    region = serializers.SlugRelatedField(slug_field="code", queryset=Region.objects.all(),
                                          help_text=gettext_lazy("Schlüssel eines Raums der Verteilungsebene."))
    organization = serializers.SlugRelatedField(slug_field="uuid", queryset=Organization.objects.all(),
                                                help_text=gettext_lazy("UUID des Trägers."))
    organization_name = serializers.CharField(source="organization.name", read_only=True)

    class Meta:
        model = ProviderShare
        fields = ["id", "budget", "region", "part", "organization", "organization_name", "share", "created_at",
                  "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        validators = []

    def validate(self, attrs):
        budget = attrs.get("budget", getattr(self.instance, "budget", None))
        region = attrs.get("region", getattr(self.instance, "region", None))
        if budget is not None and region is not None and not budget.target_regions().filter(pk=region.pk).exists():
            raise serializers.ValidationError({"region": [
                _("%(code)s ist kein Raum, auf den dieses Budget verteilt wird.") % {"code": region.code}]})
        return super().validate(attrs)


class ProviderAllocationSerializer(serializers.ModelSerializer):
    region = serializers.SlugRelatedField(slug_field="code", read_only=True)
    organization = serializers.SlugRelatedField(slug_field="uuid", read_only=True, allow_null=True)
    organization_name = serializers.CharField(source="organization.name", read_only=True, allow_null=True)
    agreements = serializers.SlugRelatedField(slug_field="uuid", many=True, read_only=True)

    class Meta:
        model = ProviderAllocation
        fields = ["id", "budget", "run", "region", "part", "organization", "organization_name", "share", "source",
                  "agreements", "amount", "computed_at"]
        read_only_fields = fields


# --- viewsets ------------------------------------------------------------------------------------


class ProviderShareViewSet(ExportViewSetMixin, ScopedModelViewSet):
    """The explicit share table of budgets: where a region and part have rows
    here, they replace the shares set in the agreements."""

    model = ProviderShare
    queryset = ProviderShare.objects.all()
    serializer_class = ProviderShareSerializer
    filterset_class = ProviderShareFilterSet

    def get_queryset(self):
        return super().get_queryset().select_related("region", "organization")


class ProviderAllocationViewSet(ExportViewSetMixin, ScopedReadOnlyViewSet):
    """Trägerbudgets: each provider's amount per budget, region and part (and
    the part not passed on, without organisation), exact to the cent."""

    model = ProviderAllocation
    queryset = ProviderAllocation.objects.all()
    serializer_class = ProviderAllocationSerializer
    filterset_class = ProviderAllocationFilterSet

    def get_queryset(self):
        return super().get_queryset().select_related("region", "organization").prefetch_related("agreements")
