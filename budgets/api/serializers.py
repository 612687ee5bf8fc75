import copy

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from rest_framework import serializers

from cooperation.models import Organization
from core.access import Action
from core.models import FieldOfAction
from regions.models import Indicator, Region, RegionLevel

from ..choices import RunStatus
from ..models import Allocation, AllocationRule, AllocationRun, Budget, Expenditure, RegionBound, RuleTerm
from ..services import replay


class BudgetSerializer(serializers.ModelSerializer):
    field = serializers.SlugRelatedField(slug_field="key", queryset=FieldOfAction.objects.all())
    scope_region = serializers.SlugRelatedField(slug_field="code", queryset=Region.objects.all())
    target_level = serializers.SlugRelatedField(slug_field="key", queryset=RegionLevel.objects.all())
    part_amounts = serializers.SerializerMethodField()
    adopted_run = serializers.SerializerMethodField()

    class Meta:
        model = Budget
        fields = ["id", "name", "fiscal_year", "field", "scope_region", "target_level", "total", "split_mode",
                  "case_specific", "case_overarching", "preventive", "part_amounts", "status", "adopted_run",
                  "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]

    def get_adopted_run(self, obj) -> int | None:
        if hasattr(obj, "adopted_run_id"):
            return obj.adopted_run_id
        run = obj.adopted_run
        return run.pk if run else None

    def get_part_amounts(self, obj) -> dict[str, str]:
        return {k: str(v) for k, v in obj.part_amounts().items()}

    def validate_scope_region(self, region):
        user = self.context["request"].user
        if not Region.objects.for_user(user, Action.CHANGE).filter(pk=region.pk).exists():
            raise serializers.ValidationError(_("Keine Berechtigung für dieses Gebiet."))
        return region

    def validate(self, attrs):
        budget = copy.copy(self.instance) if self.instance is not None else Budget()
        for key, value in attrs.items():
            setattr(budget, key, value)
        try:
            budget.clean()
        except DjangoValidationError as e:
            raise serializers.ValidationError(e.message_dict)
        return attrs


class RuleTermSerializer(serializers.ModelSerializer):
    indicator = serializers.SlugRelatedField(slug_field="key", queryset=Indicator.objects.all(), allow_null=True,
                                             required=False)
    factor_indicator = serializers.SlugRelatedField(slug_field="key", queryset=Indicator.objects.all(),
                                                    allow_null=True, required=False)

    class Meta:
        model = RuleTerm
        fields = ["kind", "weight", "indicator", "factor_indicator", "period", "order"]

    def validate(self, attrs):
        if attrs.get("kind") != "equal" and not attrs.get("indicator"):
            raise serializers.ValidationError({"indicator": _("Diese Art braucht einen Indikator.")})
        return attrs


class RegionBoundSerializer(serializers.ModelSerializer):
    region = serializers.SlugRelatedField(slug_field="code", queryset=Region.objects.all())

    class Meta:
        model = RegionBound
        fields = ["region", "floor", "cap"]

    def validate(self, attrs):
        if attrs.get("floor") is not None and attrs.get("cap") is not None and attrs["floor"] > attrs["cap"]:
            raise serializers.ValidationError({"floor": _("Die Untergrenze muss unter der Obergrenze liegen.")})
        return attrs


class AllocationRuleSerializer(serializers.ModelSerializer):
    """A rule with its terms and bounds, written as a whole (atomic)."""

    terms = RuleTermSerializer(many=True)
    bounds = RegionBoundSerializer(many=True, required=False)

    class Meta:
        model = AllocationRule
        fields = ["id", "budget", "part", "base_amount", "missing", "description", "terms", "bounds"]

    def validate_budget(self, budget):
        user = self.context["request"].user
        if not Budget.objects.for_user(user, Action.CHANGE).filter(pk=budget.pk).exists():
            raise serializers.ValidationError(_("Keine Berechtigung für dieses Budget."))
        return budget

    def validate_bounds(self, bounds):
        codes = [b["region"].code for b in bounds]
        twice = sorted({code for code in codes if codes.count(code) > 1})
        if twice:
            raise serializers.ValidationError(
                _("Je Raum höchstens eine Grenze (mehrfach: %(codes)s).") % {"codes": ", ".join(twice)})
        return bounds

    def validate_terms(self, terms):
        if not terms:
            raise serializers.ValidationError(_("Mindestens eine Verteilungsgrundlage angeben."))
        total = sum(t["weight"] for t in terms)
        if total != 1:
            raise serializers.ValidationError(_("Die Gewichte müssen zusammen 1 ergeben (sind %(sum)s).") % {"sum": total})
        return terms

    @transaction.atomic
    def create(self, validated):
        terms = validated.pop("terms")
        bounds = validated.pop("bounds", [])
        rule = AllocationRule.objects.create(**validated)
        self._write_children(rule, terms, bounds)
        return rule

    @transaction.atomic
    def update(self, rule, validated):
        terms = validated.pop("terms", None)
        bounds = validated.pop("bounds", None)
        for k, v in validated.items():
            setattr(rule, k, v)
        rule.save()
        if terms is not None:
            rule.terms.all().delete()
            self._write_children(rule, terms, [])
        if bounds is not None:
            rule.bounds.all().delete()
            self._write_children(rule, [], bounds)
        return rule

    def _write_children(self, rule, terms, bounds):
        user = self.context["request"].user
        RuleTerm.objects.bulk_create(
            [RuleTerm(rule=rule, created_by=user, updated_by=user, **t) for t in terms]
        )
        RegionBound.objects.bulk_create(
            [RegionBound(rule=rule, created_by=user, updated_by=user, **b) for b in bounds]
        )


class AllocationSerializer(serializers.ModelSerializer):
    """A region's amount for one part; the breakdown (base, each term, bound,
    rounding: exact decimal strings that add up to the amount) comes from the
    replay of the run's snapshot, passed in the context as ``results``."""

    region = serializers.SlugRelatedField(slug_field="code", read_only=True)
    breakdown = serializers.SerializerMethodField()

    class Meta:
        model = Allocation
        fields = ["region", "part", "amount", "breakdown", "bound"]

    def get_breakdown(self, allocation) -> dict[str, str]:
        results = self.context.get("results") or {}
        amounts = self.context.setdefault("_by_code", {})
        if allocation.part not in amounts and allocation.part in results:
            amounts[allocation.part] = results[allocation.part].by_code()
        region_amount = amounts.get(allocation.part, {}).get(allocation.region.code)
        return {k: str(v) for k, v in region_amount.breakdown.items()} if region_amount else {}


class AllocationRunSerializer(serializers.ModelSerializer):
    triggered_by = serializers.StringRelatedField(allow_null=True, help_text="Leer: automatisch ausgelöst.")
    allocations = serializers.SerializerMethodField()

    class Meta:
        model = AllocationRun
        fields = ["id", "budget", "status", "trigger", "triggered_by", "input_hash", "error", "created_at",
                  "started_at", "finished_at", "snapshot", "allocations"]

    def get_allocations(self, run) -> list[dict]:
        """The allocations (detail view only; lists stay light)."""
        view = self.context.get("view")
        if view is None or getattr(view, "action", None) != "retrieve":
            return []
        results = replay(run) if run.status == RunStatus.SUCCEEDED else {}
        return AllocationSerializer(run.allocations.all(), many=True, context={"results": results}).data


class ExpenditureSerializer(serializers.ModelSerializer):
    """An expenditure; the region by its code, which must lie in the budget's
    target regions; the budget must be one the user may change."""

    region = serializers.SlugRelatedField(slug_field="code", queryset=Region.objects.all())
    organization = serializers.SlugRelatedField(
        slug_field="uuid", queryset=Organization.objects.all(), required=False, allow_null=True,
        help_text=_("Der Träger (UUID), dessen Trägerbudget die Ausgabe belastet."))

    class Meta:
        model = Expenditure
        fields = ["id", "budget", "region", "part", "category", "booking_date", "amount", "text", "recipient",
                  "organization", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]

    def validate_budget(self, budget):
        user = self.context["request"].user
        if not Budget.objects.for_user(user, Action.CHANGE).filter(pk=budget.pk).exists():
            raise serializers.ValidationError(_("Keine Berechtigung für dieses Budget."))
        return budget

    def validate(self, attrs):
        expenditure = copy.copy(self.instance) if self.instance is not None else Expenditure()
        for key, value in attrs.items():
            setattr(expenditure, key, value)
        try:
            expenditure.clean()
        except DjangoValidationError as e:
            raise serializers.ValidationError(e.message_dict)
        return attrs


class WhatIfRuleSerializer(AllocationRuleSerializer):
    """A variant of a rule for a what-if computation (never stored)."""

    class Meta(AllocationRuleSerializer.Meta):
        fields = ["part", "base_amount", "missing", "terms", "bounds"]


class WhatIfSerializer(serializers.Serializer):
    rules = WhatIfRuleSerializer(many=True)

    def validate_rules(self, rules):
        parts = [r.get("part", "all") for r in rules]
        if len(parts) != len(set(parts)):
            raise serializers.ValidationError(_("Je Teil höchstens eine Regel."))
        return rules
