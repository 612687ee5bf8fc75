"""Agreements, networks, need reports, planning processes and conflict cases in
the API (issue 5). Related objects by natural keys as in ``serializers``:
agreements, networks, meetings, need reports, planning processes,
organisations and offerings by ``uuid``, fields of action, indicators and
indices by ``key``, regions by ``code``, users by ``username``.

Which related objects a user may name is scoped with ``for_user`` like
everything else (``ScopedSlugRelatedField``): what a user may not see "does not
exist" (400 on that field), and what they see but may not change is refused
with a German message. Workflow steps (transitions, confirmations, triage,
phases, SWOT contributions, conflicts) go through the functions of
``cooperation.agreements``, ``.documents``, ``.needs``, ``.planning`` and
``.conflicts``; their German messages are passed on as 400.
"""

import copy

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from core.access import Action
from core.models import FieldOfAction
from regions.models import CompositeIndex, Indicator, Region

from .. import access
from ..choices import (
    AgreementStatus,
    ConflictStatus,
    DocumentKind,
    GoalStatus,
    NeedStatus,
    NetworkKind,
    PlanningPhase,
)
from ..models import (
    Agreement,
    AgreementDocument,
    AgreementParty,
    ConflictCase,
    EscalationStep,
    Goal,
    Meeting,
    MeetingTask,
    NeedReport,
    Network,
    NetworkMember,
    Organization,
    PlanningDecision,
    PlanningParticipant,
    PlanningProcess,
    Service,
    SwotEntry,
)
from .serializers import AtomicModelSerializer, ScopedSlugRelatedField, refuse_move

# --- helpers -------------------------------------------------------------------------------


def django_errors(error: DjangoValidationError) -> dict | list:
    """A Django ValidationError as a DRF error body (``__all__`` → ``non_field_errors``)."""
    if hasattr(error, "error_dict"):
        return {("non_field_errors" if k == NON_FIELD_ERRORS else k): v for k, v in error.message_dict.items()}
    return {"non_field_errors": error.messages}


def model_checks(serializer, attrs):
    """The model's ``clean()`` and its database constraints (unique, check) on
    the instance with ``attrs`` applied (not saved): the API gives the same
    German messages as the pages, never an IntegrityError."""
    model = serializer.Meta.model
    probe = copy.copy(serializer.instance) if serializer.instance is not None else model()
    for name, value in attrs.items():
        field = next((f for f in model._meta.get_fields() if f.name == name), None)
        if field is not None and not field.many_to_many and not field.one_to_many:
            setattr(probe, name, value)
    try:
        probe.clean()
        probe.validate_constraints()
    except DjangoValidationError as e:
        raise serializers.ValidationError(django_errors(e)) from e


def current(serializer, attrs, name):
    """The value of ``name`` after this write (given, else the instance's)."""
    if name in attrs:
        return attrs[name]
    return getattr(serializer.instance, name, None) if serializer.instance is not None else None


def refuse_change(serializer, attrs, names, message):
    """``names`` are set on creation and stay (400 on a changed one)."""
    if serializer.instance is None:
        return
    errors = {n: [message] for n in names if n in attrs and attrs[n] != getattr(serializer.instance, n)}
    if errors:
        raise serializers.ValidationError(errors)


def user_of(serializer):
    return serializer.context["request"].user


class ModelChecksSerializer(AtomicModelSerializer):
    """Validation by the model (``model_checks``) instead of DRF's generated
    uniqueness validators (whose messages are English and which make nullable
    fields of a constraint required)."""

    def validate(self, attrs):
        attrs = super().validate(attrs)
        model_checks(self, attrs)
        return attrs


def organization_field(**kwargs):
    """Any organisation by uuid (names of organisations are public in the directory;
    a network coordinator must be able to invite others)."""
    kwargs.setdefault("help_text", _("UUID der Organisation."))
    return serializers.SlugRelatedField(slug_field="uuid", queryset=Organization.objects.all(), **kwargs)


def name_of(source):
    return serializers.CharField(source=f"{source}.name", read_only=True, allow_null=True)


