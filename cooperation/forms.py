"""Forms of the organisation and offering pages (German UI).

- ``ServiceForm``: every field of an offering. Choices come from ``for_user``
  querysets handed in by the view: the organisation among those the user may
  change (disabled for provider staff when editing, so a crafted POST cannot
  move an offering), the locations of that organisation, fields of action
  grouped by the taxonomy, regions grouped by level;
- ``NewLocationForm``: the small inline form on the offering page that adds a
  location to the offering's organisation (the region is found from the point
  when it is saved);
- ``OrganizationForm`` (provider staff never see ``parent`` and ``kind``);
- ``MembershipForm`` / ``MembershipRoleForm`` (planners only, checked by the
  views);
- ``ServiceCloseForm``: the status an offering is closed with.

Every message is German and attached to its field; the model's ``clean``
adds its own (age range, free places).
"""

from django import forms
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.access import Action
from core.models import FieldOfAction
from regions.models import Region

from .choices import Accessibility, AccessMode, Cost, Language, LegalBasis, MembershipRole, ServiceStatus
from .models import Location, Membership, Organization, Service, TargetGroup

MULTI_SELECT_HELP = _("Mehrfachauswahl mit Strg (Mac: ⌘) oder Umschalt; mit der Tastatur: Umschalt + Pfeiltasten.")
CLOSED_STATUSES = [ServiceStatus.TEMPORARILY_CLOSED, ServiceStatus.INACTIVE, ServiceStatus.DEFUNCT]


def field_key_choices(user) -> list[tuple[str, str]]:
    """(key, indented name) of the fields of action for a filter select (one query)."""
    rows = FieldOfAction.objects.for_user(user, Action.VIEW).tree_order().values_list("key", "name", "depth")
    return [("", _("alle Handlungsfelder")), *((key, "\u2003" * depth + name) for key, name, depth in rows)]


def region_choices(user, keep_ids=()) -> list[tuple[str, list[tuple[int, str]]]]:
    """Regions the user sees, grouped by level (``<optgroup>``), below the top
    of the tree (a city-wide offering says so with "stadtweit"); regions in
    ``keep_ids`` (already chosen) are offered in any case. One query."""
    qs = Region.objects.for_user(user, Action.VIEW)
    qs = qs.filter(Q(depth__gt=0) | Q(pk__in=list(keep_ids))) if keep_ids else qs.filter(depth__gt=0)
    groups: dict[str, list[tuple[int, str]]] = {}
    for pk, code, name, level in qs.order_by("level__rank", "name", "code").values_list(
        "pk", "code", "name", "level__name"
    ):
        groups.setdefault(level, []).append((pk, f"{name} ({code})"))
    return list(groups.items())


class RegionsField(forms.TypedMultipleChoiceField):
    """Regions by primary key from grouped choices; the model's M2M ``set``
    takes the keys as they are."""

    def __init__(self, **kwargs):
        kwargs.setdefault("coerce", int)
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.SelectMultiple(attrs={"size": 10, "class": "select-multiple"}))
        kwargs.setdefault("error_messages", {
            "invalid_choice": _("Bitte nur Räume aus der Liste wählen."),
            "invalid_list": _("Bitte Räume aus der Liste wählen."),
        })
        super().__init__(**kwargs)


def pk_list(value) -> list[int]:
    """Initial M2M values of a model instance (objects) as primary keys."""
    return [getattr(v, "pk", v) for v in value or []]


class LocationChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        if obj.region_id:
            return gettext("%(location)s – Sozialraum: %(region)s") % {
                "location": obj, "region": f"{obj.region.name} ({obj.region.code})"}
        return str(obj)


class TargetGroupChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.parent.name} › {obj.name}" if obj.parent_id else obj.name


class OrganizationChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.parent.name} › {obj.name}" if obj.parent_id else obj.name


