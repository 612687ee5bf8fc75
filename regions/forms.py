"""Forms of the regions app: a composite index with inline formsets for its
components and classes (German labels from the models, per-field errors)."""

from django import forms
from django.core.exceptions import ValidationError
from django.forms import BaseInlineFormSet, inlineformset_factory
from django.utils.translation import gettext_lazy as _

from .indices import class_problems, component_problems
from .models import CompositeIndex, IndexClass, IndexComponent, Indicator, Region, RegionLevel


class CompositeIndexForm(forms.ModelForm):
    scope_ancestor = forms.ModelChoiceField(
        queryset=Region.objects.all(), to_field_name="code", required=False, label=_("innerhalb von (Schlüssel)"),
        help_text=_("Optional: nur die Räume unterhalb dieses Raums, z. B. 01 für einen Bezirk."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        error_messages={"invalid_choice": _("Unbekannter Raumschlüssel.")},
    )

    class Meta:
        model = CompositeIndex
        fields = ["name", "key", "kind", "description", "scope_level", "scope_ancestor", "exclude_indicator",
                  "exclude_below", "restandardise"]
        widgets = {"description": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["scope_level"].queryset = RegionLevel.objects.all()
        self.fields["exclude_indicator"].queryset = Indicator.objects.order_by("name")
        self.fields["exclude_indicator"].empty_label = _("– kein Ausschluss –")
        self.fields["scope_level"].empty_label = _("– bitte wählen –")
        if self.instance.pk and self.instance.scope_ancestor_id:
            self.initial["scope_ancestor"] = self.instance.scope_ancestor.code


class IndexComponentForm(forms.ModelForm):
    class Meta:
        model = IndexComponent
        fields = ["indicator", "weight", "standardise", "invert", "order"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["indicator"].queryset = Indicator.objects.order_by("name")
        self.fields["indicator"].empty_label = _("– Indikator wählen –")

    def clean_weight(self):
        weight = self.cleaned_data.get("weight")
        if weight is not None and weight <= 0:
            raise ValidationError(_("Das Gewicht muss größer als 0 sein (die Richtung kehrt „umkehren“ um)."))
        return weight


class BaseComponentFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        if any(self.errors):
            return
        indicators = [
            f.cleaned_data["indicator"] for f in self.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE") and f.cleaned_data.get("indicator")
        ]
        problems = component_problems(self.instance if self.instance.pk else None, indicators)
        if problems:
            raise ValidationError(problems)


class IndexClassForm(forms.ModelForm):
    class Meta:
        model = IndexClass
        fields = ["label", "lower", "lower_inclusive", "upper", "upper_inclusive", "order"]

    def clean(self):
        data = super().clean()
        lower, upper = data.get("lower"), data.get("upper")
        if lower is not None and upper is not None and (
            lower > upper or (lower == upper and not (data.get("lower_inclusive") and data.get("upper_inclusive")))
        ):
            self.add_error("upper", _("Die Obergrenze muss über der Untergrenze liegen."))
        return data


class BaseClassFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        if any(self.errors):
            return
        classes = [
            f.cleaned_data for f in self.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE") and f.cleaned_data.get("label")
        ]
        problems = class_problems(classes)
        if problems:
            raise ValidationError(problems)


IndexComponentFormSet = inlineformset_factory(
    CompositeIndex, IndexComponent, form=IndexComponentForm, formset=BaseComponentFormSet, extra=2, min_num=1,
    validate_min=True, can_delete=True,
)
IndexClassFormSet = inlineformset_factory(
    CompositeIndex, IndexClass, form=IndexClassForm, formset=BaseClassFormSet, extra=2, can_delete=True,
)


class IndexComputeForm(forms.Form):
    period = forms.RegexField(
        label=_("Zeitraum"), regex=r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$", max_length=10,
        error_messages={"invalid": _("Zeitraum muss JJJJ, JJJJ-MM oder JJJJ-MM-TT sein."),
                        "required": _("Bitte einen Zeitraum angeben.")},
        widget=forms.TextInput(attrs={"list": "period-list", "autocomplete": "off"}),
    )