def regions_field(**kwargs):
    return serializers.SlugRelatedField(many=True, slug_field="code", queryset=Region.objects.all(),
                                        help_text=_("Schlüssel der Räume."), **kwargs)


def fields_field(**kwargs):
    return serializers.SlugRelatedField(many=True, slug_field="key", queryset=FieldOfAction.objects.all(),
                                        help_text=_("Schlüssel der Handlungsfelder."), **kwargs)


# --- agreements ------------------------------------------------------------------------------


class AgreementSerializer(ModelChecksSerializer):
    regions = regions_field(required=False)
    fields = fields_field(required=False)
    services = ScopedSlugRelatedField(model=Service, slug_field="uuid", keep_current=True, many=True, required=False,
                                      help_text=_("UUIDs der erfassten Angebote."))

    class Meta:
        model = Agreement
        fields = ["uuid", "title", "kind", "status", "regions", "fields", "services", "valid_from", "valid_until",
                  "goals", "review_interval_months", "next_review", "public", "created_at", "updated_at"]
        read_only_fields = ["uuid", "status", "created_at", "updated_at"]
        validators = []


class AgreementTransitionSerializer(serializers.Serializer):
    to = serializers.ChoiceField(choices=AgreementStatus.choices, help_text=_("Der neue Status."))


class HistoryChangeSerializer(serializers.Serializer):
    field = serializers.CharField()
    old = serializers.JSONField(allow_null=True)
    new = serializers.JSONField(allow_null=True)


class HistoryEventSerializer(serializers.Serializer):
    when = serializers.DateTimeField()
    action = serializers.ChoiceField(choices=[("insert", "insert"), ("update", "update"), ("delete", "delete")])
    user = serializers.CharField(allow_null=True, help_text=_("Benutzername (leer: System)."))
    changes = HistoryChangeSerializer(many=True)


class HistorySerializer(serializers.Serializer):
    events = HistoryEventSerializer(many=True, help_text=_("Die letzten Änderungen, neueste zuerst."))


PARTY_OWN_FIELDS = ("responsibilities", "contact", "availability")


class AgreementPartySerializer(ModelChecksSerializer):
    """Planners write every field; the party's own editors keep its
    responsibilities and reachability current (``PARTY_OWN_FIELDS``): any other
    changed field is refused with 400 naming it."""

    agreement = ScopedSlugRelatedField(model=Agreement, action=Action.CHANGE, slug_field="uuid", keep_current=True,
                                       help_text=_("UUID der Vereinbarung."))
    organization = organization_field()
    organization_name = name_of("organization")
    confirmed_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = AgreementParty
        fields = ["id", "agreement", "organization", "organization_name", "role", "responsibilities", "contact",
                  "availability", "budget_share", "work_modes", "confirmed_at", "confirmed_by"]
        read_only_fields = ["confirmed_at"]
        validators = []

    def validate(self, attrs):
        refuse_change(self, attrs, ["agreement"], _("Eine Partei wechselt nicht die Vereinbarung."))
        if self.instance is not None and not access.is_planner(user_of(self)):
            errors = {name: [_("Das ändert nur die Planung; die Partei selbst pflegt „Verantwortlich für“ und "
                               "die Erreichbarkeit.")]
                      for name, value in attrs.items()
                      if name not in PARTY_OWN_FIELDS and value != getattr(self.instance, name)}
            if errors:
                raise serializers.ValidationError(errors)
        return super().validate(attrs)


class EscalationStepSerializer(ModelChecksSerializer):
    agreement = ScopedSlugRelatedField(model=Agreement, action=Action.CHANGE, slug_field="uuid", keep_current=True,
                                       allow_null=True, required=False,
                                       help_text=_("UUID der Vereinbarung (oder „network“ angeben)."))
    network = ScopedSlugRelatedField(model=Network, action=Action.CHANGE, slug_field="uuid", keep_current=True,
                                     allow_null=True, required=False,
                                     help_text=_("UUID des Netzwerks (oder „agreement“ angeben)."))

    class Meta:
        model = EscalationStep
        fields = ["id", "agreement", "network", "order", "handled_by", "days"]
        validators = []

    def validate(self, attrs):
        if current(self, attrs, "agreement") is None and current(self, attrs, "network") is None:
            raise serializers.ValidationError(
                {"agreement": [_("Eine Stufe gehört zu einer Vereinbarung oder einem Netzwerk.")]})
        return super().validate(attrs)


