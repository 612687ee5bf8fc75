from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RegionsConfig(AppConfig):
    name = "regions"
    verbose_name = _("Sozialräume")

    def ready(self):
        from core.access import set_role_provider
        from core.imports.registry import register

        from . import access, importers, receivers
        from .signals import indicator_values_changed, regions_changed

        set_role_provider(access.has_role, access.is_unscoped)
        register(importers.RegionImporter)
        register(importers.BoundaryImporter)
        register(importers.IndicatorValueImporter)
        indicator_values_changed.connect(receivers.recompute_indices_for_values, dispatch_uid="regions.indices.values")
        regions_changed.connect(receivers.recompute_indices_for_regions, dispatch_uid="regions.indices.regions")
