"""Forms of the network pages (German UI).

- ``NetworkForm``: a network with its regions, fields of action and
  coordinator (only planners choose or change the coordinator: an editor of
  the coordinating organisation cannot hand the network away by a crafted
  POST);
- ``NetworkMemberForm`` / ``NetworkMemberChangeForm``: add a member
  organisation, change its role and responsibilities;
- ``EscalationStepForm``: one step of the network's conflict procedure;
- ``MeetingForm``: date and time, place, agenda, decisions, attending
  organisations (the network's members and its coordinator) and — for case
  conferences only — the anonymous count of cases discussed and their fields
  of action; for other kinds those two are not offered and refused if posted;
- ``MeetingTaskForm`` / ``meeting_task_formset``: follow-up tasks for an
  organisation of the network by a date.

Every message is German and attached to its field. Uniqueness within a
network is checked here, since the network itself is not a form field (the
model's constraint would be skipped): organisations already in the network
are not offered, a step number in use is refused with a clear message.
"""

import datetime

from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from core.access import Action
from core.models import FieldOfAction

from .choices import NetworkKind
from .forms import MULTI_SELECT_HELP, OrganizationChoiceField, RegionsField, pk_list, region_choices
from .models import EscalationStep, Meeting, MeetingTask, Network, NetworkMember, Organization

CASE_FIELDS = ("cases_discussed", "case_fields")
NO_PERSONAL_DATA = _("Keine personenbezogenen Daten von Klientinnen und Klienten eintragen: keine Namen, "
                     "Geburtsdaten, Adressen oder Fallbeschreibungen, aus denen Personen erkennbar sind.")


class FieldOfActionChoiceField(forms.ModelMultipleChoiceField):
    """Fields of action as checkboxes; a sub-field names its parent."""

    def label_from_instance(self, obj):
        return f"{obj.parent.name} › {obj.name}" if obj.parent_id else obj.name


def field_of_action_queryset(user, keep_ids=()):
    """Active fields the user sees (and those already chosen), parents first."""
    keep = Q(pk__in=list(keep_ids)) if keep_ids else Q(pk__in=[])
    return (FieldOfAction.objects.for_user(user, Action.VIEW).filter(Q(active=True) | keep)
            .select_related("parent").tree_order())


def organizations_of(network, keep_ids=()):
    """Organisations to choose for attendance and tasks: the members and the
    coordinator of ``network``, plus ``keep_ids`` (already chosen ones, e.g. a
    member that has left since). One query when evaluated."""
    members = NetworkMember.objects.filter(network_id=network.pk).values("organization_id")
    q = Q(pk__in=members) | Q(pk__in=list(keep_ids))
    if network.coordinator_id:
        q |= Q(pk=network.coordinator_id)
    return Organization.objects.filter(q).select_related("parent").only("pk", "name", "parent__name").order_by("name")


# --- Networks ------------------------------------------------------------------------------


class NetworkForm(forms.ModelForm):
    """A network. ``can_choose_coordinator``: planners; for everybody else
    the coordinator is shown but disabled (Django ignores posted values of a
    disabled field)."""

    regions = RegionsField(
        label=_("Räume"),
        help_text=format_lazy("{} {}", _("Die Sozialräume, für die das Netzwerk arbeitet."), MULTI_SELECT_HELP),
    )

    class Meta:
        model = Network
        fields = ["name", "kind", "description", "regions", "fields", "coordinator", "cadence", "contact", "public",
                  "active"]
        field_classes = {"coordinator": OrganizationChoiceField, "fields": FieldOfActionChoiceField}
        widgets = {
            "description": forms.Textarea(attrs={"rows": 5, "class": "prose"}),
            "kind": forms.RadioSelect(),
            "fields": forms.CheckboxSelectMultiple(),
            "contact": forms.TextInput(attrs={"autocomplete": "off"}),
        }
        help_texts = {
            "description": _("Auftrag, Arbeitsweise, wer teilnehmen kann."),
            "public": _("Angekreuzt sehen alle Träger das Netzwerk; sonst nur Mitglieder, die Koordination und "
                        "die Planung."),
            "active": _("Nicht mehr aktive Netzwerke bleiben mit ihren Sitzungen lesbar."),
        }
        error_messages = {
            "name": {"required": _("Bitte den Namen des Netzwerks angeben."),
                     "max_length": _("Der Name ist zu lang (höchstens %(limit_value)d Zeichen, jetzt %(show_value)d).")},
            "kind": {"required": _("Bitte die Art des Netzwerks wählen."),
                     "invalid_choice": _("Bitte eine der angebotenen Arten wählen.")},
            "cadence": {"required": _("Bitte den Sitzungsrhythmus wählen."),
                        "invalid_choice": _("Bitte einen der angebotenen Rhythmen wählen.")},
            "coordinator": {"invalid_choice": _("Bitte eine Organisation aus der Liste wählen.")},
            "fields": {"invalid_choice": _("Bitte nur Handlungsfelder aus der Liste wählen."),
                       "invalid_pk_value": _("Bitte nur Handlungsfelder aus der Liste wählen.")},
            "contact": {"max_length": _("Höchstens %(limit_value)d Zeichen (jetzt %(show_value)d).")},
        }

    def __init__(self, *args, user, can_choose_coordinator: bool, **kwargs):
        super().__init__(*args, **kwargs)
        coordinator = self.fields["coordinator"]
        if can_choose_coordinator:
            coordinator.queryset = Organization.objects.for_user(user, Action.VIEW).select_related("parent").only(
                "pk", "name", "parent__name")
            coordinator.empty_label = _("– keine –")
        else:
            coordinator.disabled = True
            coordinator.queryset = Organization.objects.filter(pk=self.instance.coordinator_id).only("pk", "name")
            coordinator.empty_label = _("– keine –")
            coordinator.help_text = _("Nur die Planung legt die koordinierende Organisation fest.")
        chosen_fields = pk_list(self.initial.get("fields"))
        self.initial["fields"] = chosen_fields
        self.fields["fields"].queryset = field_of_action_queryset(user, chosen_fields)
        chosen_regions = pk_list(self.initial.get("regions"))
        self.initial["regions"] = chosen_regions
        self.fields["regions"].choices = region_choices(user, chosen_regions)