class AgreementDocumentSerializer(serializers.ModelSerializer):
    agreement = serializers.SlugRelatedField(slug_field="uuid", read_only=True)
    download_url = serializers.SerializerMethodField(help_text=_("Die Datei (nur für, wer die Vereinbarung sieht)."))

    class Meta:
        model = AgreementDocument
        fields = ["uuid", "agreement", "title", "kind", "original_name", "content_type", "size", "download_url",
                  "created_at", "updated_at"]
        read_only_fields = fields

    def get_download_url(self, obj) -> str:
        return reverse("api:agreement-document-download", kwargs={"uuid": obj.uuid},
                       request=self.context.get("request"))


def may_upload(user, agreement) -> bool:
    """Planners and the editors of a party of the agreement add documents."""
    if Agreement.objects.for_user(user, Action.CHANGE).filter(pk=agreement.pk).exists():
        return True
    return AgreementParty.objects.filter(
        agreement=agreement, organization_id__in=access.organization_ids(user, editor=True)).exists()


class AgreementDocumentUploadSerializer(serializers.Serializer):
    """The upload (multipart/form-data): the file is checked by its content
    (PDF, DOCX, XLSX, ODT, ODS, PNG, JPEG) and its size."""

    agreement = ScopedSlugRelatedField(model=Agreement, slug_field="uuid", help_text=_("UUID der Vereinbarung."))
    file = serializers.FileField(write_only=True)
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="",
                                  help_text=_("Leer: der Dateiname."))
    kind = serializers.ChoiceField(choices=DocumentKind.choices, default=DocumentKind.CONTRACT)

    def validate_agreement(self, agreement):
        if not may_upload(user_of(self), agreement):
            raise serializers.ValidationError(
                _("Dokumente laden die Planung und die Parteien der Vereinbarung hoch."))
        return agreement

    def create(self, validated_data):
        from ..documents import add_document

        try:
            return add_document(validated_data["agreement"], validated_data["file"], title=validated_data["title"],
                                kind=validated_data["kind"], user=user_of(self))
        except DjangoValidationError as e:
            raise serializers.ValidationError(django_errors(e)) from e

    def to_representation(self, instance):
        return AgreementDocumentSerializer(instance, context=self.context).data


class AttainmentSerializer(serializers.Serializer):
    """How far a goal is reached (``cooperation.goals``)."""

    baseline_period = serializers.CharField(allow_null=True)
    baseline = serializers.DecimalField(max_digits=None, decimal_places=None, allow_null=True)
    current_period = serializers.CharField(allow_null=True)
    current = serializers.DecimalField(max_digits=None, decimal_places=None, allow_null=True)
    target = serializers.DecimalField(max_digits=None, decimal_places=None)
    progress = serializers.DecimalField(max_digits=None, decimal_places=1, allow_null=True,
                                        help_text=_("Fortschritt vom Ausgangs- zum Zielwert in Prozent."))
    status = serializers.ChoiceField(choices=GoalStatus.choices)
    status_label = serializers.CharField()


