"""Forms of the pages of need reports and cooperative planning (German UI).

- ``NeedReportForm``: a need an organisation reports (the reporting
  organisation among those the view allows, region, field, text, evidence);
- ``TriageForm``: one triage step of a planner (a reason when declining, an
  open planning process when taking a report into planning);
- ``PlanningProcessForm``: title, regions, fields, the mandate, the evidence;
- ``ParticipantForm``, ``SwotForm``, ``DecisionForm``: the small forms on a
  planning process's page.

Choices come from ``for_user`` querysets handed in by the views; every
message is German and attached to its field.
"""

from django import forms
from django.db.models import Q
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from core.access import Action
from core.models import FieldOfAction
from regions.models import CompositeIndex, Indicator, Region

from .choices import NeedStatus, SwotQuadrant
from .forms import MULTI_SELECT_HELP, OrganizationChoiceField, RegionsField, pk_list
from .models import NeedReport, Organization, PlanningDecision, PlanningParticipant, PlanningProcess

INVALID_CHOICE = _("Bitte einen Eintrag aus der Liste wählen.")


def all_region_choices(user, keep_ids=()) -> list[tuple[str, list[tuple[int, str]]]]:
    """Every region the user sees, grouped by level (``<optgroup>``), the whole
    city included (a need can concern it). One query."""
    qs = Region.objects.for_user(user, Action.VIEW)
    if keep_ids:
        qs = Region.objects.filter(Q(pk__in=qs.values("pk")) | Q(pk__in=list(keep_ids)))
    groups: dict[str, list[tuple[int, str]]] = {}
    for pk, code, name, level in qs.order_by("level__rank", "name", "code").values_list(
        "pk", "code", "name", "level__name"
    ):
        groups.setdefault(level, []).append((pk, f"{name} ({code})"))
    return list(groups.items())


def field_queryset(user, keep_ids=()):
    """Active fields of action in tree order (and those already chosen)."""
    keep = Q(pk__in=list(keep_ids)) if keep_ids else Q(pk__in=[])
    return FieldOfAction.objects.for_user(user, Action.VIEW).filter(Q(active=True) | keep).tree_order()


class FieldChoiceField(forms.ModelChoiceField):
    """A field of action, sub-fields indented under their parent."""

    def label_from_instance(self, obj):
        return "\u2003" * obj.depth + obj.name


class FieldsChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return "\u2003" * obj.depth + obj.name


class NeedReportChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.title} – {obj.region.name} ({obj.reporter.name}, {obj.get_status_display()})"


class IndicatorChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name} ({obj.key})"


# --- Need reports -------------------------------------------------------------------------


