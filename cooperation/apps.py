from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CooperationConfig(AppConfig):
    name = "cooperation"
    verbose_name = _("Kooperation und Angebote")

    def ready(self):
        from core.imports.registry import register

        from . import importers

        register(importers.OrganizationImporter)
        register(importers.ServiceImporter)
