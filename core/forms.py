"""Forms of the core app: the import upload form, fields of action."""

import json

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from .imports import registry
from .models import FieldOfAction


def kind_choices():
    return [(kind, str(cls.label or kind)) for kind, cls in registry.kinds().items()]


def importer_profiles(importer_class) -> list[tuple[str, str]]:
    """Known profiles of an importer, if it offers the optional ``profiles`` hook
    (a classmethod or attribute giving ``[(name, label), …]``)."""
    hook = getattr(importer_class, "profiles", None)
    if hook is None:
        return []
    try:
        return list(hook() if callable(hook) else hook)
    except Exception:  # a broken hook must not break the upload page
        return []


class ImportForm(forms.Form):
    """Upload of one file for one import kind. Options are a JSON object; the
    profile field is merged into them as ``profile``."""

    kind = forms.ChoiceField(
        label=_("Art des Imports"),
        choices=(),
        error_messages={
            "required": _("Bitte die Art des Imports wählen."),
            "invalid_choice": _("Unbekannte Art des Imports."),
        },
    )
    file = forms.FileField(
        label=_("Datei"),
        help_text=_("CSV (Trennzeichen ; , Tab oder |, UTF-8 oder Windows-1252), XLSX oder GeoJSON."),
        error_messages={
            "required": _("Bitte eine Datei auswählen."),
            "empty": _("Die Datei ist leer."),
            "invalid": _("Keine gültige Datei übertragen."),
        },
    )
    profile = forms.CharField(
        label=_("Profil"),
        required=False,
        max_length=100,
        help_text=_("Name eines bekannten Dateiformats, z. B. berlin-lor (optional)."),
        widget=forms.TextInput(attrs={"list": "profile-list", "autocomplete": "off"}),
    )
    options = forms.CharField(
        label=_("Optionen (JSON)"),
        required=False,
        help_text=_('Ein JSON-Objekt, z. B. {"period": "2022-06-30"} (optional).'),
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
    )
    dry_run = forms.BooleanField(
        label=_("Probelauf"),
        required=False,
        help_text=_("Nur prüfen und zeigen, was sich ändern würde; nichts wird gespeichert."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", _("– bitte wählen –")), *kind_choices()]

    def clean_file(self):
        f = self.cleaned_data["file"]
        limit = settings.IMPORT_MAX_UPLOAD_BYTES
        if f is not None and f.size > limit:
            raise forms.ValidationError(
                _("Die Datei ist zu groß (%(size)s); erlaubt sind höchstens %(limit)s."),
                code="too_large",
                params={"size": filesizeformat(f.size), "limit": filesizeformat(limit)},
            )
        return f

    def clean_options(self):
        text = (self.cleaned_data.get("options") or "").strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except json.JSONDecodeError as e:
            raise forms.ValidationError(
                _("Kein gültiges JSON (Zeile %(line)s, Spalte %(col)s): %(msg)s"),
                code="invalid_json",
                params={"line": e.lineno, "col": e.colno, "msg": e.msg},
            ) from None
        if not isinstance(value, dict):
            raise forms.ValidationError(
                _('Die Optionen müssen ein JSON-Objekt sein, z. B. {"period": "2022"}.'), code="not_object"
            )
        return value

    def clean_profile(self):
        return (self.cleaned_data.get("profile") or "").strip()

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind")
        options = cleaned.get("options")
        if not kind or options is None or "options" in self.errors:
            return cleaned
        options = dict(options)
        profile = cleaned.get("profile")
        if profile:
            if options.get("profile") and options["profile"] != profile:
                self.add_error(
                    "profile", _("Das Profil steht auch in den Optionen, dort mit anderem Namen.")
                )
                return cleaned
            options["profile"] = profile
        # Let the importer check its options now (e.g. an unknown profile), so the
        # user sees the problem on the form rather than as a failed run.
        try:
            registry.get(kind)(user=None, options=dict(options))
        except (ValueError, TypeError, KeyError) as e:
            field = "profile" if "profile" in options else "options"
            self.add_error(field, str(e))
        cleaned["options"] = options
        return cleaned

    def importer_help(self):
        """[(kind, label, option_help items, profiles)] for the help section."""
        out = []
        for kind, cls in registry.kinds().items():
            out.append(
                {
                    "kind": kind,
                    "label": cls.label or kind,
                    "options": sorted((getattr(cls, "option_help", None) or {}).items()),
                    "profiles": importer_profiles(cls),
                }
            )
        return out

    def all_profiles(self):
        seen = {}
        for cls in registry.kinds().values():
            for name, label in importer_profiles(cls):
                seen.setdefault(name, label)
        return sorted(seen.items())


# --- Fields of action ----------------------------------------------------------------


class FieldOfActionParentField(forms.ModelChoiceField):
    """The parent choice as an indented tree (planners see where a field sits)."""

    def label_from_instance(self, obj):
        label = "\u2003" * obj.depth + obj.name  # em spaces: the indent survives in <option>
        return label if obj.active else _("%(name)s (inaktiv)") % {"name": label}


class FieldOfActionForm(forms.ModelForm):
    """Create or change a field of action. The key is fixed once created; the
    parent list leaves out the field itself and its sub-fields (the model
    refuses cycles and more than three levels anyway)."""

    class Meta:
        model = FieldOfAction
        fields = ["name", "key", "parent", "legal_basis", "description", "order", "active"]
        field_classes = {"parent": FieldOfActionParentField}
        error_messages = {
            "name": {"required": _("Bitte einen Namen angeben.")},
            "key": {
                "required": _("Bitte einen Schlüssel angeben, z. B. kjh-hze."),
                "invalid": _("Nur Kleinbuchstaben (a–z), Ziffern und einzelne Bindestriche, z. B. kjh-hze."),
            },
            "order": {
                "invalid": _("Bitte eine ganze Zahl angeben."),
                "min_value": _("Bitte eine Zahl ab 0 angeben."),
            },
            "parent": {"invalid_choice": _("Bitte ein Handlungsfeld aus der Liste wählen.")},
        }
        widgets = {
            "description": forms.Textarea(attrs={"rows": 4}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        model = self._meta.model
        parents = model.objects.tree_order()
        if self.instance.pk is not None:
            parents = parents.exclude(path__startswith=self.instance.path)
            self.fields["key"].disabled = True
            self.fields["key"].help_text = _("Der Schlüssel bleibt unverändert (Schnittstellen verweisen darauf).")
        parent = self.fields["parent"]
        parent.queryset = parents
        parent.empty_label = _("– keines (oberste Ebene) –")
        parent.help_text = _("Leer lassen für ein Handlungsfeld der obersten Ebene.")
