from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.access import Action
from core.api.views import ScopedModelViewSet, ScopedReadOnlyViewSet, ScopedViewSetMixin

from ..choices import Trigger
from ..engine import AllocationError
from ..filtersets import AllocationRuleFilterSet, BudgetFilterSet, ExpenditureFilterSet
from ..models import AllocationRule, AllocationRun, Budget, Expenditure
from ..services import adopt, compute, request_recompute, utilisation
from .serializers import (
    AllocationRuleSerializer,
    AllocationRunSerializer,
    BudgetSerializer,
    ExpenditureSerializer,
)

Preview = inline_serializer(
    "AllocationPreview",
    {
        "total": serializers.CharField(),
        "parts": serializers.DictField(),
        "regions": serializers.ListField(child=serializers.DictField()),
        "excluded": serializers.DictField(),
        "inputs": serializers.DictField(),
    },
)


class BudgetViewSet(ScopedModelViewSet):
    model = Budget
    queryset = Budget.objects.all()
    serializer_class = BudgetSerializer
    filterset_class = BudgetFilterSet

    def get_queryset(self):
        return super().get_queryset().select_related("field", "scope_region", "target_level").with_adopted_run()

    def perform_create(self, serializer):
        super().perform_create(serializer)
        request_recompute([serializer.instance.pk], Trigger.BUDGET_CHANGE, self.request.user)

    def perform_update(self, serializer):
        super().perform_update(serializer)
        request_recompute([serializer.instance.pk], Trigger.BUDGET_CHANGE, self.request.user)

    @extend_schema(request=None, responses={202: None})
    @action(detail=True, methods=["post"])
    def recompute(self, request, pk=None):
        """„Neu berechnen“: queue a run now (a no-op when nothing changed)."""
        budget = self.get_object()
        if not Budget.objects.for_user(request.user, Action.CHANGE).filter(pk=budget.pk).exists():
            return Response(status=status.HTTP_403_FORBIDDEN)
        request_recompute([budget.pk], Trigger.MANUAL, request.user)
        return Response(status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=inline_serializer("AdoptRequest", {"run": serializers.IntegerField()}),
                   responses={200: BudgetSerializer})
    @action(detail=True, methods=["post"])
    def adopt(self, request, pk=None):
        """Adopt a finished run as the budget's current allocation."""
        budget = self.get_object()
        if not Budget.objects.for_user(request.user, Action.CHANGE).filter(pk=budget.pk).exists():
            return Response(status=status.HTTP_403_FORBIDDEN)
        run = budget.runs.filter(pk=request.data.get("run")).first()
        if run is None:
            return Response({"run": ["Keine Berechnung dieses Budgets."]}, status=status.HTTP_400_BAD_REQUEST)
        try:
            adopt(run, request.user)
        except AllocationError as e:
            return Response({"run": [str(e)]}, status=status.HTTP_400_BAD_REQUEST)
        return Response(self.get_serializer(self.get_queryset().get(pk=budget.pk)).data)

    @extend_schema(responses={200: Preview, 400: inline_serializer("PreviewError", {"detail": serializers.CharField()})})
    @action(detail=True, methods=["get"])
    def preview(self, request, pk=None):
        """The allocation the budget's rules give now (computed, not stored):
        every region's amount per part with its breakdown, exact to the cent."""
        budget = self.get_object()
        try:
            result = compute(budget)
        except AllocationError as e:
            return Response({"detail": str(e)}, status=status.HTTP_400_BAD_REQUEST)
        totals = result.totals()
        by_part = {part: r.by_code() for part, r in result.parts.items()}
        regions = [
            {
                "region": code,
                "amount": str(totals[code]),
                "parts": {
                    part: {
                        "amount": str(amounts[code].amount),
                        "breakdown": {k: str(v) for k, v in amounts[code].breakdown.items()},
                        "bound": amounts[code].bound,
                    }
                    for part, amounts in by_part.items() if code in amounts
                },
            }
            for code in sorted(totals)
        ]
        return Response({
            "total": str(sum(totals.values())),
            "parts": {k: str(v) for k, v in result.part_amounts.items()},
            "regions": regions,
            "excluded": {part: r.excluded for part, r in result.parts.items() if r.excluded},
            "inputs": result.inputs,
        })


class AllocationRuleViewSet(ScopedModelViewSet):
    model = AllocationRule
    queryset = AllocationRule.objects.all()
    serializer_class = AllocationRuleSerializer
    filterset_class = AllocationRuleFilterSet

    def perform_create(self, serializer):
        super().perform_create(serializer)
        request_recompute([serializer.instance.budget_id], Trigger.RULE_CHANGE, self.request.user)

    def perform_update(self, serializer):
        super().perform_update(serializer)
        request_recompute([serializer.instance.budget_id], Trigger.RULE_CHANGE, self.request.user)

    def get_queryset(self):
        return super().get_queryset().prefetch_related("terms__indicator", "terms__factor_indicator", "bounds__region")

    def perform_destroy(self, instance):
        budget_id = instance.budget_id
        super().perform_destroy(instance)
        request_recompute([budget_id], Trigger.RULE_CHANGE, self.request.user)


class AllocationRunViewSet(ScopedReadOnlyViewSet):
    """Runs of budgets (immutable), with their allocations."""

    model = AllocationRun
    queryset = AllocationRun.objects.all()
    serializer_class = AllocationRunSerializer
    filterset_fields = ["budget", "status", "trigger"]

    def get_queryset(self):
        qs = super().get_queryset().select_related("triggered_by")
        if self.action == "retrieve":
            qs = qs.prefetch_related("allocations__region")
        return qs


class ExpenditureViewSet(ScopedModelViewSet):
    """Actual expenditures (Ist-Ausgaben) of budgets."""

    model = Expenditure
    queryset = Expenditure.objects.all()
    serializer_class = ExpenditureSerializer
    filterset_class = ExpenditureFilterSet

    def get_queryset(self):
        return super().get_queryset().select_related("region")


Utilisation = inline_serializer(
    "BudgetUtilisation",
    {
        "budget": serializers.IntegerField(),
        "fiscal_year": serializers.IntegerField(),
        "adopted_run": serializers.IntegerField(allow_null=True),
        "note": serializers.CharField(),
        "rows": serializers.ListField(child=serializers.DictField()),
        "totals": serializers.DictField(),
        "months": serializers.ListField(child=serializers.DictField()),
    },
)


class BudgetUtilisationViewSet(ScopedViewSetMixin, viewsets.GenericViewSet):
    """``GET /budgets/{id}/utilisation/`` (registered under the budgets prefix;
    it adds only this route)."""

    model = Budget
    queryset = Budget.objects.all()
    serializer_class = BudgetSerializer
    pagination_class = None
    filter_backends = []

    def get_queryset(self):
        return super().get_queryset().with_adopted_run()

    @extend_schema(responses={200: Utilisation})
    @action(detail=True, methods=["get"])
    def utilisation(self, request, pk=None):
        """Spent against allocated (from the adopted run) per region and part,
        and spent per month of the fiscal year; amounts as exact decimal strings."""
        data = utilisation(self.get_object())
        for row in [*data["rows"], data["totals"], *data["months"]]:
            for key in ("allocated", "spent", "remaining", "percent"):
                if key in row and row[key] is not None:
                    row[key] = str(row[key])
        return Response(data)