class NetworkMemberForm(forms.ModelForm):
    """Add an organisation to a network. Every organisation can be chosen: a
    coordinating provider must be able to invite others (their names are
    public in the directory anyway)."""

    class Meta:
        model = NetworkMember
        fields = ["organization", "role", "responsibilities"]
        field_classes = {"organization": OrganizationChoiceField}
        widgets = {"responsibilities": forms.Textarea(attrs={"rows": 2})}
        help_texts = {"role": _("„Koordination“ darf das Netzwerk, seine Mitglieder und Sitzungen pflegen.")}
        error_messages = {
            "organization": {"required": _("Bitte die Organisation wählen."),
                             "invalid_choice": _("Bitte eine Organisation aus der Liste wählen.")},
            "role": {"required": _("Bitte die Rolle wählen."),
                     "invalid_choice": _("Bitte eine der angebotenen Rollen wählen.")},
        }

    def __init__(self, *args, network, **kwargs):
        kwargs.setdefault("prefix", "mitglied")
        kwargs.setdefault("instance", NetworkMember(network=network))
        super().__init__(*args, **kwargs)
        self.network = network
        org = self.fields["organization"]
        org.queryset = Organization.objects.exclude(
            pk__in=NetworkMember.objects.filter(network_id=network.pk).values("organization_id")
        ).select_related("parent").only("pk", "name", "parent__name").order_by("name")
        org.empty_label = _("– Organisation wählen –")
        org.error_messages["invalid_choice"] = _("Bitte eine Organisation aus der Liste wählen; wer schon Mitglied "
                                                 "ist, steht nicht zur Wahl.")


