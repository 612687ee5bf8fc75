from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BudgetsConfig(AppConfig):
    name = "budgets"
    verbose_name = _("Sozialraumbudgets")

    def ready(self):
        from core.imports.registry import register

        from . import importers, receivers  # noqa: F401 - receivers connects the signal receivers

        register(importers.ExpenditureImporter)
