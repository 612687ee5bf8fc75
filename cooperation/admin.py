from django.contrib import admin

from .models import Location, Membership, Organization, Service, TargetGroup


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "umbrella", "parent"]
    list_filter = ["kind", "umbrella"]
    search_fields = ["name", "register_number"]
    raw_id_fields = ["parent", "regions"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organization", "role"]
    list_filter = ["role"]
    raw_id_fields = ["user", "organization"]


@admin.register(TargetGroup)
class TargetGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "key", "parent", "order"]


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ["__str__", "organization", "region"]
    search_fields = ["name", "street", "city"]
    raw_id_fields = ["organization", "region"]


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "status", "setting", "work_mode", "last_confirmed_at"]
    list_filter = ["status", "setting", "work_mode"]
    search_fields = ["name"]
    raw_id_fields = ["organization", "regions", "locations"]
    filter_horizontal = ["fields", "target_groups"]
