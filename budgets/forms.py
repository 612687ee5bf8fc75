"""Forms of the budgets pages: comparing two runs, a what-if variant of the
rules (never stored), expenditures (Ist-Ausgaben) and their upload.

German labels; numbers are read in the active language's format (German:
``1.234,56``; a decimal point is accepted too). Choices that would otherwise
cost a query per rendered field (indicators, runs) are handed in as lists that
the view loads once.
"""

from decimal import Decimal

from django import forms
from django.conf import settings
from django.core.validators import RegexValidator
from django.forms import BaseFormSet, formset_factory
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from cooperation.models import Organization

from .choices import EXPENDITURE_CATEGORIES, MissingPolicy, Part, TermKind
from .models import MONEY, Expenditure

#: Largest file the expenditure upload on the budget page imports in the request
#: (larger files go through the general import page and the worker).
MAX_PAGE_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_TERMS = 20


def plain_decimal(value) -> Decimal | None:
    """0.600000 → 0.6, 1.000000 → 1 (how a stored weight is shown for editing)."""
    if value is None:
        return None
    value = Decimal(value)
    return value.quantize(Decimal(1)) if value == value.to_integral() else value.normalize()


# --- Comparison of two runs -------------------------------------------------------------


def run_label(run, adopted_id) -> str:
    label = gettext("Berechnung #%(run)s vom %(when)s") % {
        "run": run.pk, "when": date_format(timezone.localtime(run.created_at), "SHORT_DATETIME_FORMAT")}
    if run.pk == adopted_id:
        label = gettext("%(label)s (beschlossen)") % {"label": label}
    return label


class RunCompareForm(forms.Form):
    """Two succeeded runs of one budget (GET). The choices are the budget's
    runs, so a run of another budget is refused as an unknown choice."""

    a = forms.TypedChoiceField(
        label=_("Berechnung A (Ausgangslage)"), coerce=int,
        error_messages={"invalid_choice": _("Bitte eine fertige Berechnung dieses Budgets wählen.")},
    )
    b = forms.TypedChoiceField(
        label=_("Berechnung B (verglichen mit A)"), coerce=int,
        error_messages={"invalid_choice": _("Bitte eine fertige Berechnung dieses Budgets wählen.")},
    )

    def __init__(self, *args, runs=(), adopted_id=None, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(run.pk, run_label(run, adopted_id)) for run in runs]
        self.fields["a"].choices = choices
        self.fields["b"].choices = choices


# --- What-if --------------------------------------------------------------------------