class NetworkMemberChangeForm(forms.ModelForm):
    """The role and responsibilities of a member (inline in the member table)."""

    class Meta:
        model = NetworkMember
        fields = ["role", "responsibilities"]
        widgets = {"responsibilities": forms.Textarea(attrs={"rows": 2})}
        error_messages = {
            "role": {"required": _("Bitte die Rolle wählen."),
                     "invalid_choice": _("Bitte eine der angebotenen Rollen wählen.")},
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "prefix" not in kwargs and self.instance.pk:
            self.prefix = f"m{self.instance.pk}"


class EscalationStepForm(forms.ModelForm):
    """A step of the network's conflict procedure: number, who, days."""

    class Meta:
        model = EscalationStep
        fields = ["order", "handled_by", "days"]
        widgets = {
            "order": forms.NumberInput(attrs={"min": 1, "max": 99, "inputmode": "numeric"}),
            "days": forms.NumberInput(attrs={"min": 1, "inputmode": "numeric"}),
            "handled_by": forms.TextInput(attrs={"autocomplete": "off"}),
        }
        help_texts = {"days": _("Bis wann der Konflikt auf dieser Stufe bearbeitet sein soll, in Kalendertagen.")}
        error_messages = {
            "order": {"required": _("Bitte die Nummer der Stufe angeben."),
                      "invalid": _("Bitte eine ganze Zahl angeben, z. B. 1.")},
            "handled_by": {"required": _("Bitte angeben, wer auf dieser Stufe zuständig ist.")},
            "days": {"required": _("Bitte die Frist in Tagen angeben."),
                     "invalid": _("Bitte eine ganze Zahl von Tagen angeben, z. B. 14.")},
        }

    def __init__(self, *args, network, **kwargs):
        kwargs.setdefault("prefix", "stufe")
        kwargs.setdefault("instance", EscalationStep(network=network))
        super().__init__(*args, **kwargs)
        self.network = network
        self.fields["order"].error_messages["min_value"] = _("Die Stufen beginnen bei 1.")
        self.fields["days"].error_messages["min_value"] = _("Die Frist ist mindestens ein Tag.")
        self.fields["order"].widget.attrs["min"] = 1
        self.fields["days"].widget.attrs["min"] = 1
        if not self.is_bound:
            last = EscalationStep.objects.filter(network_id=network.pk).order_by("-order").values_list(
                "order", flat=True).first()
            if self.initial.get("order") is None:
                self.initial["order"] = (last or 0) + 1

    def clean_order(self):
        order = self.cleaned_data["order"]
        if order < 1:
            raise forms.ValidationError(self.fields["order"].error_messages["min_value"])
        if EscalationStep.objects.filter(network=self.network, order=order).exists():
            raise forms.ValidationError(_("Diese Stufe gibt es schon."))
        return order

    def clean_days(self):
        days = self.cleaned_data["days"]
        if days < 1:
            raise forms.ValidationError(self.fields["days"].error_messages["min_value"])
        return days


# --- Meetings ------------------------------------------------------------------------------


class MeetingForm(forms.ModelForm):
    """A meeting of ``network``. The start is asked as date and time. For
    case conferences the anonymous count and fields of the cases discussed
    are offered; for other kinds they are absent and a POST carrying them is
    refused (nothing is saved)."""

    date = forms.DateField(
        label=_("Datum"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"required": _("Bitte das Datum der Sitzung angeben."),
                        "invalid": _("Bitte ein Datum angeben, z. B. 31.01.2026.")},
    )
    time = forms.TimeField(
        label=_("Uhrzeit"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        error_messages={"required": _("Bitte die Uhrzeit des Beginns angeben."),
                        "invalid": _("Bitte eine Uhrzeit angeben, z. B. 14:30.")},
    )

    class Meta:
        model = Meeting
        fields = ["place", "agenda", "decisions", "attendees", "cases_discussed", "case_fields"]
        field_classes = {"case_fields": FieldOfActionChoiceField}
        widgets = {
            "agenda": forms.Textarea(attrs={"rows": 5, "class": "prose"}),
            "decisions": forms.Textarea(attrs={"rows": 8, "class": "prose"}),
            "attendees": forms.CheckboxSelectMultiple(),
            "case_fields": forms.CheckboxSelectMultiple(),
            "cases_discussed": forms.NumberInput(attrs={"min": 0, "max": 999, "inputmode": "numeric"}),
            "place": forms.TextInput(attrs={"autocomplete": "off"}),
        }
        help_texts = {
            "attendees": _("Die Mitglieder und die koordinierende Organisation des Netzwerks."),
            "case_fields": _("In welchen Handlungsfeldern die beratenen Fälle lagen – ohne Angaben zu Personen."),
        }
        error_messages = {
            "attendees": {"invalid_choice": _("Bitte nur Organisationen des Netzwerks wählen."),
                          "invalid_pk_value": _("Bitte nur Organisationen des Netzwerks wählen.")},
            "case_fields": {"invalid_choice": _("Bitte nur Handlungsfelder aus der Liste wählen."),
                            "invalid_pk_value": _("Bitte nur Handlungsfelder aus der Liste wählen.")},
            "cases_discussed": {"invalid": _("Bitte eine ganze Zahl angeben, z. B. 4."),
                                "min_value": _("Die Anzahl kann nicht negativ sein."),
                                "max_value": _("Bitte höchstens %(limit_value)s Fälle angeben.")},
            "place": {"max_length": _("Höchstens %(limit_value)d Zeichen (jetzt %(show_value)d).")},
        }

    def __init__(self, *args, network, user, **kwargs):
        kwargs.setdefault("instance", Meeting(network=network))
        super().__init__(*args, **kwargs)
        self.network = network
        self.is_case_conference = network.kind == NetworkKind.CASE_CONFERENCE
        meeting = self.instance
        chosen_attendees = pk_list(self.initial.get("attendees"))
        self.initial["attendees"] = chosen_attendees
        self.fields["attendees"].queryset = organizations_of(network, chosen_attendees)
        if self.is_case_conference:
            chosen_fields = pk_list(self.initial.get("case_fields"))
            self.initial["case_fields"] = chosen_fields
            self.fields["case_fields"].queryset = field_of_action_queryset(user, chosen_fields)
        else:
            for name in CASE_FIELDS:
                del self.fields[name]
        self.fields["decisions"].help_text = NO_PERSONAL_DATA
        if meeting.starts_at and not self.is_bound:
            local = timezone.localtime(meeting.starts_at)
            self.initial.setdefault("date", local.date())
            self.initial.setdefault("time", local.time().replace(second=0, microsecond=0))

    def posted(self, name) -> bool:
        """Whether the POST carries a non-empty value for ``name``."""
        values = self.data.getlist(name) if hasattr(self.data, "getlist") else [self.data.get(name)]
        return any(str(v).strip() for v in values if v is not None)

    def clean(self):
        data = super().clean()
        if not self.is_case_conference and any(self.posted(name) for name in CASE_FIELDS):
                raise forms.ValidationError(
                    _("Anzahl und Handlungsfelder beratener Fälle werden nur bei Fallkonferenzen erfasst "
                      "(Art dieses Netzwerks: %(kind)s)."),
                    code="case_fields_refused", params={"kind": self.network.get_kind_display()})
        day, at = data.get("date"), data.get("time")
        if day is not None and at is not None:
            self.instance.starts_at = timezone.make_aware(datetime.datetime.combine(day, at))
        return data


class MeetingTaskForm(forms.ModelForm):
    """A follow-up task for an organisation of the meeting's network."""

    class Meta:
        model = MeetingTask
        fields = ["title", "responsible", "due"]
        field_classes = {"responsible": OrganizationChoiceField}
        widgets = {
            "title": forms.TextInput(attrs={"autocomplete": "off"}),
            "due": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }
        error_messages = {
            "title": {"required": _("Bitte die Aufgabe beschreiben."),
                      "max_length": _("Höchstens %(limit_value)d Zeichen (jetzt %(show_value)d).")},
            "responsible": {"required": _("Bitte die verantwortliche Organisation wählen."),
                            "invalid_choice": _("Bitte eine Organisation des Netzwerks wählen.")},
            "due": {"required": _("Bitte das Fälligkeitsdatum angeben."),
                    "invalid": _("Bitte ein Datum angeben, z. B. 31.01.2026.")},
        }

    def __init__(self, *args, network, responsible_queryset=None, **kwargs):
        super().__init__(*args, **kwargs)
        responsible = self.fields["responsible"]
        keep = [self.instance.responsible_id] if self.instance.pk else []
        responsible.queryset = responsible_queryset if responsible_queryset is not None else organizations_of(
            network, keep)
        responsible.empty_label = _("– Organisation wählen –")
        self.fields["title"].help_text = _("Was zu tun ist – ohne personenbezogene Daten.")


class BaseMeetingTaskFormSet(forms.BaseModelFormSet):
    """The tasks of a meeting on its form: existing ones can be changed or
    removed, empty extra rows are ignored. The organisations to choose from are
    loaded once for every row."""

    def __init__(self, *args, network, **kwargs):
        self.network = network
        self._responsible_queryset = None
        self._responsible_choices = None
        kwargs.setdefault("prefix", "aufgaben")
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        kwargs = super().get_form_kwargs(index)
        if self._responsible_queryset is None:
            keep = [t.responsible_id for t in self.get_queryset()]
            self._responsible_queryset = organizations_of(self.network, keep)
        kwargs.update(network=self.network, responsible_queryset=self._responsible_queryset)
        return kwargs

    def add_fields(self, form, index):
        super().add_fields(form, index)
        if "DELETE" in form.fields:
            form.fields["DELETE"].label = _("Aufgabe löschen")

    def _construct_form(self, i, **kwargs):
        form = super()._construct_form(i, **kwargs)
        # one query for the choices of every row (a ModelChoiceField queries per render)
        widget = form.fields["responsible"].widget
        if self._responsible_choices is None:
            self._responsible_choices = list(widget.choices)
        widget.choices = self._responsible_choices
        return form


def meeting_task_formset(data=None, *, meeting, network, extra=None):
    """The task rows of ``meeting`` (a new meeting has none yet)."""
    queryset = (MeetingTask.objects.filter(meeting_id=meeting.pk).select_related("responsible")
                if meeting.pk else MeetingTask.objects.none())
    formset_class = forms.modelformset_factory(
        MeetingTask, form=MeetingTaskForm, formset=BaseMeetingTaskFormSet, fields=["title", "responsible", "due"],
        extra=extra if extra is not None else (3 if meeting.pk is None else 1), can_delete=True,
    )
    return formset_class(data, queryset=queryset, network=network)