def formfield(db_field, **kwargs):
    """Model fields → form fields; web addresses without a scheme get https://."""
    if isinstance(db_field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return db_field.formfield(**kwargs)


def checkbox_list(label, choices, help_text=""):
    return forms.MultipleChoiceField(
        label=label, choices=choices, required=False, help_text=help_text,
        widget=forms.CheckboxSelectMultiple(),
        error_messages={"invalid_choice": _("„%(value)s“ ist keine der angebotenen Möglichkeiten.")},
    )


# --- Offerings -----------------------------------------------------------------------------


class ServiceForm(forms.ModelForm):
    """All fields of an offering. ``organizations``: the organisations the user
    may assign (``Organization.objects.for_user(user, CHANGE)``);
    ``can_move``: whether an existing offering may be given to another
    organisation (planners); ``location_org``: the organisation whose
    locations are offered when nothing else is posted."""

    legal_bases = checkbox_list(_("Rechtsgrundlagen"), LegalBasis.choices)
    languages = checkbox_list(_("Sprachen"), Language.choices,
                              help_text=_("In welchen Sprachen beraten oder betreut wird."))
    accessibility = checkbox_list(_("Barrierefreiheit"), Accessibility.choices)
    access_modes = checkbox_list(_("Zugang"), AccessMode.choices, help_text=_("Wie Menschen zum Angebot kommen."))
    regions = RegionsField(
        label=_("versorgte Räume"),
        help_text=format_lazy("{} {}", _("Die Sozialräume, für die das Angebot da ist (nicht nötig bei „stadtweit“). "
                                         "Ein Bezirk schließt seine Planungsräume ein."), MULTI_SELECT_HELP),
    )
    confirm = forms.BooleanField(
        label=_("Die Angaben sind aktuell (als bestätigt vermerken)"), required=False, initial=True,
        help_text=_("Angebote werden regelmäßig auf Aktualität geprüft; angekreuzt gilt das Angebot mit dem "
                    "Speichern als bestätigt."),
    )

    class Meta:
        model = Service
        formfield_callback = formfield
        fields = [
            "organization", "name", "description", "keywords", "fields", "setting", "work_mode", "target_groups",
            "age_min", "age_max", "legal_bases", "languages", "accessibility", "cost", "cost_note", "access_modes",
            "city_wide", "regions", "locations", "opening_hours", "email", "phone", "url", "capacity",
            "free_places", "free_places_reported_at", "status",
        ]
        field_classes = {
            "organization": OrganizationChoiceField, "locations": LocationChoiceField,
            "target_groups": TargetGroupChoiceField,
        }
        widgets = {
            "description": forms.Textarea(attrs={"rows": 6, "class": "prose"}),
            "opening_hours": forms.Textarea(attrs={"rows": 3, "class": "prose"}),
            "keywords": forms.TextInput(attrs={"autocomplete": "off"}),
            "fields": forms.CheckboxSelectMultiple(),
            "target_groups": forms.CheckboxSelectMultiple(),
            "locations": forms.CheckboxSelectMultiple(),
            "setting": forms.RadioSelect(),
            "work_mode": forms.RadioSelect(),
            "cost": forms.RadioSelect(),
            "age_min": forms.NumberInput(attrs={"min": 0, "max": 120, "inputmode": "numeric"}),
            "age_max": forms.NumberInput(attrs={"min": 0, "max": 120, "inputmode": "numeric"}),
            "capacity": forms.NumberInput(attrs={"min": 0, "inputmode": "numeric"}),
            "free_places": forms.NumberInput(attrs={"min": 0, "inputmode": "numeric"}),
            "free_places_reported_at": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "email": forms.EmailInput(attrs={"autocomplete": "off"}),
            "phone": forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
            "url": forms.URLInput(attrs={"autocomplete": "off"}),
        }
        help_texts = {
            "name": _("So erscheint das Angebot im Angebotsfinder."),
            "description": _("Was das Angebot leistet, für wen, wie es abläuft."),
            "fields": _("Mindestens ein Handlungsfeld; Unterbereiche sind eingerückt."),
            "age_min": _("Leer lassen, wenn es keine Untergrenze gibt."),
            "age_max": _("Leer lassen, wenn es keine Obergrenze gibt."),
            "locations": _("Standorte der Organisation, an denen das Angebot stattfindet. Ein neuer Standort "
                           "kann unten angelegt werden."),
            "free_places": _("Mit Datum der Meldung; höchstens so viele wie Plätze."),
            "status": _("Öffentlich im Angebotsfinder erscheinen nur aktive Angebote; zum Schließen gibt es auch "
                        "die Schaltfläche „Schließen“."),
        }
        error_messages = {
            "organization": {"required": _("Bitte die Organisation wählen."),
                             "invalid_choice": _("Bitte eine Organisation wählen, für die Sie Angebote pflegen.")},
            "name": {"required": _("Bitte den Namen des Angebots angeben."),
                     "max_length": _("Der Name ist zu lang (höchstens %(limit_value)d Zeichen, jetzt %(show_value)d).")},
            "keywords": {"max_length": _("Höchstens %(limit_value)d Zeichen (jetzt %(show_value)d).")},
            "fields": {"required": _("Bitte mindestens ein Handlungsfeld wählen."),
                       "invalid_choice": _("Bitte nur Handlungsfelder aus der Liste wählen."),
                       "invalid_pk_value": _("Bitte nur Handlungsfelder aus der Liste wählen.")},
            "target_groups": {"invalid_choice": _("Bitte nur Zielgruppen aus der Liste wählen."),
                              "invalid_pk_value": _("Bitte nur Zielgruppen aus der Liste wählen.")},
            "locations": {"invalid_choice": _("Bitte nur Standorte der gewählten Organisation wählen."),
                          "invalid_pk_value": _("Bitte nur Standorte der gewählten Organisation wählen.")},
            "setting": {"required": _("Bitte das Setting wählen.")},
            "work_mode": {"required": _("Bitte die Arbeitsweise wählen.")},
            "cost": {"required": _("Bitte angeben, ob das Angebot etwas kostet.")},
            "status": {"required": _("Bitte den Status wählen.")},
            "age_min": {"invalid": _("Bitte ein Alter in ganzen Jahren angeben, z. B. 6."),
                        "min_value": _("Das Alter kann nicht negativ sein."),
                        "max_value": _("Bitte ein Alter bis höchstens %(limit_value)s Jahre angeben.")},
            "age_max": {"invalid": _("Bitte ein Alter in ganzen Jahren angeben, z. B. 17."),
                        "min_value": _("Das Alter kann nicht negativ sein."),
                        "max_value": _("Bitte ein Alter bis höchstens %(limit_value)s Jahre angeben.")},
            "capacity": {"invalid": _("Bitte eine ganze Zahl angeben, z. B. 12."),
                         "min_value": _("Die Zahl der Plätze kann nicht negativ sein.")},
            "free_places": {"invalid": _("Bitte eine ganze Zahl angeben, z. B. 3."),
                            "min_value": _("Die Zahl der freien Plätze kann nicht negativ sein.")},
            "free_places_reported_at": {"invalid": _("Bitte ein Datum angeben, z. B. 31.01.2026.")},
            "email": {"invalid": _("Bitte eine gültige E-Mail-Adresse angeben, z. B. beratung@traeger.de.")},
            "url": {"invalid": _("Bitte eine vollständige Adresse angeben, z. B. https://www.traeger.de/angebot.")},
            "cost_note": {"max_length": _("Höchstens %(limit_value)d Zeichen (jetzt %(show_value)d).")},
        }

    def __init__(self, *args, user, organizations, can_move=True, location_org=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        instance = self.instance
        editing = instance.pk is not None

        org_field = self.fields["organization"]
        org_field.queryset = organizations.select_related("parent").only("pk", "name", "parent__name")
        org_field.empty_label = _("– Organisation wählen –")
        if editing and not can_move:
            # Django ignores posted values of a disabled field: the offering stays where it is.
            org_field.disabled = True
            org_field.queryset = Organization.objects.filter(pk=instance.organization_id).only("pk", "name")
            org_field.help_text = _("Nur die Planung kann ein Angebot einer anderen Organisation zuordnen.")

        # The organisation whose locations are offered: the posted one if it is allowed.
        self.location_org = location_org
        if self.is_bound and not org_field.disabled:
            posted = self.data.get(self.add_prefix("organization"))
            if posted and str(posted).isdigit():
                self.location_org = organizations.filter(pk=int(posted)).first() or location_org
        elif editing:
            self.location_org = instance.organization
        locations = Location.objects.for_user(user, Action.VIEW).select_related("region")
        self.fields["locations"].queryset = (
            locations.filter(organization=self.location_org) if self.location_org is not None else locations.none()
        )

        current_fields = Q()
        if editing:
            current_fields = Q(pk__in=Service.fields.through.objects.filter(service_id=instance.pk)
                               .values("fieldofaction_id"))
        self.fields["fields"].queryset = (
            FieldOfAction.objects.for_user(user, Action.VIEW).filter(Q(active=True) | current_fields).tree_order()
        )
        self.fields["target_groups"].queryset = (
            TargetGroup.objects.for_user(user, Action.VIEW).select_related("parent").order_by(
                Coalesce("parent__order", "order"), Coalesce("parent__name", "name"),
                F("parent_id").asc(nulls_first=True), "order", "name",
            )
        )

        chosen_regions = pk_list(self.initial.get("regions"))
        self.initial["regions"] = chosen_regions
        self.fields["regions"].choices = region_choices(user, chosen_regions)
        for name in ("fields", "target_groups", "locations"):
            if name in self.initial:
                self.initial[name] = pk_list(self.initial[name])
        self.fields["organization"].widget.attrs["autocomplete"] = "off"

    def field_groups(self) -> list[dict]:
        """The fields-of-action checkboxes grouped by the taxonomy: a field
        with sub-fields is a group (a fieldset named after it) holding itself
        and its sub-fields (with their depth for indentation); consecutive
        fields without sub-fields form a group without a name."""
        items = [(widget, widget.data["value"].instance) for widget in self["fields"]]
        groups: list[dict] = []
        for i, (widget, field) in enumerate(items):
            option = {"widget": widget, "indent": field.depth, "legal_basis": field.legal_basis,
                      "inactive": not field.active}
            has_children = i + 1 < len(items) and items[i + 1][1].depth > field.depth
            if field.depth == 0 and has_children:
                groups.append({"label": field.name, "options": []})
            elif not groups or (field.depth == 0 and groups[-1]["label"] is not None):
                groups.append({"label": None, "options": []})
            groups[-1]["options"].append(option)
        return groups

    def clean(self):
        data = super().clean()
        if data.get("city_wide") and data.get("regions"):
            self.add_error("regions", _("Ein stadtweites Angebot braucht keine einzelnen Räume: bitte entweder "
                                        "„stadtweit“ ankreuzen oder Räume wählen."))
        org = data.get("organization")
        locations = data.get("locations")
        if org is not None and locations:
            if any(loc.organization_id != org.pk for loc in locations):
                self.add_error("locations", _("Bitte nur Standorte der gewählten Organisation wählen."))
        if data.get("cost") == Cost.FEE and not (data.get("cost_note") or "").strip() and "cost_note" not in self.errors:
            self.add_error("cost_note", _("Bitte angeben, was das Angebot kostet (z. B. 5 € je Termin)."))
        return data

    def _post_clean(self):
        super()._post_clean()
        # The database constraints repeat what Service.clean already said per
        # field; show each problem once, next to its field.
        duplicates = {
            gettext("„Alter von“ liegt über „Alter bis“."),
            gettext("Es gibt mehr freie Plätze als Plätze."),
            gettext("Bitte angeben, wann die freien Plätze gemeldet wurden."),
        }
        if forms.forms.NON_FIELD_ERRORS in self._errors:
            kept = [e for e in self._errors[forms.forms.NON_FIELD_ERRORS] if e not in duplicates]
            if kept:
                self._errors[forms.forms.NON_FIELD_ERRORS] = self.error_class(kept, renderer=self.renderer)
            else:
                del self._errors[forms.forms.NON_FIELD_ERRORS]


class NewLocationForm(forms.ModelForm):
    """Optional: a new location of the offering's organisation. Left empty,
    nothing is created."""

    class Meta:
        model = Location
        fields = ["name", "street", "postal_code", "city", "latitude", "longitude"]
        localized_fields = ["latitude", "longitude"]
        widgets = {
            "postal_code": forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "size": 6}),
            "latitude": forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
            "longitude": forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
        }
        help_texts = {
            "latitude": _("WGS84 in Grad, z. B. 52,520008 (aus einer Karte kopiert). Aus dem Punkt wird der "
                          "Sozialraum bestimmt."),
            "longitude": _("WGS84 in Grad, z. B. 13,404954."),
        }
        error_messages = {
            "street": {"required": _("Bitte Straße und Hausnummer des neuen Standorts angeben.")},
            "postal_code": {"required": _("Bitte die Postleitzahl des neuen Standorts angeben.")},
            "city": {"required": _("Bitte den Ort des neuen Standorts angeben.")},
            "latitude": {"invalid": _("Bitte den Breitengrad als Zahl angeben, z. B. 52,520008."),
                         "max_digits": _("Bitte den Breitengrad als Zahl angeben, z. B. 52,520008."),
                         "max_decimal_places": _("Höchstens sechs Nachkommastellen."),
                         "max_whole_digits": _("Bitte den Breitengrad als Zahl angeben, z. B. 52,520008.")},
            "longitude": {"invalid": _("Bitte den Längengrad als Zahl angeben, z. B. 13,404954."),
                          "max_digits": _("Bitte den Längengrad als Zahl angeben, z. B. 13,404954."),
                          "max_decimal_places": _("Höchstens sechs Nachkommastellen."),
                          "max_whole_digits": _("Bitte den Längengrad als Zahl angeben, z. B. 13,404954.")},
        }

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", "standort")
        kwargs.setdefault("empty_permitted", True)
        kwargs.setdefault("use_required_attribute", False)
        super().__init__(*args, **kwargs)
        self.fields["name"].label = _("Bezeichnung des neuen Standorts")

    def clean_latitude(self):
        value = self.cleaned_data.get("latitude")
        if value is not None and not -90 <= value <= 90:
            raise forms.ValidationError(_("Der Breitengrad liegt zwischen −90 und 90 (Berlin: etwa 52,5)."))
        return value

    def clean_longitude(self):
        value = self.cleaned_data.get("longitude")
        if value is not None and not -180 <= value <= 180:
            raise forms.ValidationError(_("Der Längengrad liegt zwischen −180 und 180 (Berlin: etwa 13,4)."))
        return value

    def _post_clean(self):
        super()._post_clean()
        message = gettext("Koordinaten: Breitengrad −90 bis 90 und Längengrad −180 bis 180, beide oder keiner.")
        errors = self._errors.get(forms.forms.NON_FIELD_ERRORS)
        if errors and message in errors:
            kept = [e for e in errors if e != message]
            if kept:
                self._errors[forms.forms.NON_FIELD_ERRORS] = self.error_class(kept, renderer=self.renderer)
            else:
                del self._errors[forms.forms.NON_FIELD_ERRORS]
            if "latitude" not in self._errors and "longitude" not in self._errors:
                self.add_error("longitude", _("Bitte Breiten- und Längengrad angeben oder beide leer lassen."))


