"""Forms of the conflict-case pages: raising a case and closing it (German UI).

The workflow itself (eligibility, steps, deadlines) is in
``cooperation.conflicts``; these forms only collect and check the input.
"""

from django import forms
from django.utils.translation import gettext_lazy as _

from .choices import ConflictStatus

CLOSING_STATUSES = (ConflictStatus.RESOLVED, ConflictStatus.MEDIATED, ConflictStatus.UNRESOLVED)


class ConflictCaseForm(forms.Form):
    """Raise a conflict for one of ``organizations`` (those the user may raise
    it for under the agreement or network, see ``eligible_organizations``)."""

    organization = forms.ModelChoiceField(
        label=_("Eingebracht von"), queryset=None, empty_label=None,
        help_text=_("Die beteiligte Organisation, für die Sie den Konflikt einbringen."),
        error_messages={"required": _("Bitte die Organisation wählen."),
                        "invalid_choice": _("Bitte eine der angebotenen Organisationen wählen.")},
    )
    subject = forms.CharField(
        label=_("Gegenstand"), max_length=200,
        help_text=_("Worum geht es, in einer Zeile (z. B. „Zuständigkeit für Hausbesuche“)."),
        error_messages={"required": _("Bitte den Gegenstand angeben."),
                        "max_length": _("Höchstens %(limit_value)d Zeichen (jetzt %(show_value)d).")},
    )
    description = forms.CharField(
        label=_("Beschreibung"), widget=forms.Textarea(attrs={"rows": 8, "class": "prose"}),
        help_text=_("Sachlich, keine personenbezogenen Daten von Klientinnen und Klienten."),
        error_messages={"required": _("Bitte den Konflikt beschreiben.")},
    )

    def __init__(self, *args, organizations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = organizations
        for name in ("subject", "description"):
            self.fields[name].widget.attrs.setdefault("autocomplete", "off")


class ConflictCloseForm(forms.Form):
    """How the case ends, and its outcome (required)."""

    status = forms.ChoiceField(
        label=_("Abschluss"), choices=[(s.value, s.label) for s in CLOSING_STATUSES], widget=forms.RadioSelect(),
        error_messages={"required": _("Bitte wählen, wie der Konfliktfall endet."),
                        "invalid_choice": _("Bitte eine der angebotenen Möglichkeiten wählen.")},
    )
    outcome = forms.CharField(
        label=_("Ergebnis"), widget=forms.Textarea(attrs={"rows": 5, "class": "prose"}),
        help_text=_("Was wurde vereinbart oder warum endet der Fall ohne Einigung? Sachlich, keine "
                    "personenbezogenen Daten von Klientinnen und Klienten."),
        error_messages={"required": _("Bitte das Ergebnis angeben.")},
    )