class GoalSerializer(ModelChecksSerializer):
    """An outcome goal with its attainment. The list computes the attainment of
    a whole page at once (``cooperation.goals.attainments``) and sets it on each
    goal as ``attainment``; a single goal is computed on its own."""

    agreement = ScopedSlugRelatedField(model=Agreement, action=Action.CHANGE, slug_field="uuid", keep_current=True,
                                       help_text=_("UUID der Vereinbarung."))
    indicator = serializers.SlugRelatedField(slug_field="key", queryset=Indicator.objects.all(),
                                             help_text=_("Schlüssel des Indikators."))
    region = serializers.SlugRelatedField(slug_field="code", queryset=Region.objects.all(),
                                          help_text=_("Schlüssel des Raums."))
    attainment = AttainmentSerializer(read_only=True)

    class Meta:
        model = Goal
        fields = ["id", "agreement", "title", "indicator", "region", "baseline_period", "target_value", "target_date",
                  "attainment", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        validators = []

    def to_representation(self, instance):
        if "attainment" not in instance.__dict__:
            from ..goals import attainments

            instance.attainment = attainments([instance])[instance.pk]
        return super().to_representation(instance)


# --- networks and meetings ---------------------------------------------------------------------


def network_organization_ids(network) -> set[int]:
    ids = set(NetworkMember.objects.filter(network_id=network.pk).values_list("organization_id", flat=True))
    if network.coordinator_id:
        ids.add(network.coordinator_id)
    return ids


class NetworkSerializer(ModelChecksSerializer):
    regions = regions_field(required=False)
    fields = fields_field(required=False)
    coordinator = organization_field(allow_null=True, required=False)
    coordinator_name = name_of("coordinator")

    class Meta:
        model = Network
        fields = ["uuid", "name", "kind", "description", "regions", "fields", "coordinator", "coordinator_name",
                  "cadence", "contact", "public", "active", "created_at", "updated_at"]
        read_only_fields = ["uuid", "created_at", "updated_at"]
        validators = []

    def validate_coordinator(self, coordinator):
        refuse_move(self, "coordinator", coordinator, _("Die koordinierende Organisation bestimmt die Planung."))
        return coordinator


class NetworkMemberSerializer(ModelChecksSerializer):
    network = ScopedSlugRelatedField(model=Network, action=Action.CHANGE, slug_field="uuid", keep_current=True,
                                     help_text=_("UUID des Netzwerks (eines, das Sie pflegen dürfen)."))
    organization = organization_field()
    organization_name = name_of("organization")

    class Meta:
        model = NetworkMember
        fields = ["id", "network", "organization", "organization_name", "role", "responsibilities"]
        validators = []

    def validate(self, attrs):
        refuse_change(self, attrs, ["network", "organization"],
                      _("Netzwerk und Organisation eines Mitglieds bleiben; bitte ein neues Mitglied anlegen."))
        return super().validate(attrs)


MEETING_YEARS = (1900, 2200)


class MeetingSerializer(ModelChecksSerializer):
    """Attendees are organisations of the network (members, coordinator).
    Case counts (``cases_discussed``, ``case_fields``) only for case
    conferences, and anonymous."""

    network = ScopedSlugRelatedField(model=Network, action=Action.CHANGE, slug_field="uuid", keep_current=True,
                                     help_text=_("UUID des Netzwerks (eines, das Sie pflegen dürfen)."))
    attendees = serializers.SlugRelatedField(many=True, slug_field="uuid", queryset=Organization.objects.all(),
                                             required=False, help_text=_("UUIDs der anwesenden Organisationen."))
    case_fields = serializers.SlugRelatedField(
        many=True, slug_field="key", queryset=FieldOfAction.objects.all(), required=False,
        help_text=_("Nur bei Fallkonferenzen: Handlungsfelder der beratenen Fälle."))

    class Meta:
        model = Meeting
        fields = ["uuid", "network", "starts_at", "place", "agenda", "decisions", "attendees", "cases_discussed",
                  "case_fields", "created_at", "updated_at"]
        read_only_fields = ["uuid", "created_at", "updated_at"]
        validators = []

    def validate_starts_at(self, starts_at):
        # before 1893 Berlin's local time had an offset in seconds (LMT), which is no valid ISO 8601 answer
        if not MEETING_YEARS[0] <= starts_at.year <= MEETING_YEARS[1]:
            raise serializers.ValidationError(_("Bitte einen Beginn zwischen %(first)d und %(last)d angeben.")
                                              % {"first": MEETING_YEARS[0], "last": MEETING_YEARS[1]})
        return starts_at

    def validate(self, attrs):
        refuse_change(self, attrs, ["network"], _("Eine Sitzung wechselt nicht das Netzwerk."))
        network = current(self, attrs, "network")
        if network.kind != NetworkKind.CASE_CONFERENCE:
            message = _("Anzahl und Handlungsfelder beratener Fälle werden nur bei Fallkonferenzen erfasst; "
                        "dieses Netzwerk ist eine „%(kind)s“.") % {"kind": network.get_kind_display()}
            errors = {}
            if attrs.get("cases_discussed") is not None:
                errors["cases_discussed"] = [message]
            if attrs.get("case_fields"):
                errors["case_fields"] = [message]
            if errors:
                raise serializers.ValidationError(errors)
        if attrs.get("attendees"):
            allowed = network_organization_ids(network)
            if self.instance is not None:
                allowed |= set(self.instance.attendees.values_list("pk", flat=True))
            strangers = [str(o.uuid) for o in attrs["attendees"] if o.pk not in allowed]
            if strangers:
                raise serializers.ValidationError({"attendees": [
                    _("Bitte nur Organisationen des Netzwerks wählen (nicht: %(uuids)s).") % {
                        "uuids": ", ".join(strangers)}]})
        return super().validate(attrs)


class MeetingTaskSerializer(ModelChecksSerializer):
    meeting = ScopedSlugRelatedField(model=Meeting, action=Action.CHANGE, slug_field="uuid", keep_current=True,
                                     help_text=_("UUID der Sitzung."))
    network = serializers.SlugRelatedField(source="meeting.network", slug_field="uuid", read_only=True)
    responsible = organization_field(help_text=_("UUID der verantwortlichen Organisation (eine des Netzwerks)."))
    responsible_name = name_of("responsible")

    class Meta:
        model = MeetingTask
        fields = ["id", "meeting", "network", "title", "responsible", "responsible_name", "due", "done_at",
                  "created_at", "updated_at"]
        read_only_fields = ["done_at", "created_at", "updated_at"]
        validators = []

    def validate(self, attrs):
        refuse_change(self, attrs, ["meeting"], _("Eine Aufgabe wechselt nicht die Sitzung."))
        responsible = attrs.get("responsible")
        if responsible is not None and (self.instance is None or responsible.pk != self.instance.responsible_id):
            if responsible.pk not in network_organization_ids(current(self, attrs, "meeting").network):
                raise serializers.ValidationError({"responsible": [_("Bitte eine Organisation des Netzwerks wählen.")]})
        return super().validate(attrs)


class TaskDoneSerializer(serializers.Serializer):
    done = serializers.BooleanField(default=True, help_text=_("false: wieder offen."))


# --- need reports ------------------------------------------------------------------------------


class NeedReportSerializer(ModelChecksSerializer):
    reporter = ScopedSlugRelatedField(model=Organization, action=Action.CHANGE, slug_field="uuid", keep_current=True,
                                      help_text=_("UUID der meldenden Organisation (eine, die Sie bearbeiten dürfen)."))
    reporter_name = name_of("reporter")
    region = serializers.SlugRelatedField(slug_field="code", queryset=Region.objects.all(),
                                          help_text=_("Schlüssel des Raums."))
    field = serializers.SlugRelatedField(slug_field="key", queryset=FieldOfAction.objects.all(),
                                         help_text=_("Schlüssel des Handlungsfelds."))
    triaged_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    next_statuses = serializers.SerializerMethodField(help_text=_("Wohin die Planung die Meldung bewegen kann."))

    class Meta:
        model = NeedReport
        fields = ["uuid", "reporter", "reporter_name", "region", "field", "title", "description", "evidence",
                  "status", "decline_reason", "triaged_at", "triaged_by", "next_statuses", "created_at",
                  "updated_at"]
        read_only_fields = ["uuid", "status", "decline_reason", "triaged_at", "created_at", "updated_at"]
        validators = []

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=NeedStatus.choices)))
    def get_next_statuses(self, obj):
        from ..needs import next_statuses

        return next_statuses(obj)

    def validate_reporter(self, reporter):
        refuse_move(self, "reporter", reporter, _("Nur die Planung ordnet eine Meldung einer anderen Organisation zu."))
        return reporter

    def validate_field(self, field):
        if not field.active and (self.instance is None or self.instance.field_id != field.pk):
            raise serializers.ValidationError(_("Das Handlungsfeld ist nicht mehr aktiv."))
        return field