class LocationForm(NewLocationForm):
    """An existing location: address and point (the region is found from the point)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", None)
        kwargs.setdefault("empty_permitted", False)
        kwargs.setdefault("use_required_attribute", True)
        super().__init__(*args, **kwargs)
        self.fields["name"].label = _("Bezeichnung")


class ServiceCloseForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Wie wird das Angebot geschlossen?"), choices=[(s.value, s.label) for s in CLOSED_STATUSES],
        widget=forms.RadioSelect(),
        help_text=_("„vorübergehend geschlossen“ z. B. in den Ferien oder während eines Umbaus (wird weiter "
                    "regelmäßig bestätigt), „inaktiv“ ruht auf unbestimmte Zeit, „eingestellt“ gibt es nicht mehr. "
                    "Öffentlich erscheinen nur aktive Angebote; der Status kann später wieder geändert werden."),
        error_messages={"required": _("Bitte wählen, wie das Angebot geschlossen wird."),
                        "invalid_choice": _("Bitte eine der angebotenen Möglichkeiten wählen.")},
    )


# --- Organisations ------------------------------------------------------------------------


class OrganizationForm(forms.ModelForm):
    """An organisation. ``full``: planners also set the kind and the parent;
    provider staff change everything else of their own organisation."""

    regions = RegionsField(
        label=_("aktiv in"),
        help_text=format_lazy("{} {}", _("Sozialräume, in denen die Organisation tätig ist."), MULTI_SELECT_HELP),
    )

    class Meta:
        model = Organization
        formfield_callback = formfield
        fields = ["name", "kind", "umbrella", "legal_form", "register_number", "parent", "description", "email",
                  "phone", "website", "street", "postal_code", "city", "regions"]
        field_classes = {"parent": OrganizationChoiceField}
        widgets = {
            "description": forms.Textarea(attrs={"rows": 5, "class": "prose"}),
            "email": forms.EmailInput(attrs={"autocomplete": "off"}),
            "phone": forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
            "website": forms.URLInput(attrs={"autocomplete": "off"}),
            "postal_code": forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "size": 6}),
        }
        error_messages = {
            "name": {"required": _("Bitte den Namen der Organisation angeben.")},
            "kind": {"required": _("Bitte die Art der Organisation wählen.")},
            "umbrella": {"required": _("Bitte den Dachverband wählen („keiner“, wenn keiner).")},
            "parent": {"invalid_choice": _("Bitte eine Organisation aus der Liste wählen.")},
            "email": {"invalid": _("Bitte eine gültige E-Mail-Adresse angeben, z. B. info@traeger.de.")},
            "website": {"invalid": _("Bitte eine vollständige Adresse angeben, z. B. https://www.traeger.de.")},
        }

    def __init__(self, *args, user, full: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not full:
            del self.fields["kind"]
            del self.fields["parent"]
        else:
            parent = self.fields["parent"]
            qs = Organization.objects.for_user(user, Action.VIEW).select_related("parent").only(
                "pk", "name", "parent__name")
            if self.instance.pk:
                qs = qs.exclude(pk=self.instance.pk)
            parent.queryset = qs
            parent.empty_label = _("– keine (selbstständige Organisation) –")
        self.fields["legal_form"].choices = [("", _("– nicht angegeben –")), *self.fields["legal_form"].choices[1:]]
        chosen = pk_list(self.initial.get("regions"))
        self.initial["regions"] = chosen
        self.fields["regions"].choices = region_choices(user, chosen)


# --- Memberships ---------------------------------------------------------------------------


class MembershipForm(forms.Form):
    """Add a user to an organisation by user name (planners)."""

    username = forms.CharField(
        label=_("Benutzername"), max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"}),
        error_messages={"required": _("Bitte den Benutzernamen angeben.")},
    )
    role = forms.ChoiceField(
        label=_("Rolle"), choices=MembershipRole.choices, initial=MembershipRole.EDITOR,
        error_messages={"required": _("Bitte die Rolle wählen."),
                        "invalid_choice": _("Bitte „bearbeiten“ oder „lesen“ wählen.")},
    )

    def __init__(self, *args, organization, **kwargs):
        kwargs.setdefault("prefix", "mitglied")
        super().__init__(*args, **kwargs)
        self.organization = organization

    def clean_username(self):
        username = self.cleaned_data["username"].strip()
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise forms.ValidationError(
                _("Es gibt keinen aktiven Benutzer mit dem Benutzernamen „%(name)s“."), params={"name": username})
        if Membership.objects.filter(user=user, organization=self.organization).exists():
            raise forms.ValidationError(
                _("%(name)s gehört dieser Organisation schon an; die Rolle wird in der Liste geändert."),
                params={"name": username})
        self.cleaned_data["user"] = user
        return username


class MembershipRoleForm(forms.Form):
    role = forms.ChoiceField(
        label=_("Rolle"), choices=MembershipRole.choices,
        error_messages={"required": _("Bitte die Rolle wählen."),
                        "invalid_choice": _("Bitte „bearbeiten“ oder „lesen“ wählen.")},
    )


class IntegrationTokenForm(forms.Form):
    """A new integration token. Planners choose any organisation or none (the
    token then has the planner's rights); provider editors one of the
    organisations they edit."""

    name = forms.CharField(label=_("Bezeichnung"), max_length=100,
                           help_text=_("Wofür der Zugang ist, z. B. „Fachsoftware Kita-Verwaltung“."))
    scope = forms.ChoiceField(label=_("Umfang"), choices=(), widget=forms.RadioSelect)
    organization = forms.ModelChoiceField(label=_("Organisation"), queryset=Organization.objects.none(),
                                          to_field_name="uuid")
    expires_on = forms.DateField(label=_("Gültig bis einschließlich"), required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}),
                                 help_text=_("Leer: gilt, bis er widerrufen wird."))

    def __init__(self, *args, user, **kwargs):
        from . import access
        from .models import TokenScope

        super().__init__(*args, **kwargs)
        self.fields["scope"].choices = TokenScope.choices
        self.fields["scope"].initial = TokenScope.READ
        orgs = Organization.objects.order_by("name")
        if access.is_planner(user):
            field = self.fields["organization"]
            field.queryset, field.required = orgs, False
            field.empty_label = gettext("keine – der Zugang hat Ihre Rechte als Planung")
            field.help_text = _("Mit Organisation handelt der Zugang nur als deren Bearbeiter (und ihrer "
                                "Zweigstellen), ohne Ihre Planungsrechte.")
        else:
            self.fields["organization"].queryset = orgs.filter(pk__in=access.organization_ids(user, editor=True))
            self.fields["organization"].help_text = _("Der Zugang handelt als Bearbeiter dieser Organisation.")

    def clean_expires_on(self):
        from django.utils import timezone

        day = self.cleaned_data["expires_on"]
        if day is not None and day < timezone.localdate():
            raise forms.ValidationError(_("Das Datum liegt in der Vergangenheit."))
        return day
