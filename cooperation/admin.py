from django.contrib import admin

from .models import Agreement, AgreementParty, EscalationStep, Location, Membership, Organization, Service, TargetGroup


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


class AgreementPartyInline(admin.TabularInline):
    model = AgreementParty
    raw_id_fields = ["organization"]
    readonly_fields = ["confirmed_at", "confirmed_by"]
    extra = 0


class EscalationStepInline(admin.TabularInline):
    model = EscalationStep
    extra = 0


@admin.register(Agreement)
class AgreementAdmin(admin.ModelAdmin):
    list_display = ["title", "kind", "status", "valid_from", "valid_until"]
    list_filter = ["kind", "status"]
    search_fields = ["title"]
    readonly_fields = ["status"]
    raw_id_fields = ["regions", "services"]
    inlines = [AgreementPartyInline, EscalationStepInline]