class TriageSerializer(serializers.Serializer):
    to = serializers.ChoiceField(choices=NeedStatus.choices, help_text=_("Der neue Status."))
    reason = serializers.CharField(required=False, allow_blank=True, default="",
                                   help_text=_("Begründung (bei einer Ablehnung nötig)."))
    process = ScopedSlugRelatedField(model=PlanningProcess, slug_field="uuid", required=False, allow_null=True,
                                     default=None, help_text=_("Bei „in die Planung übernommen“: UUID des "
                                                               "Planungsprozesses, dem die Meldung zugeordnet wird."))


# --- planning processes ---------------------------------------------------------------------------


class PlanningProcessSerializer(ModelChecksSerializer):
    regions = regions_field(allow_empty=False)
    fields = fields_field(allow_empty=False)
    indicators = serializers.SlugRelatedField(many=True, slug_field="key", queryset=Indicator.objects.all(),
                                              required=False, help_text=_("Schlüssel der Indikatoren."))
    indices = serializers.SlugRelatedField(many=True, slug_field="key", queryset=CompositeIndex.objects.all(),
                                           required=False, help_text=_("Schlüssel der Indizes."))
    need_reports = ScopedSlugRelatedField(model=NeedReport, slug_field="uuid", keep_current=True, many=True,
                                          required=False, help_text=_("UUIDs der Bedarfsmeldungen."))

    class Meta:
        model = PlanningProcess
        fields = ["uuid", "title", "regions", "fields", "phase", "closed", "mandate_goals", "mandate_actors",
                  "mandate_provider_ask", "mandate_provider_join", "mandate_provider_coordination", "indicators",
                  "indices", "need_reports", "created_at", "updated_at"]
        read_only_fields = ["uuid", "phase", "closed", "created_at", "updated_at"]
        validators = []


