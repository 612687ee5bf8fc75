from decimal import Decimal

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from cooperation.access import is_staff_reader
from core.access import Action
from core.api.renderers import ExportViewSetMixin
from core.api.schema import ERRORS
from core.api.views import ScopedModelViewSet, ScopedReadOnlyViewSet, ScopedViewSetMixin

from ..choices import Part, RulePart, Trigger
from ..engine import AllocationError
from ..filtersets import AllocationRuleFilterSet, BudgetFilterSet, ExpenditureFilterSet
from ..models import AllocationRule, AllocationRun, Budget, Expenditure, RegionBound, RuleTerm
from ..services import (
    Rows,
    RuleSpec,
    adopt,
    compare,
    compute,
    request_recompute,
    rules_by_part,
    run_totals,
    utilisation,
    what_if,
)
from .serializers import (
    AllocationRuleSerializer,
    AllocationRunSerializer,
    BudgetSerializer,
    ExpenditureSerializer,
    WhatIfSerializer,
)


class AdoptSerializer(serializers.Serializer):
    run = serializers.IntegerField(min_value=1, help_text="Nummer der Berechnung dieses Budgets.")

    class Meta:
        ref_name = "AdoptRequest"


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


class BudgetViewSet(ExportViewSetMixin, ScopedModelViewSet):
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
        self.check_may_change(budget)
        request_recompute([budget.pk], Trigger.MANUAL, request.user)
        return Response(status=status.HTTP_202_ACCEPTED)

    def check_may_change(self, budget):
        if not Budget.objects.for_user(self.request.user, Action.CHANGE).filter(pk=budget.pk).exists():
            self.permission_denied(self.request, message=_("Keine Berechtigung, dieses Budget zu ändern."))

    @extend_schema(request=AdoptSerializer, responses={200: BudgetSerializer})
    @action(detail=True, methods=["post"])
    def adopt(self, request, pk=None):
        """Adopt a finished run as the budget's current allocation."""
        budget = self.get_object()
        self.check_may_change(budget)
        form = AdoptSerializer(data=request.data)  # also refuses a body that is no object
        form.is_valid(raise_exception=True)
        run = budget.runs.filter(pk=form.validated_data["run"]).first()
        if run is None:
            return Response({"run": ["Keine Berechnung dieses Budgets."]}, status=status.HTTP_400_BAD_REQUEST)
        try:
            adopt(run, request.user)
        except AllocationError as e:
            return Response({"run": [str(e)]}, status=status.HTTP_400_BAD_REQUEST)
        return Response(self.get_serializer(self.get_queryset().get(pk=budget.pk)).data)

    @extend_schema(request=WhatIfSerializer, responses={200: inline_serializer("WhatIf", {
        "base_run": serializers.IntegerField(allow_null=True),
        "regions": serializers.ListField(child=serializers.DictField()),
        "excluded": serializers.DictField(),
    })})
    @action(detail=True, methods=["post"], url_path="what-if")
    def what_if(self, request, pk=None):
        """Compute a variant of the rules (nothing is stored) and compare it region
        by region with the adopted run (or the newest finished run)."""
        budget = self.get_object()
        form = WhatIfSerializer(data=request.data, context={"request": request})
        form.is_valid(raise_exception=True)
        by_rule_part = {r.part: r for r in rules_by_part(budget).values()}
        for n, data in enumerate(form.validated_data["rules"]):
            terms = Rows(RuleTerm(**t) for t in data.get("terms", []))
            bounds = Rows(RegionBound(**b) for b in data.get("bounds", []))
            by_rule_part[data.get("part", "all")] = RuleSpec(
                pk=f"variant-{n}", base_amount=data.get("base_amount", Decimal("0.00")),
                missing=data.get("missing", "refuse"),
                terms=terms, bounds=bounds, part=data.get("part", RulePart.ALL),
            )
        rules = {}
        for part in Part:
            rule = by_rule_part.get(part.value) or by_rule_part.get(RulePart.ALL)
            if rule is not None:
                rules[part.value] = rule
        try:
            variant = what_if(budget, rules)
        except AllocationError as e:
            return Response({"detail": str(e)}, status=status.HTTP_400_BAD_REQUEST)
        base_run = budget.adopted_run or budget.runs.filter(status="succeeded").order_by("-created_at", "-pk").first()
        base = run_totals(base_run) if base_run else {}
        names = dict(budget.target_regions().values_list("code", "name"))
        variant_totals = {
            code: {"name": names[code], "total": total} for code, total in variant.totals().items()
        }
        rows = compare(base, variant_totals)
        return Response({
            "base_run": base_run.pk if base_run else None,
            "regions": [{k: (str(v) if isinstance(v, Decimal) else v) for k, v in row.items()} for row in rows],
            "excluded": {part: r.excluded for part, r in variant.parts.items() if r.excluded},
        })

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


