from django.contrib import admin

from .models import (
    CompositeIndex,
    IndexClass,
    IndexComponent,
    Indicator,
    IndicatorValue,
    Region,
    RegionLevel,
    RoleAssignment,
)


@admin.register(RegionLevel)
class RegionLevelAdmin(admin.ModelAdmin):
    list_display = ["rank", "key", "name"]


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "level", "parent"]
    list_filter = ["level"]
    search_fields = ["code", "name"]
    raw_id_fields = ["parent", "lead"]
    exclude = ["boundary"]
    readonly_fields = ["area_m2", "centroid_lon", "centroid_lat"]

    def save_model(self, request, obj, form, change):
        obj.stamp(request.user)
        super().save_model(request, obj, form, change)


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "region"]
    list_filter = ["role"]
    raw_id_fields = ["region"]


@admin.register(Indicator)
class IndicatorAdmin(admin.ModelAdmin):
    list_display = ["key", "name", "unit", "rollup", "direction"]
    search_fields = ["key", "name"]


@admin.register(IndicatorValue)
class IndicatorValueAdmin(admin.ModelAdmin):
    list_display = ["indicator", "region", "period", "value", "is_rollup"]
    list_filter = ["indicator", "is_rollup"]
    raw_id_fields = ["region", "import_run"]
    list_select_related = ["indicator", "region"]


class IndexComponentInline(admin.TabularInline):
    model = IndexComponent
    extra = 0


class IndexClassInline(admin.TabularInline):
    model = IndexClass
    extra = 0


@admin.register(CompositeIndex)
class CompositeIndexAdmin(admin.ModelAdmin):
    list_display = ["key", "name", "kind", "scope_level"]
    search_fields = ["key", "name"]
    raw_id_fields = ["scope_ancestor"]
    inlines = [IndexComponentInline, IndexClassInline]