class PhaseSerializer(serializers.Serializer):
    to = serializers.ChoiceField(choices=PlanningPhase.choices, help_text=_("Die vorige oder die nächste Phase."))


class CloseProcessSerializer(serializers.Serializer):
    reopen = serializers.BooleanField(default=False, help_text=_("true: wieder öffnen."))


class PlanningParticipantSerializer(ModelChecksSerializer):
    process = ScopedSlugRelatedField(model=PlanningProcess, action=Action.CHANGE, slug_field="uuid",
                                     keep_current=True, help_text=_("UUID des Planungsprozesses."))
    organization = organization_field()
    organization_name = name_of("organization")

    class Meta:
        model = PlanningParticipant
        fields = ["id", "process", "organization", "organization_name", "role", "joins_in"]
        validators = []

    def validate(self, attrs):
        refuse_change(self, attrs, ["process", "organization"],
                      _("Prozess und Organisation einer Beteiligung bleiben; bitte eine neue anlegen."))
        return super().validate(attrs)


class SwotEntrySerializer(ModelChecksSerializer):
    """Created through ``cooperation.planning.add_swot`` (participating
    organisations, not once the process is closed); afterwards only quadrant and
    text change."""

    process = ScopedSlugRelatedField(model=PlanningProcess, slug_field="uuid", keep_current=True,
                                     help_text=_("UUID des Planungsprozesses."))
    organization = organization_field(help_text=_("UUID der beteiligten Organisation, für die Sie beitragen."))
    organization_name = name_of("organization")

    class Meta:
        model = SwotEntry
        fields = ["id", "process", "organization", "organization_name", "quadrant", "text", "created_at",
                  "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        validators = []

    def validate(self, attrs):
        refuse_change(self, attrs, ["process", "organization"],
                      _("Prozess und Organisation eines Beitrags bleiben; bitte einen neuen anlegen."))
        if self.instance is not None and self.instance.process.closed:
            raise serializers.ValidationError({"non_field_errors": [_("Der Planungsprozess ist abgeschlossen.")]})
        if self.instance is None:
            return attrs  # checked by add_swot
        return super().validate(attrs)

    def create(self, validated_data):
        from ..planning import PlanningError, add_swot

        try:
            return add_swot(validated_data["process"], validated_data["organization"], validated_data["quadrant"],
                            validated_data["text"], user_of(self))
        except PlanningError as e:
            raise serializers.ValidationError({"non_field_errors": [str(e)]}) from e
        except DjangoValidationError as e:
            raise serializers.ValidationError(django_errors(e)) from e


class PlanningDecisionSerializer(ModelChecksSerializer):
    process = ScopedSlugRelatedField(model=PlanningProcess, action=Action.CHANGE, slug_field="uuid",
                                     keep_current=True, help_text=_("UUID des Planungsprozesses."))
    agreement = ScopedSlugRelatedField(model=Agreement, slug_field="uuid", keep_current=True, allow_null=True,
                                       required=False, help_text=_("UUID der daraus entstandenen Vereinbarung."))
    responsible = organization_field(allow_null=True, required=False)
    responsible_name = name_of("responsible")

    class Meta:
        model = PlanningDecision
        fields = ["id", "process", "decided_on", "kind", "text", "agreement", "responsible", "responsible_name",
                  "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        validators = []

    def validate(self, attrs):
        refuse_change(self, attrs, ["process"], _("Ein Beschluss wechselt nicht den Planungsprozess."))
        return super().validate(attrs)


# --- conflict cases ----------------------------------------------------------------------------------


class EscalationStepBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = EscalationStep
        fields = ["id", "order", "handled_by", "days"]
        read_only_fields = fields


class ConflictCaseSerializer(ModelChecksSerializer):
    """Raised through ``cooperation.conflicts.raise_conflict`` under an agreement
    or a network (one of them) for an organisation taking part in it (for
    which the user is an editor; planners for any). Afterwards only subject and
    description change; steps and closing are actions."""

    agreement = ScopedSlugRelatedField(model=Agreement, slug_field="uuid", keep_current=True, allow_null=True,
                                       required=False, help_text=_("UUID der Vereinbarung (oder „network“)."))
    network = ScopedSlugRelatedField(model=Network, slug_field="uuid", keep_current=True, allow_null=True,
                                     required=False, help_text=_("UUID des Netzwerks (oder „agreement“)."))
    organization = organization_field(write_only=True, required=False,
                                      help_text=_("Beim Anlegen: UUID der Organisation, die den Konflikt einbringt."))
    raised_by = serializers.SlugRelatedField(slug_field="uuid", read_only=True)
    raised_by_name = name_of("raised_by")
    step = EscalationStepBriefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = ConflictCase
        fields = ["uuid", "agreement", "network", "organization", "raised_by", "raised_by_name", "subject",
                  "description", "status", "step", "step_started", "step_due", "outcome", "closed_at", "created_at",
                  "updated_at"]
        read_only_fields = ["uuid", "status", "step_started", "step_due", "outcome", "closed_at", "created_at",
                            "updated_at"]
        validators = []

    def validate(self, attrs):
        if self.instance is not None:
            refuse_change(self, attrs, ["agreement", "network"],
                          _("Ein Konfliktfall wechselt nicht die Vereinbarung oder das Netzwerk."))
            if attrs.get("organization") is not None and attrs["organization"] != self.instance.raised_by:
                raise serializers.ValidationError({"organization": [
                    _("Wer den Konflikt eingebracht hat, bleibt.")]})
            attrs.pop("organization", None)
            return super().validate(attrs)
        errors = {}
        if (attrs.get("agreement") is None) == (attrs.get("network") is None):
            errors["agreement"] = [_("Ein Konflikt gehört zu einer Vereinbarung oder einem Netzwerk (genau eins "
                                     "angeben).")]
        if attrs.get("organization") is None:
            errors["organization"] = [_("Bitte die Organisation angeben, die den Konflikt einbringt.")]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def create(self, validated_data):
        from ..conflicts import ConflictError, raise_conflict

        owner = validated_data.get("agreement") or validated_data["network"]
        try:
            return raise_conflict(owner, validated_data["organization"], subject=validated_data.get("subject", ""),
                                  description=validated_data.get("description", ""), user=user_of(self))
        except ConflictError as e:
            raise serializers.ValidationError({"organization": [str(e)]}) from e
        except DjangoValidationError as e:
            raise serializers.ValidationError(django_errors(e)) from e


class ConflictCloseSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[c for c in ConflictStatus.choices if c[0] != ConflictStatus.OPEN],
                                     help_text=_("Wie der Fall endet."))
    outcome = serializers.CharField(help_text=_("Das Ergebnis."))