class AllocationRuleViewSet(ExportViewSetMixin, ScopedModelViewSet):
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
        # ordered: pages of an unordered list may repeat or skip rules
        return super().get_queryset().prefetch_related(
            "terms__indicator", "terms__factor_indicator", "bounds__region").order_by("budget_id", "part", "pk")

    def perform_destroy(self, instance):
        budget_id = instance.budget_id
        super().perform_destroy(instance)
        request_recompute([budget_id], Trigger.RULE_CHANGE, self.request.user)


class AllocationRunViewSet(ExportViewSetMixin, ScopedReadOnlyViewSet):
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

    @extend_schema(
        parameters=[OpenApiParameter("a", int, required=True), OpenApiParameter("b", int, required=True)],
        responses={200: inline_serializer("RunComparison", {
            "a": serializers.IntegerField(), "b": serializers.IntegerField(),
            "regions": serializers.ListField(child=serializers.DictField()),
        }), 404: ERRORS["404"]},
    )
    @action(detail=False, methods=["get"])
    def compare(self, request):
        """Two runs of one budget region by region: amounts, difference (b − a)
        and change in percent — the table and the data for a map of deltas."""
        try:
            a_id, b_id = int(request.query_params["a"]), int(request.query_params["b"])
        except (KeyError, ValueError):
            return Response({"detail": "a und b (Nummern zweier Berechnungen) angeben."},
                            status=status.HTTP_400_BAD_REQUEST)
        runs = {r.pk: r for r in self.get_queryset().filter(pk__in=[a_id, b_id])}
        if a_id not in runs or b_id not in runs:
            return Response({"detail": "Berechnung nicht gefunden."}, status=status.HTTP_404_NOT_FOUND)
        if runs[a_id].budget_id != runs[b_id].budget_id:
            return Response({"detail": "Verglichen werden nur Berechnungen desselben Budgets."},
                            status=status.HTTP_400_BAD_REQUEST)
        rows = compare(run_totals(runs[a_id]), run_totals(runs[b_id]))
        return Response({
            "a": a_id, "b": b_id,
            "regions": [{k: (str(v) if isinstance(v, Decimal) else v) for k, v in row.items()} for row in rows],
        })


class ExpenditureViewSet(ExportViewSetMixin, ScopedModelViewSet):
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
        "categories": serializers.ListField(child=serializers.DictField()),
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
        spent per month of the fiscal year, and per cost type (Kostenart) spent,
        its percentage of the allocated total and spent per month; amounts as
        exact decimal strings. Staff only (404 to provider staff: it holds every
        organisation's spending)."""
        if not is_staff_reader(request.user):
            raise NotFound
        data = utilisation(self.get_object())
        category_months = [m for c in data["categories"] for m in c["months"]]
        for row in [*data["rows"], data["totals"], *data["months"], *data["categories"], *category_months]:
            for key in ("allocated", "spent", "remaining", "percent"):
                if key in row and row[key] is not None:
                    row[key] = str(row[key])
        return Response(data)
