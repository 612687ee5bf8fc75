from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BudgetsConfig(AppConfig):
    name = "budgets"
    verbose_name = _("Sozialraumbudgets")

    def ready(self):
        from . import receivers  # noqa: F401 - connects the signal receivers
