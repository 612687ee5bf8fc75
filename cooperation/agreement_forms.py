"""Forms of the agreement pages (German UI).

- ``AgreementForm``: the agreement itself (not its status, which changes only
  through ``cooperation.agreements``); an empty "next review" is set to the
  start plus the review interval;
- ``PartyForm``: a party; planners set everything, a party's own editors only
  its responsibilities and reachability (``limited``). The shares of all
  parties of an agreement add up to at most 100 %;
- ``EscalationStepForm``: one step of the conflict procedure (order unique);
- ``DocumentForm``: an upload, checked by ``cooperation.documents.validate_upload``
  (type by content, size), errors next to the file field;
- ``GoalForm``: an outcome goal on an indicator for a region.

Choices come from ``for_user`` querysets; every message is German and attached
to its field.
"""

import calendar
import datetime
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, Sum
from django.utils.formats import number_format
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.access import Action
from core.models import FieldOfAction
from regions.models import Indicator, IndicatorValue, Region

from . import documents
from .choices import DocumentKind, ServiceStatus, WorkMode
from .forms import MULTI_SELECT_HELP, RegionsField, pk_list, region_choices
from .models import Agreement, AgreementParty, EscalationStep, Goal, Organization, Service

DATE_WIDGET = {"type": "date"}
DATE_ERRORS = {"invalid": _("Bitte ein Datum angeben, z. B. 31.01.2026.")}


