from django.contrib import admin

from .models import AllocationRule, Budget, RegionBound, RuleTerm


class RuleTermInline(admin.TabularInline):
    model = RuleTerm
    extra = 0
    raw_id_fields = ["indicator", "factor_indicator"]


class RegionBoundInline(admin.TabularInline):
    model = RegionBound
    extra = 0
    raw_id_fields = ["region"]


@admin.register(Budget)
class BudgetAdmin(admin.ModelAdmin):
    list_display = ["name", "fiscal_year", "field", "scope_region", "target_level", "total", "status"]
    list_filter = ["fiscal_year", "status"]
    raw_id_fields = ["scope_region"]


@admin.register(AllocationRule)
class AllocationRuleAdmin(admin.ModelAdmin):
    list_display = ["budget", "part", "base_amount", "missing"]
    inlines = [RuleTermInline, RegionBoundInline]