class NeedReportForm(forms.ModelForm):
    """A need report. ``organizations``: the organisations the user may report
    for (planners: any; provider staff: those they edit)."""

    region = forms.TypedChoiceField(
        label=_("Raum"), coerce=int,
        help_text=_("Der Sozialraum, in dem der Bedarf besteht (ein Bezirk schließt seine Planungsräume ein)."),
        error_messages={"required": _("Bitte den Raum wählen."), "invalid_choice": _("Bitte einen Raum aus der Liste wählen.")},
    )

    class Meta:
        model = NeedReport
        fields = ["reporter", "region", "field", "title", "description", "evidence"]
        field_classes = {"reporter": OrganizationChoiceField, "field": FieldChoiceField}
        widgets = {
            "description": forms.Textarea(attrs={"rows": 6, "class": "prose"}),
            "evidence": forms.Textarea(attrs={"rows": 5, "class": "prose"}),
            "title": forms.TextInput(attrs={"autocomplete": "off"}),
        }
        help_texts = {
            "reporter": _("Die Organisation, für die Sie den Bedarf melden."),
            "title": _("Kurz, z. B. „Wartezeit in der Erziehungsberatung über drei Monate“."),
        }
        error_messages = {
            "reporter": {"required": _("Bitte die meldende Organisation wählen."),
                         "invalid_choice": _("Bitte eine Organisation wählen, für die Sie melden dürfen.")},
            "field": {"required": _("Bitte das Handlungsfeld wählen."), "invalid_choice": INVALID_CHOICE},
            "title": {"required": _("Bitte den Bedarf kurz benennen."),
                      "max_length": _("Höchstens %(limit_value)d Zeichen (jetzt %(show_value)d).")},
            "description": {"required": _("Bitte beschreiben, was fehlt, für wen und seit wann.")},
        }

    def __init__(self, *args, user, organizations, **kwargs):
        super().__init__(*args, **kwargs)
        reporter = self.fields["reporter"]
        reporter.queryset = organizations.select_related("parent").only("pk", "name", "parent__name").order_by("name", "pk")
        reporter.empty_label = _("– Organisation wählen –")
        region_id = self.initial.get("region")
        self.fields["region"].choices = [("", _("– Raum wählen –")),
                                         *all_region_choices(user, [region_id] if region_id else ())]
        field_id = self.initial.get("field")
        self.fields["field"].queryset = field_queryset(user, [field_id] if field_id else ())
        self.fields["field"].empty_label = _("– Handlungsfeld wählen –")

    def clean_region(self):
        pk = self.cleaned_data.get("region")
        region = Region.objects.filter(pk=pk).defer("boundary").first() if pk is not None else None
        if region is None:
            raise forms.ValidationError(_("Bitte einen Raum aus der Liste wählen."))
        return region


class TriageForm(forms.Form):
    """One step of the triage: ``to`` is the status the report moves to; a
    decline needs a reason, taking into planning may name an open process."""

    reason = forms.CharField(
        label=_("Begründung"), widget=forms.Textarea(attrs={"rows": 3, "class": "prose"}),
        help_text=_("Die meldende Organisation sieht die Begründung."),
        error_messages={"required": _("Bitte begründen Sie die Ablehnung.")},
    )
    process = forms.ModelChoiceField(
        label=_("in den Planungsprozess"), queryset=PlanningProcess.objects.none(), required=False,
        empty_label=_("– keinen bestimmten –"),
        help_text=_("Optional: ein laufender Planungsprozess, in dessen Belege die Meldung aufgenommen wird."),
        error_messages={"invalid_choice": _("Bitte einen laufenden Planungsprozess aus der Liste wählen.")},
    )

    def __init__(self, *args, to: str, processes=None, **kwargs):
        kwargs.setdefault("prefix", f"triage-{to}")
        super().__init__(*args, **kwargs)
        self.to = to
        if to != NeedStatus.DECLINED:
            del self.fields["reason"]
        if to != NeedStatus.PLANNED:
            del self.fields["process"]
        else:
            self.fields["process"].queryset = processes if processes is not None else PlanningProcess.objects.none()


# --- Planning processes ---------------------------------------------------------------------