def add_months(day: datetime.date, months: int) -> datetime.date:
    """``day`` plus ``months`` calendar months (the 31st becomes the last day
    of a shorter month)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


def decimal_text(value) -> str:
    """12.5000 → "12,5", 60.00 → "60" (German, no trailing zeros)."""
    if value is None:
        return "–"
    value = Decimal(str(value)).normalize()
    places = max(0, -value.as_tuple().exponent)
    return number_format(value, decimal_pos=places, force_grouping=True)


def date_input():
    return forms.DateInput(attrs=DATE_WIDGET, format="%Y-%m-%d")


class LabelledChoiceField(forms.ModelChoiceField):
    def __init__(self, *args, label_fn=str, **kwargs):
        self.label_fn = label_fn
        super().__init__(*args, **kwargs)

    def label_from_instance(self, obj):
        return self.label_fn(obj)


class LabelledMultipleChoiceField(forms.ModelMultipleChoiceField):
    def __init__(self, *args, label_fn=str, **kwargs):
        self.label_fn = label_fn
        super().__init__(*args, **kwargs)

    def label_from_instance(self, obj):
        return self.label_fn(obj)


# --- The agreement ------------------------------------------------------------------------


class AgreementForm(forms.ModelForm):
    regions = RegionsField(
        label=_("Räume"),
        help_text=format_lazy("{} {}", _("Die Sozialräume, für die die Vereinbarung gilt."), MULTI_SELECT_HELP),
    )
    fields = LabelledMultipleChoiceField(
        queryset=FieldOfAction.objects.none(), required=False, label=_("Handlungsfelder"),
        label_fn=lambda f: "\u2003" * f.depth + f.name,
        widget=forms.SelectMultiple(attrs={"size": 8, "class": "select-multiple"}),
        help_text=MULTI_SELECT_HELP,
        error_messages={"invalid_choice": _("Bitte nur Handlungsfelder aus der Liste wählen."),
                        "invalid_pk_value": _("Bitte nur Handlungsfelder aus der Liste wählen.")},
    )
    services = LabelledMultipleChoiceField(
        queryset=Service.objects.none(), required=False, label=_("erfasste Angebote"),
        label_fn=lambda s: f"{s.organization.name} › {s.name}",
        widget=forms.SelectMultiple(attrs={"size": 8, "class": "select-multiple"}),
        help_text=format_lazy("{} {}", _("Die Angebote, die die Vereinbarung regelt."), MULTI_SELECT_HELP),
        error_messages={"invalid_choice": _("Bitte nur Angebote aus der Liste wählen."),
                        "invalid_pk_value": _("Bitte nur Angebote aus der Liste wählen.")},
    )
    review_interval_months = forms.IntegerField(
        label=_("Überprüfung alle … Monate"), min_value=1, max_value=120, initial=12,
        widget=forms.NumberInput(attrs={"min": 1, "max": 120, "inputmode": "numeric", "size": 4}),
        error_messages={"required": _("Bitte das Überprüfungsintervall in Monaten angeben."),
                        "invalid": _("Bitte eine ganze Zahl von Monaten angeben, z. B. 12."),
                        "min_value": _("Mindestens ein Monat."),
                        "max_value": _("Höchstens 120 Monate (zehn Jahre).")},
    )

    class Meta:
        model = Agreement
        fields = ["title", "kind", "regions", "fields", "services", "valid_from", "valid_until", "goals",
                  "review_interval_months", "next_review", "public"]
        widgets = {
            "goals": forms.Textarea(attrs={"rows": 5, "class": "prose"}),
            "valid_from": date_input(),
            "valid_until": date_input(),
            "next_review": date_input(),
        }
        help_texts = {
            "valid_until": _("Leer lassen, wenn die Vereinbarung unbefristet gilt."),
            "goals": _("Was die Parteien gemeinsam erreichen wollen (Wirkungsziele mit Indikatoren werden auf der "
                       "Seite der Vereinbarung angelegt)."),
            "next_review": _("Leer lassen: „gültig ab“ plus das Überprüfungsintervall."),
        }
        error_messages = {
            "title": {"required": _("Bitte den Titel der Vereinbarung angeben."),
                      "max_length": _("Der Titel ist zu lang (höchstens %(limit_value)d Zeichen, jetzt %(show_value)d).")},
            "kind": {"required": _("Bitte die Art der Vereinbarung wählen."),
                     "invalid_choice": _("Bitte eine der angebotenen Arten wählen.")},
            "valid_from": {"required": _("Bitte angeben, ab wann die Vereinbarung gilt."), **DATE_ERRORS},
            "valid_until": DATE_ERRORS,
            "next_review": DATE_ERRORS,
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        instance = self.instance
        chosen_regions = pk_list(self.initial.get("regions"))
        self.initial["regions"] = chosen_regions
        self.fields["regions"].choices = region_choices(user, chosen_regions)
        current_fields, current_services = [], []
        if instance.pk:
            current_fields = list(instance.fields.values_list("pk", flat=True))
            current_services = list(instance.services.values_list("pk", flat=True))
        self.fields["fields"].queryset = (
            FieldOfAction.objects.for_user(user, Action.VIEW).filter(Q(active=True) | Q(pk__in=current_fields))
            .tree_order()
        )
        self.fields["services"].queryset = (
            Service.objects.for_user(user, Action.VIEW)
            .filter(Q(status=ServiceStatus.ACTIVE) | Q(pk__in=current_services))
            .select_related("organization").order_by("organization__name", "name", "pk")
        )
        for name in ("fields", "services"):
            if name in self.initial:
                self.initial[name] = pk_list(self.initial[name])

    def clean(self):
        data = super().clean()
        start, end = data.get("valid_from"), data.get("valid_until")
        if start and end and end < start:
            self.add_error("valid_until", _("„gültig bis“ liegt vor „gültig ab“."))
        if start and not data.get("next_review") and data.get("review_interval_months") and "next_review" not in self.errors:
            data["next_review"] = add_months(start, data["review_interval_months"])
        return data


# --- Parties -------------------------------------------------------------------------------


class ConstraintMessagesOnceMixin:
    """The model's constraint messages repeat the form's own field checks:
    drop those repeats from the non-field errors, keeping one per problem."""

    def repeated_constraint_messages(self) -> set[str]:
        return set()

    def _post_clean(self):
        super()._post_clean()
        errors = self._errors.get(forms.forms.NON_FIELD_ERRORS)
        if errors:
            kept = [e for e in errors if e not in self.repeated_constraint_messages()]
            if kept:
                self._errors[forms.forms.NON_FIELD_ERRORS] = self.error_class(kept, renderer=self.renderer)
            else:
                del self._errors[forms.forms.NON_FIELD_ERRORS]


class PartyForm(ConstraintMessagesOnceMixin, forms.ModelForm):
    """A party of ``agreement``. ``limited``: only responsibilities and
    reachability (a party's own editors)."""

    organization = LabelledChoiceField(
        queryset=Organization.objects.none(), label=_("Organisation"),
        label_fn=lambda o: f"{o.parent.name} › {o.name}" if o.parent_id else o.name,
        empty_label=_("– Organisation wählen –"),
        error_messages={"required": _("Bitte die Organisation wählen."),
                        "invalid_choice": _("Bitte eine Organisation aus der Liste wählen.")},
    )
    work_modes = forms.MultipleChoiceField(
        label=_("für die Budgetteile"), choices=WorkMode.choices, required=False,
        widget=forms.CheckboxSelectMultiple(),
        help_text=_("Für welche Teile des Sozialraumbudgets der Anteil gilt; keiner angekreuzt: für alle drei."),
        error_messages={"invalid_choice": _("„%(value)s“ ist keine der angebotenen Möglichkeiten.")},
    )

    class Meta:
        model = AgreementParty
        fields = ["organization", "role", "responsibilities", "contact", "availability", "budget_share", "work_modes"]
        localized_fields = ["budget_share"]
        widgets = {
            "responsibilities": forms.Textarea(attrs={"rows": 4, "class": "prose"}),
            "budget_share": forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", "size": 8}),
            "contact": forms.TextInput(attrs={"autocomplete": "off"}),
        }
        help_texts = {
            "availability": _("z. B. Mo–Fr 9–15 Uhr"),
            "responsibilities": _("Wofür die Organisation in dieser Vereinbarung verantwortlich ist."),
        }
        error_messages = {
            "role": {"required": _("Bitte die Rolle wählen."),
                     "invalid_choice": _("Bitte eine der angebotenen Rollen wählen.")},
            "budget_share": {"invalid": _("Bitte den Anteil als Zahl in Prozent angeben, z. B. 12,5."),
                             "max_digits": _("Bitte einen Anteil zwischen 0 und 100 % angeben."),
                             "max_whole_digits": _("Bitte einen Anteil zwischen 0 und 100 % angeben."),
                             "max_decimal_places": _("Höchstens vier Nachkommastellen."),
                             "min_value": _("Der Anteil kann nicht negativ sein."),
                             "max_value": _("Der Anteil ist höchstens 100 %.")},
            "contact": {"max_length": _("Höchstens %(limit_value)d Zeichen (jetzt %(show_value)d).")},
            "availability": {"max_length": _("Höchstens %(limit_value)d Zeichen (jetzt %(show_value)d).")},
        }

    LIMITED_FIELDS = ("responsibilities", "contact", "availability")

    def __init__(self, *args, agreement, user, limited=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.agreement = agreement
        self.instance.agreement = agreement
        if limited:
            for name in list(self.fields):
                if name not in self.LIMITED_FIELDS:
                    del self.fields[name]
            return
        org_field = self.fields["organization"]
        if self.instance.pk:
            # the organisation of a party stays; remove the party and add another instead
            org_field.disabled = True
            org_field.queryset = Organization.objects.filter(pk=self.instance.organization_id).select_related("parent")
            org_field.help_text = _("Eine andere Organisation wird als neue Partei hinzugefügt.")
        else:
            org_field.queryset = (
                Organization.objects.for_user(user, Action.VIEW)
                .exclude(pk__in=AgreementParty.objects.filter(agreement=agreement).values("organization_id"))
                .select_related("parent").order_by("name", "pk")
            )
        self.fields["budget_share"].label = _("Anteil am Trägerbudget (%)")

    def clean_budget_share(self):
        share = self.cleaned_data.get("budget_share")
        if share is None:
            return share
        others = (AgreementParty.objects.filter(agreement=self.agreement).exclude(pk=self.instance.pk)
                  .aggregate(total=Sum("budget_share"))["total"]) or Decimal(0)
        if others + share > 100:
            raise ValidationError(
                _("Die Anteile aller Parteien ergeben zusammen %(total)s %%; höchstens 100 %% sind möglich. Die "
                  "übrigen Parteien haben schon %(others)s %%, für diese Partei bleiben höchstens %(left)s %%."),
                params={"total": decimal_text(others + share), "others": decimal_text(others),
                        "left": decimal_text(max(Decimal(0), 100 - others))},
            )
        return share

    def repeated_constraint_messages(self):
        return {gettext("Der Anteil liegt zwischen 0 und 100 %.")}


# --- Escalation steps ------------------------------------------------------------------------


class EscalationStepForm(ConstraintMessagesOnceMixin, forms.ModelForm):
    order = forms.IntegerField(
        label=_("Stufe"), min_value=1, max_value=100,
        widget=forms.NumberInput(attrs={"min": 1, "inputmode": "numeric", "size": 4}),
        error_messages={"required": _("Bitte die Stufe angeben (1, 2, …)."),
                        "invalid": _("Bitte die Stufe als ganze Zahl angeben, z. B. 1."),
                        "min_value": _("Die Stufe ist mindestens 1."),
                        "max_value": _("Höchstens %(limit_value)s Stufen.")},
    )
    days = forms.IntegerField(
        label=_("Frist (Tage)"), min_value=1, max_value=365,
        widget=forms.NumberInput(attrs={"min": 1, "max": 365, "inputmode": "numeric", "size": 4}),
        help_text=_("So viele Tage hat die Stufe, bevor der Konflikt an die nächste geht."),
        error_messages={"required": _("Bitte die Frist in Tagen angeben."),
                        "invalid": _("Bitte die Frist als ganze Zahl von Tagen angeben, z. B. 14."),
                        "min_value": _("Die Frist ist mindestens ein Tag."),
                        "max_value": _("Höchstens %(limit_value)s Tage.")},
    )

    class Meta:
        model = EscalationStep
        fields = ["order", "handled_by", "days"]
        error_messages = {
            "handled_by": {"required": _("Bitte angeben, wer auf dieser Stufe zuständig ist."),
                           "max_length": _("Höchstens %(limit_value)d Zeichen (jetzt %(show_value)d).")},
        }

    def __init__(self, *args, agreement, **kwargs):
        kwargs.setdefault("prefix", "stufe")
        super().__init__(*args, **kwargs)
        self.agreement = agreement
        self.instance.agreement = agreement
        if not self.is_bound and self.instance.pk is None:
            last = agreement.escalation_steps.order_by("-order").values_list("order", flat=True).first()
            self.initial.setdefault("order", (last or 0) + 1)

    def clean_order(self):
        order = self.cleaned_data.get("order")
        if order is not None and EscalationStep.objects.filter(agreement=self.agreement, order=order).exclude(
                pk=self.instance.pk).exists():
            raise ValidationError(_("Stufe %(order)s gibt es schon; bitte eine andere Nummer wählen."),
                                  params={"order": order})
        return order

    def repeated_constraint_messages(self):
        return {gettext("Die Frist ist mindestens ein Tag."), gettext("Diese Stufe gibt es schon.")}


# --- Documents -------------------------------------------------------------------------------


class DocumentForm(forms.Form):
    title = forms.CharField(
        label=_("Titel"), max_length=200, required=False,
        help_text=_("Leer lassen: der Dateiname."),
        error_messages={"max_length": _("Höchstens %(limit_value)d Zeichen (jetzt %(show_value)d).")},
    )
    kind = forms.ChoiceField(
        label=_("Art"), choices=DocumentKind.choices, initial=DocumentKind.CONTRACT,
        error_messages={"required": _("Bitte die Art des Dokuments wählen."),
                        "invalid_choice": _("Bitte eine der angebotenen Arten wählen.")},
    )
    file = forms.FileField(
        label=_("Datei"),
        error_messages={"required": _("Bitte eine Datei auswählen."),
                        "empty": _("Die Datei ist leer."),
                        "invalid": _("Bitte eine Datei auswählen.")},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = format_lazy(
            _("Erlaubt: {types}; höchstens {max} MB. Der Dateityp wird am Inhalt geprüft, nicht nur an der Endung."),
            types=documents.ALLOWED_TEXT, max=documents.max_bytes() // 1024 // 1024)
        self.fields["file"].widget.attrs["accept"] = ",".join(f".{ext}" for ext in documents.TYPES)

    def clean(self):
        data = super().clean()
        upload = data.get("file")
        if upload is not None:
            try:
                data["content_type"] = documents.validate_upload(upload)
            except ValidationError as e:
                self.add_error(None, e)  # a {"file": …} error lands next to the file field
        return data


# --- Goals ---------------------------------------------------------------------------------


def region_label(region) -> str:
    return f"{region.name} ({region.code}, {region.level.name})"


class GoalForm(forms.ModelForm):
    indicator = LabelledChoiceField(
        queryset=Indicator.objects.none(), label=_("Indikator"),
        label_fn=lambda i: f"{i.name} ({i.unit})" if i.unit else i.name,
        empty_label=_("– Indikator wählen –"),
        error_messages={"required": _("Bitte den Indikator wählen."),
                        "invalid_choice": _("Bitte einen Indikator aus der Liste wählen.")},
    )
    region = LabelledChoiceField(
        queryset=Region.objects.none(), label=_("Raum"), label_fn=region_label,
        empty_label=_("– Raum wählen –"),
        error_messages={"required": _("Bitte den Raum wählen."),
                        "invalid_choice": _("Bitte einen Raum aus der Liste wählen.")},
    )

    class Meta:
        model = Goal
        fields = ["title", "indicator", "region", "baseline_period", "target_value", "target_date"]
        localized_fields = ["target_value"]
        widgets = {
            "target_value": forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", "size": 12}),
            "target_date": date_input(),
            "baseline_period": forms.TextInput(attrs={"autocomplete": "off", "size": 12}),
        }
        help_texts = {
            "title": _("z. B. „Anteil der Kinder in Transferbezug senken“."),
            "target_value": _("Der Wert, den der Indikator im Raum erreichen soll (in seiner Einheit). Liegt er "
                              "unter dem Ausgangswert, soll der Indikator sinken."),
        }
        error_messages = {
            "title": {"required": _("Bitte das Ziel benennen.")},
            "target_value": {"required": _("Bitte den Zielwert angeben."),
                             "invalid": _("Bitte den Zielwert als Zahl angeben, z. B. 12,5."),
                             "max_digits": _("Der Zielwert hat zu viele Stellen."),
                             "max_decimal_places": _("Höchstens sechs Nachkommastellen."),
                             "max_whole_digits": _("Der Zielwert hat zu viele Stellen vor dem Komma.")},
            "target_date": {"required": _("Bitte angeben, bis wann das Ziel erreicht sein soll."), **DATE_ERRORS},
        }

    def __init__(self, *args, agreement, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.agreement = agreement
        self.instance.agreement = agreement
        self.fields["indicator"].queryset = Indicator.objects.for_user(user, Action.VIEW).order_by("name", "key")
        self.fields["region"].queryset = (
            Region.objects.for_user(user, Action.VIEW).select_related("level").defer("boundary")
            .order_by("level__rank", "name", "code")
        )
        self.fields["baseline_period"].error_messages["max_length"] = gettext(
            "Höchstens %(limit_value)d Zeichen (jetzt %(show_value)d).")

    def clean(self):
        data = super().clean()
        indicator, region, period = data.get("indicator"), data.get("region"), (data.get("baseline_period") or "").strip()
        data["baseline_period"] = period
        if indicator is not None and region is not None and period:
            periods = sorted(IndicatorValue.objects.filter(indicator=indicator, region=region)
                             .values_list("period", flat=True))
            if period not in periods:
                if periods:
                    message = gettext("Für %(region)s gibt es im Zeitraum „%(period)s“ keinen Wert dieses Indikators. "
                                      "Vorhandene Zeiträume: %(periods)s.") % {
                        "region": region.name, "period": period, "periods": ", ".join(periods)}
                else:
                    message = gettext("Für %(region)s gibt es noch keine Werte dieses Indikators; bitte den "
                                      "Ausgangszeitraum leer lassen.") % {"region": region.name}
                self.add_error("baseline_period", message)
        return data