class WhatIfRuleForm(forms.Form):
    """Base amount and missing-value policy of one rule of the variant."""

    base_amount = forms.DecimalField(
        label=_("Sockelbetrag je Raum (EUR)"), min_value=Decimal(0), max_digits=MONEY["max_digits"],
        decimal_places=MONEY["decimal_places"], localize=True,
        error_messages={"required": _("Bitte einen Sockelbetrag angeben (0 für keinen)."),
                        "invalid": _("Bitte einen Betrag angeben, z. B. 1.000,00.")},
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    missing = forms.ChoiceField(label=_("fehlende Werte"), choices=MissingPolicy.choices)


class WhatIfTermForm(forms.Form):
    """One term of the variant: kind, weight, indicator (or population),
    factor and period. An empty extra form is ignored."""

    kind = forms.ChoiceField(
        label=_("Art"), choices=[("", _("– Art wählen –")), *TermKind.choices],
        error_messages={"required": _("Bitte die Art wählen.")},
    )
    weight = forms.DecimalField(
        label=_("Gewicht"), min_value=Decimal(0), max_value=Decimal(1), max_digits=7, decimal_places=6,
        localize=True, help_text=_("Anteil zwischen 0 und 1, z. B. 0,6; alle Gewichte zusammen 1."),
        error_messages={"required": _("Bitte ein Gewicht angeben, z. B. 0,5."),
                        "invalid": _("Bitte eine Zahl angeben, z. B. 0,5.")},
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    indicator = forms.TypedChoiceField(
        label=_("Indikator bzw. Einwohnerzahl"), required=False, coerce=int, empty_value=None,
        help_text=_("Nicht bei „gleiche Anteile“."),
    )
    factor_indicator = forms.TypedChoiceField(
        label=_("Faktor"), required=False, coerce=int, empty_value=None,
        help_text=_("Nur bei „Einwohner × Faktor“ (leer: Faktor 1)."),
    )
    period = forms.CharField(
        label=_("Zeitraum"), required=False, max_length=10,
        validators=[RegexValidator(r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$",
                                   _("Zeitraum als JJJJ, JJJJ-MM oder JJJJ-MM-TT angeben."))],
        help_text=_("Leer: der neueste Zeitraum mit Werten."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def __init__(self, *args, indicator_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["indicator"].choices = [("", _("– Indikator wählen –")), *indicator_choices]
        self.fields["factor_indicator"].choices = [("", _("– kein Faktor –")), *indicator_choices]

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind == TermKind.EQUAL:
            data["indicator"] = data["factor_indicator"] = None
            data["period"] = ""
        elif kind and data.get("indicator") is None and "indicator" not in self.errors:
            self.add_error("indicator", _("Diese Art braucht einen Indikator."))
        if kind == TermKind.INDICATOR and data.get("factor_indicator") is not None:
            self.add_error("factor_indicator", _("Ein Faktor gilt nur für „Einwohner × Faktor“."))
        return data


class BaseWhatIfTermFormSet(BaseFormSet):
    """The terms of one rule: at least one, weights adding up to exactly 1."""

    def __init__(self, *args, indicator_choices=(), **kwargs):
        self.indicator_choices = indicator_choices
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "indicator_choices": self.indicator_choices}

    @property
    def empty_form(self):  # pragma: no cover - not rendered (no JavaScript)
        return self.form(auto_id=self.auto_id, prefix=self.add_prefix("__prefix__"), empty_permitted=True,
                         use_required_attribute=False, indicator_choices=self.indicator_choices,
                         renderer=self.renderer)

    def terms(self) -> list[dict]:
        """The cleaned terms that are kept (not deleted, not blank)."""
        return [
            f.cleaned_data for f in self.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE") and f.cleaned_data.get("kind")
        ]

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        terms = self.terms()
        if not terms:
            raise forms.ValidationError(_("Mindestens eine Verteilungsgrundlage angeben."), code="no_terms")
        total = sum((t["weight"] for t in terms), Decimal(0))
        if total != 1:
            raise forms.ValidationError(
                _("Die Gewichte müssen zusammen 1 ergeben (sind %(sum)s)."), code="weights",
                params={"sum": number_format(plain_decimal(total))},
            )


WhatIfTermFormSet = formset_factory(
    WhatIfTermForm, formset=BaseWhatIfTermFormSet, extra=1, can_delete=True, max_num=MAX_TERMS, validate_max=True,
)


# --- Expenditures ---------------------------------------------------------------------


class RegionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name} ({obj.code})"


class ExpenditureForm(forms.ModelForm):
    """One expenditure of a budget; the region among the budget's target
    regions. The model's ``clean`` checks region and fiscal year again."""

    class Meta:
        model = Expenditure
        fields = ["booking_date", "region", "part", "category", "amount", "organization", "recipient", "text"]
        field_classes = {"region": RegionChoiceField}
        localized_fields = ["amount"]
        widgets = {
            "booking_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "category": forms.TextInput(attrs={"list": "category-list", "autocomplete": "off"}),
            "amount": forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
        }
        error_messages = {
            "booking_date": {"required": _("Bitte das Buchungsdatum angeben."),
                             "invalid": _("Bitte ein Datum angeben, z. B. 31.12.2027.")},
            "region": {"required": _("Bitte den Raum wählen."),
                       "invalid_choice": _("Bitte einen Raum des Budgets wählen.")},
            "part": {"required": _("Bitte den Teil wählen.")},
            "category": {"required": _("Bitte die Kostenart angeben, z. B. Personal.")},
            "amount": {"required": _("Bitte den Betrag angeben."),
                       "invalid": _("Bitte einen Betrag angeben, z. B. 1.234,56 (negativ für Erstattungen)."),
                       "max_decimal_places": _("Höchstens zwei Nachkommastellen.")},
        }

    def __init__(self, *args, budget, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.budget = budget
        region = self.fields["region"]
        region.queryset = budget.target_regions().order_by("code").only("pk", "code", "name")
        region.empty_label = _("– Raum wählen –")
        self.fields["part"].choices = [("", _("– Teil wählen –")), *Part.choices]
        organization = self.fields["organization"]
        organization.queryset = Organization.objects.order_by("name").only("pk", "name")
        organization.empty_label = _("– kein erfasster Träger –")
        self.fields["booking_date"].help_text = gettext("Im Haushaltsjahr %(year)s.") % {"year": budget.fiscal_year}

    def category_suggestions(self, existing=()) -> list[str]:
        return sorted({str(c) for c in EXPENDITURE_CATEGORIES} | set(existing))


class ExpenditureUploadForm(forms.Form):
    file = forms.FileField(
        label=_("Datei"),
        help_text=_("CSV (Trennzeichen ; , oder Tab, UTF-8 oder Windows-1252) oder XLSX mit den Spalten "
                    "region_code, part, category, booking_date, amount und optional text, recipient."),
        error_messages={"required": _("Bitte eine Datei auswählen."), "empty": _("Die Datei ist leer."),
                        "invalid": _("Keine gültige Datei übertragen.")},
    )
    dry_run = forms.BooleanField(
        label=_("Probelauf"), required=False,
        help_text=_("Nur prüfen und zeigen, was sich ändern würde; nichts wird gespeichert."),
    )

    def clean_file(self):
        f = self.cleaned_data["file"]
        limit = min(MAX_PAGE_UPLOAD_BYTES, settings.IMPORT_MAX_UPLOAD_BYTES)
        if f is not None and f.size > limit:
            raise forms.ValidationError(
                _("Die Datei ist zu groß (%(size)s); hier sind höchstens %(limit)s erlaubt. Größere Dateien "
                  "bitte über die Importseite hochladen."),
                code="too_large", params={"size": filesizeformat(f.size), "limit": filesizeformat(limit)},
            )
        return f