class PlanningProcessForm(forms.ModelForm):
    regions = RegionsField(
        label=_("Räume"), required=True,
        help_text=format_lazy("{} {}", _("Die Sozialräume, für die geplant wird."), MULTI_SELECT_HELP),
        error_messages={"required": _("Bitte mindestens einen Raum wählen."),
                        "invalid_choice": _("Bitte nur Räume aus der Liste wählen.")},
    )

    class Meta:
        model = PlanningProcess
        fields = ["title", "regions", "fields", "mandate_goals", "mandate_actors", "mandate_provider_ask",
                  "mandate_provider_join", "mandate_provider_coordination", "indicators", "indices", "need_reports"]
        field_classes = {"fields": FieldsChoiceField, "indicators": IndicatorChoiceField,
                         "need_reports": NeedReportChoiceField}
        widgets = {
            "title": forms.TextInput(attrs={"autocomplete": "off"}),
            "fields": forms.CheckboxSelectMultiple(),
            "mandate_goals": forms.Textarea(attrs={"rows": 4, "class": "prose"}),
            "mandate_actors": forms.Textarea(attrs={"rows": 3, "class": "prose"}),
            "mandate_provider_ask": forms.Textarea(attrs={"rows": 3, "class": "prose"}),
            "mandate_provider_join": forms.Textarea(attrs={"rows": 2, "class": "prose"}),
            "mandate_provider_coordination": forms.Textarea(attrs={"rows": 3, "class": "prose"}),
            "indicators": forms.SelectMultiple(attrs={"size": 8, "class": "select-multiple"}),
            "indices": forms.SelectMultiple(attrs={"size": 5, "class": "select-multiple"}),
            "need_reports": forms.SelectMultiple(attrs={"size": 8, "class": "select-multiple"}),
        }
        help_texts = {
            "mandate_goals": _("Themen und Ziele des Prozesses, vorab geklärt."),
            "mandate_provider_ask": _("Welches Wissen und welche Beiträge die Träger einbringen sollen."),
            "mandate_provider_join": _("In welcher Phase die Träger beteiligt werden."),
            "indicators": format_lazy("{} {}", _("Kennzahlen, auf die sich die Planung stützt."), MULTI_SELECT_HELP),
            "indices": MULTI_SELECT_HELP,
            "need_reports": format_lazy("{} {}", _("Gemeldete Bedarfe, die in die Planung eingehen."),
                                        MULTI_SELECT_HELP),
        }
        error_messages = {
            "title": {"required": _("Bitte den Titel angeben."),
                      "max_length": _("Höchstens %(limit_value)d Zeichen (jetzt %(show_value)d).")},
            "fields": {"required": _("Bitte mindestens ein Handlungsfeld wählen."),
                       "invalid_choice": _("Bitte nur Handlungsfelder aus der Liste wählen."),
                       "invalid_pk_value": _("Bitte nur Handlungsfelder aus der Liste wählen.")},
            "mandate_goals": {"required": _("Bitte angeben, was erreicht werden soll.")},
            "indicators": {"invalid_choice": _("Bitte nur Indikatoren aus der Liste wählen."),
                           "invalid_pk_value": _("Bitte nur Indikatoren aus der Liste wählen.")},
            "indices": {"invalid_choice": _("Bitte nur Indizes aus der Liste wählen."),
                        "invalid_pk_value": _("Bitte nur Indizes aus der Liste wählen.")},
            "need_reports": {"invalid_choice": _("Bitte nur Bedarfsmeldungen aus der Liste wählen."),
                             "invalid_pk_value": _("Bitte nur Bedarfsmeldungen aus der Liste wählen.")},
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("regions", "fields", "indicators", "indices", "need_reports"):
            if name in self.initial:
                self.initial[name] = pk_list(self.initial[name])
        chosen_regions = self.initial.get("regions") or []
        self.fields["regions"].choices = all_region_choices(user, chosen_regions)
        self.fields["fields"].queryset = field_queryset(user, self.initial.get("fields") or ())
        self.fields["indicators"].queryset = Indicator.objects.for_user(user, Action.VIEW).order_by("name", "key")
        self.fields["indices"].queryset = CompositeIndex.objects.for_user(user, Action.VIEW).order_by("name", "key")
        # declined reports only if already chosen
        chosen_reports = self.initial.get("need_reports") or []
        self.fields["need_reports"].queryset = (
            NeedReport.objects.for_user(user, Action.VIEW)
            .filter(~Q(status=NeedStatus.DECLINED) | Q(pk__in=chosen_reports))
            .select_related("region", "reporter").only("pk", "title", "status", "region__name", "reporter__name")
            .order_by("-created_at", "-pk")
        )


class ParticipantForm(forms.ModelForm):
    """A participating organisation (planners); ``organizations``: those not
    yet taking part."""

    class Meta:
        model = PlanningParticipant
        fields = ["organization", "role", "joins_in"]
        field_classes = {"organization": OrganizationChoiceField}
        help_texts = {"joins_in": _("Ab welcher Phase die Organisation mitarbeitet.")}
        error_messages = {
            "organization": {"required": _("Bitte die Organisation wählen."),
                             "invalid_choice": _("Bitte eine Organisation wählen, die noch nicht beteiligt ist.")},
            "role": {"required": _("Bitte die Rolle wählen."), "invalid_choice": INVALID_CHOICE},
            "joins_in": {"required": _("Bitte die Phase wählen."), "invalid_choice": INVALID_CHOICE},
        }

    def __init__(self, *args, organizations, **kwargs):
        kwargs.setdefault("prefix", "beteiligung")
        super().__init__(*args, **kwargs)
        org = self.fields["organization"]
        org.queryset = organizations.select_related("parent").only("pk", "name", "parent__name").order_by("name", "pk")
        org.empty_label = _("– Organisation wählen –")


class SwotForm(forms.Form):
    """A point of the SWOT analysis for one of ``organizations`` (those the
    user may contribute for, ``cooperation.planning.contributing_organizations``)."""

    organization = OrganizationChoiceField(
        label=_("eingebracht von"), queryset=Organization.objects.none(),
        error_messages={"required": _("Bitte die Organisation wählen."),
                        "invalid_choice": _("Bitte eine beteiligte Organisation wählen, für die Sie beitragen dürfen.")},
    )
    quadrant = forms.ChoiceField(
        label=_("Feld"), choices=SwotQuadrant.choices, widget=forms.RadioSelect(),
        error_messages={"required": _("Bitte wählen: Stärke, Schwäche, Chance oder Risiko."),
                        "invalid_choice": INVALID_CHOICE},
    )
    text = forms.CharField(
        label=_("Inhalt"), widget=forms.Textarea(attrs={"rows": 3, "class": "prose"}),
        help_text=_("Zusammengefasst, ohne personenbezogene Daten von Klientinnen und Klienten."),
        error_messages={"required": _("Bitte den Eintrag formulieren.")},
    )

    def __init__(self, *args, organizations, **kwargs):
        kwargs.setdefault("prefix", "swot")
        super().__init__(*args, **kwargs)
        org = self.fields["organization"]
        org.queryset = Organization.objects.filter(pk__in=[o.pk for o in organizations]).order_by("name", "pk")
        if len(organizations) == 1:
            org.empty_label = None
        else:
            org.empty_label = _("– Organisation wählen –")


class DecisionForm(forms.ModelForm):
    """A decision or measure of the process (planners). ``agreements`` and
    ``organizations``: what may be chosen."""

    class Meta:
        model = PlanningDecision
        fields = ["decided_on", "kind", "text", "agreement", "responsible"]
        field_classes = {"responsible": OrganizationChoiceField}
        widgets = {
            "decided_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "text": forms.Textarea(attrs={"rows": 3, "class": "prose"}),
        }
        help_texts = {"agreement": _("Optional: die Vereinbarung, die aus dem Beschluss entstanden ist.")}
        error_messages = {
            "decided_on": {"required": _("Bitte das Datum des Beschlusses angeben."),
                           "invalid": _("Bitte ein Datum angeben, z. B. 31.01.2026.")},
            "kind": {"required": _("Bitte die Art wählen."), "invalid_choice": INVALID_CHOICE},
            "text": {"required": _("Bitte den Beschluss oder die Maßnahme beschreiben.")},
            "agreement": {"invalid_choice": _("Bitte eine Vereinbarung aus der Liste wählen.")},
            "responsible": {"invalid_choice": _("Bitte eine Organisation aus der Liste wählen.")},
        }

    def __init__(self, *args, agreements, organizations, **kwargs):
        kwargs.setdefault("prefix", "beschluss")
        super().__init__(*args, **kwargs)
        self.fields["agreement"].queryset = agreements.only("pk", "title").order_by("title", "pk")
        self.fields["agreement"].empty_label = _("– keine –")
        responsible = self.fields["responsible"]
        responsible.queryset = organizations.select_related("parent").only("pk", "name", "parent__name").order_by(
            "name", "pk")
        responsible.empty_label = _("– niemand bestimmtes –")
