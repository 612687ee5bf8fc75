from django.contrib import admin
from django.contrib.auth.views import redirect_to_login

from .models import FieldOfAction, ImportRun


def _login_first(request, extra_context=None):
    """The admin has no login of its own: everyone logs in on the app's login page,
    with its lockout and second factor, then comes back."""
    return redirect_to_login(request.get_full_path())


admin.site.login = _login_first


@admin.register(ImportRun)
class ImportRunAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "original_name", "status", "dry_run", "error_count", "created_by", "created_at"]
    list_filter = ["kind", "status"]
    readonly_fields = [f.name for f in ImportRun._meta.fields]


@admin.register(FieldOfAction)
class FieldOfActionAdmin(admin.ModelAdmin):
    list_display = ["key", "name", "parent", "legal_basis", "order", "active"]
    list_filter = ["active", "depth"]
    search_fields = ["key", "name", "legal_basis"]
    list_select_related = ["parent"]
    readonly_fields = ["path", "depth", "created_at", "updated_at", "created_by", "updated_by"]

    def save_model(self, request, obj, form, change):
        obj.stamp(request.user)
        super().save_model(request, obj, form, change)
