"""The cooperation endpoints of issue 5 under /api/v1/: agreements with their
parties, escalation steps, documents and outcome goals; networks with members,
meetings and tasks; need reports; planning processes with participants, SWOT
entries and decisions; conflict cases.

What a user sees and changes comes from ``for_user`` (ScopedModelViewSet) and
``can_add`` (ScopedModelPermission), as for the other endpoints: an object
outside the user's view scope is 404, a visible object the user may not change
is 403. Workflow actions call the functions of ``cooperation.agreements``,
``.documents``, ``.goals``, ``.needs``, ``.planning``, ``.conflicts`` and
``.meetings``; what they refuse comes back as 400 with their German message
(``{"detail": …}``). Every list also exports as CSV or XLSX
(``?format=csv`` / ``?format=xlsx``).
"""

from django.db import transaction
from django.http import FileResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.generics import get_object_or_404
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from core import audit
from core.access import Action
from core.api.permissions import READ_ONLY_TOKEN, ScopedModelPermission, token_allows
from core.api.renderers import ExportViewSetMixin
from core.api.schema import ValidationErrorSerializer
from core.api.views import ScopedModelViewSet, ScopedViewSetMixin

from .. import access, conflicts, meetings, needs, planning
from .. import agreements as agreement_flow
from ..documents import TYPES as DOCUMENT_TYPES
from ..filtersets import (
    AgreementDocumentFilterSet,
    AgreementFilterSet,
    AgreementPartyFilterSet,
    ConflictCaseFilterSet,
    EscalationStepFilterSet,
    GoalFilterSet,
    MeetingFilterSet,
    MeetingTaskFilterSet,
    NeedReportFilterSet,
    NetworkFilterSet,
    NetworkMemberFilterSet,
    PlanningDecisionFilterSet,
    PlanningParticipantFilterSet,
    PlanningProcessFilterSet,
    SwotEntryFilterSet,
)
from ..goals import attainments
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
    PlanningDecision,
    PlanningParticipant,
    PlanningProcess,
    SwotEntry,
)
from .cooperation_serializers import (
    AgreementDocumentSerializer,
    AgreementDocumentUploadSerializer,
    AgreementPartySerializer,
    AgreementSerializer,
    AgreementTransitionSerializer,
    CloseProcessSerializer,
    ConflictCaseSerializer,
    ConflictCloseSerializer,
    EscalationStepSerializer,
    GoalSerializer,
    HistorySerializer,
    MeetingSerializer,
    MeetingTaskSerializer,
    NeedReportSerializer,
    NetworkMemberSerializer,
    NetworkSerializer,
    PhaseSerializer,
    PlanningDecisionSerializer,
    PlanningParticipantSerializer,
    PlanningProcessSerializer,
    SwotEntrySerializer,
    TaskDoneSerializer,
    TriageSerializer,
)

# a refused step ({"detail": …}) or invalid fields of the request ({"to": […]})
REFUSED = OpenApiResponse(ValidationErrorSerializer,
                          description="Nicht möglich (die Begründung auf Deutsch) oder ungültige Angaben.")


# --- FilterSets that cooperation/filtersets.py does not have (yet) ----------------------------


# --- shared pieces ----------------------------------------------------------------------------------


class AddByEditorsPermission(ScopedModelPermission):
    """As ``ScopedModelPermission``, but creating is open to planners and the
    editors of any organisation; the serializer then decides for which object
    (a party of the agreement, a participant of the process) — the model's
    ``can_add`` knows only planners."""

    def has_permission(self, request, view):
        if getattr(view, "action", None) == "create":
            user = request.user
            if not token_allows(request):
                self.message = READ_ONLY_TOKEN
                return False
            if not (user and user.is_authenticated and user.is_active):
                return False
            return access.is_planner(user) or bool(access.organization_ids(user, editor=True))
        return super().has_permission(request, view)


def refused(error) -> Response:
    """A workflow function's refusal (German message) as 400."""
    return Response({"detail": str(error)}, status=status.HTTP_400_BAD_REQUEST)


class CooperationViewSet(ExportViewSetMixin, ScopedModelViewSet):
    def visible_object(self):
        """The object among those the user sees (404 otherwise) — without the
        change check of ``get_object``, for actions that decide themselves who
        may act (e.g. the lead party's editors move a draft to negotiation)."""
        lookup_url_kwarg = self.lookup_url_kwarg or self.lookup_field
        return get_object_or_404(self.get_queryset(), **{self.lookup_field: self.kwargs[lookup_url_kwarg]})

    def fresh(self, obj):
        """``obj`` read again as the list reads it (related objects included)."""
        return self.get_queryset().get(pk=obj.pk)


class WithoutAuthorMixin:
    """For models without created_by/updated_by (the history records the author)."""

    def perform_create(self, serializer):
        serializer.save()

    def perform_update(self, serializer):
        serializer.save()


# --- agreements -------------------------------------------------------------------------------------


class AgreementViewSet(CooperationViewSet):
    """Agreements (Kooperations-/Leistungsvereinbarungen). Staff read all,
    planners create and change them; provider staff see those their
    organisation is a party to and public ones. The status changes only by
    ``transition`` (and by date: activation, expiry)."""

    model = Agreement
    queryset = Agreement.objects.all()
    serializer_class = AgreementSerializer
    filterset_class = AgreementFilterSet
    lookup_field = "uuid"

    def get_queryset(self):
        return super().get_queryset().prefetch_related("regions", "fields", "services")

    @extend_schema(request=AgreementTransitionSerializer, responses={200: AgreementSerializer, 400: REFUSED})
    @action(detail=True, methods=["post"])
    def transition(self, request, **kwargs):
        """Change the status by hand (``to``): planners; the editors of the lead
        party move a draft into negotiation. Entering negotiation activates
        the agreement at once when every party confirmed and it has started."""
        agreement = self.visible_object()
        if not agreement_flow.actor_roles(agreement, request.user):
            self.permission_denied(request, message=_("Den Status ändern die Planung und der federführende Träger."))
        form = AgreementTransitionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            agreement_flow.transition(agreement, form.validated_data["to"], request.user)
        except agreement_flow.TransitionError as e:
            return refused(e)
        return Response(self.get_serializer(self.fresh(agreement)).data)

    @extend_schema(responses={200: HistorySerializer})
    @action(detail=True, methods=["get"])
    def history(self, request, **kwargs):
        """The agreement's change history (who, when, which fields), newest first."""
        agreement = self.get_object()
        events = [
            {"when": e["when"], "action": e["label"], "user": e["user"].get_username() if e["user"] else None,
             "changes": [{"field": name, "old": old, "new": new} for name, old, new in e["changes"]]}
            for e in audit.history(agreement)
        ]
        return Response(HistorySerializer({"events": events}).data)


class AgreementPartyViewSet(WithoutAuthorMixin, CooperationViewSet):
    """Parties of agreements. Planners add, change and remove them; a party's
    own editors keep its responsibilities and reachability current and confirm
    the agreement for it (``confirm``)."""

    model = AgreementParty
    queryset = AgreementParty.objects.all()
    serializer_class = AgreementPartySerializer
    filterset_class = AgreementPartyFilterSet

    def get_queryset(self):
        return super().get_queryset().select_related("agreement", "organization", "confirmed_by")

    @extend_schema(request=None, responses={200: AgreementPartySerializer, 400: REFUSED})
    @action(detail=True, methods=["post"])
    def confirm(self, request, **kwargs):
        """Confirm the agreement for this party (its editors, while it is being
        negotiated); the last confirmation activates it once started."""
        party = self.get_object()  # view scope (404), then change access (403)
        try:
            agreement_flow.confirm(party, request.user)
        except agreement_flow.TransitionError as e:
            return refused(e)
        return Response(self.get_serializer(self.fresh(party)).data)


class EscalationStepViewSet(WithoutAuthorMixin, CooperationViewSet):
    """Steps of the conflict procedure of an agreement or a network (seen with
    it; planners write them)."""

    model = EscalationStep
    queryset = EscalationStep.objects.all()
    serializer_class = EscalationStepSerializer
    filterset_class = EscalationStepFilterSet

    def get_queryset(self):
        return super().get_queryset().select_related("agreement", "network")


class AnyMediaRenderer(BaseRenderer):
    """Lets a download be asked for with any ``Accept`` header (the file is the
    answer; an error is answered as JSON, see ``finalize_response``)."""

    media_type = "*/*"
    format = "file"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return JSONRenderer().render(data, "application/json", renderer_context)


class AgreementDocumentViewSet(ExportViewSetMixin, ScopedViewSetMixin, mixins.CreateModelMixin,
                               mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin,
                               viewsets.GenericViewSet):
    """Documents of agreements (metadata; the file by ``download``, only for
    who sees the agreement). Planners and the editors of the agreement's
    parties upload (multipart/form-data); planners delete."""

    model = AgreementDocument
    queryset = AgreementDocument.objects.all()
    serializer_class = AgreementDocumentSerializer
    filterset_class = AgreementDocumentFilterSet
    permission_classes = [AddByEditorsPermission]
    parser_classes = [MultiPartParser, FormParser]
    lookup_field = "uuid"

    def get_queryset(self):
        return super().get_queryset().select_related("agreement")

    def get_serializer_class(self):
        return AgreementDocumentUploadSerializer if self.action == "create" else AgreementDocumentSerializer

    @extend_schema(request={"multipart/form-data": AgreementDocumentUploadSerializer},
                   responses={201: AgreementDocumentSerializer})
    def create(self, request, *args, **kwargs):
        """Upload a document (checked by content and size)."""
        return super().create(request, *args, **kwargs)

    def perform_destroy(self, instance):
        from ..documents import delete_document

        with transaction.atomic():
            delete_document(instance)

    @extend_schema(responses={(200, media_type): OpenApiResponse(OpenApiTypes.BINARY, description="Die Datei")
                              # the type it was uploaded as (checked by content), or generic bytes
                              for media_type in ["application/octet-stream", *sorted(set(DOCUMENT_TYPES.values()))]})
    @action(detail=True, methods=["get"], renderer_classes=[AnyMediaRenderer])
    def download(self, request, **kwargs):
        """The file, as an attachment with its original name and type."""
        document = self.get_object()
        try:
            handle = document.file.open("rb")
        except OSError:
            raise NotFound(_("Die Datei ist nicht mehr vorhanden.")) from None
        return FileResponse(handle, as_attachment=True, filename=document.original_name,
                            content_type=document.content_type)

    def finalize_response(self, request, response, *args, **kwargs):
        if isinstance(response, Response) and isinstance(getattr(request, "accepted_renderer", None),
                                                         AnyMediaRenderer):
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


class GoalViewSet(CooperationViewSet):
    """Outcome goals (Wirkungsziele) of agreements, each with its attainment
    computed from the indicator's values (for a whole page in one query)."""

    model = Goal
    queryset = Goal.objects.all()
    serializer_class = GoalSerializer
    filterset_class = GoalFilterSet

    def get_queryset(self):
        return super().get_queryset().select_related("agreement", "indicator", "region")

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        goals = list(queryset) if page is None else list(page)
        computed = attainments(goals)
        for goal in goals:
            goal.attainment = computed[goal.pk]
        data = self.get_serializer(goals, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)


# --- networks -------------------------------------------------------------------------------------------


class NetworkViewSet(CooperationViewSet):
    """Networks (Sozialraumteams, Stadtteilkonferenzen, Fallkonferenzen, …).
    Staff read all; provider staff those their organisation coordinates or
    belongs to, and public ones. Planners create and delete them; planners and
    the coordinating editors keep them current."""

    model = Network
    queryset = Network.objects.all()
    serializer_class = NetworkSerializer
    filterset_class = NetworkFilterSet
    lookup_field = "uuid"

    def get_queryset(self):
        return super().get_queryset().select_related("coordinator").prefetch_related("regions", "fields")


class NetworkMemberViewSet(WithoutAuthorMixin, CooperationViewSet):
    """Member organisations of networks, kept by who runs the network."""

    model = NetworkMember
    queryset = NetworkMember.objects.all()
    serializer_class = NetworkMemberSerializer
    filterset_class = NetworkMemberFilterSet

    def get_queryset(self):
        return super().get_queryset().select_related("network", "organization")


class MeetingViewSet(CooperationViewSet):
    """Meetings of networks with their attendees; case conferences also keep
    anonymous case counts."""

    model = Meeting
    queryset = Meeting.objects.all()
    serializer_class = MeetingSerializer
    filterset_class = MeetingFilterSet
    lookup_field = "uuid"

    def get_queryset(self):
        return super().get_queryset().select_related("network").prefetch_related("attendees", "case_fields")


class MeetingTaskViewSet(CooperationViewSet):
    """Follow-up tasks of meetings. Who runs the network writes them; the
    responsible organisation's editors mark them done (``done``)."""

    model = MeetingTask
    queryset = MeetingTask.objects.all()
    serializer_class = MeetingTaskSerializer
    filterset_class = MeetingTaskFilterSet

    def get_queryset(self):
        return super().get_queryset().select_related("meeting__network", "responsible")

    def check_object_permissions(self, request, obj):
        super().check_object_permissions(request, obj)
        if self.action in ("update", "partial_update") and not Meeting.objects.for_user(
                request.user, Action.CHANGE).filter(pk=obj.meeting_id).exists():
            self.permission_denied(request, message=_(
                "Aufgaben ändert, wer das Netzwerk pflegt; die verantwortliche Organisation markiert sie als erledigt."))

    @extend_schema(request=TaskDoneSerializer, responses={200: MeetingTaskSerializer})
    @action(detail=True, methods=["post"])
    def done(self, request, **kwargs):
        """Mark the task done (``{"done": false}``: open again)."""
        task = self.get_object()  # view scope (404), then change access (403)
        form = TaskDoneSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        if form.validated_data["done"]:
            meetings.complete_task(task, request.user)
        else:
            meetings.reopen_task(task, request.user)
        return Response(self.get_serializer(self.fresh(task)).data)


# --- need reports ---------------------------------------------------------------------------------------


class NeedReportViewSet(CooperationViewSet):
    """Need reports (Bedarfsmeldungen). Organisations' editors report for their
    organisations and change their reports while new; staff read all;
    planners triage (``triage``)."""

    model = NeedReport
    queryset = NeedReport.objects.all()
    serializer_class = NeedReportSerializer
    filterset_class = NeedReportFilterSet
    lookup_field = "uuid"

    def get_queryset(self):
        return super().get_queryset().select_related("reporter", "region", "field", "triaged_by")

    @extend_schema(request=TriageSerializer, responses={200: NeedReportSerializer, 400: REFUSED})
    @action(detail=True, methods=["post"])
    def triage(self, request, **kwargs):
        """Move the report on (planners): in review, into planning (optionally
        into a planning process), declined (with a reason), back."""
        report = self.visible_object()
        if not access.is_planner(request.user):
            self.permission_denied(request, message=_("Bedarfsmeldungen bearbeitet die Planung."))
        form = TriageSerializer(data=request.data, context=self.get_serializer_context())
        form.is_valid(raise_exception=True)
        try:
            needs.triage(report, form.validated_data["to"], request.user, reason=form.validated_data["reason"],
                         process=form.validated_data["process"])
        except needs.TriageError as e:
            return refused(e)
        return Response(self.get_serializer(self.fresh(report)).data)


# --- planning processes ---------------------------------------------------------------------------------


class PlanningProcessViewSet(CooperationViewSet):
    """Cooperative planning processes. Staff read all, participating provider
    staff theirs; planners run them (phases one at a time, closing after the
    evaluation)."""

    model = PlanningProcess
    queryset = PlanningProcess.objects.all()
    serializer_class = PlanningProcessSerializer
    filterset_class = PlanningProcessFilterSet
    lookup_field = "uuid"

    def get_queryset(self):
        return super().get_queryset().prefetch_related("regions", "fields", "indicators", "indices", "need_reports")

    @extend_schema(request=PhaseSerializer, responses={200: PlanningProcessSerializer, 400: REFUSED})
    @action(detail=True, methods=["post"])
    def phase(self, request, **kwargs):
        """To the previous or the next phase."""
        process = self.get_object()  # view scope (404), then change access (403)
        form = PhaseSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            planning.move_phase(process, form.validated_data["to"], request.user)
        except planning.PlanningError as e:
            return refused(e)
        return Response(self.get_serializer(self.fresh(process)).data)

    @extend_schema(request=CloseProcessSerializer, responses={200: PlanningProcessSerializer, 400: REFUSED})
    @action(detail=True, methods=["post"])
    def close(self, request, **kwargs):
        """Close the process (after the evaluation) or reopen it (``reopen``)."""
        process = self.get_object()
        form = CloseProcessSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            planning.close(process, request.user, reopen=form.validated_data["reopen"])
        except planning.PlanningError as e:
            return refused(e)
        return Response(self.get_serializer(self.fresh(process)).data)


class PlanningParticipantViewSet(WithoutAuthorMixin, CooperationViewSet):
    """Organisations taking part in planning processes (planners write)."""

    model = PlanningParticipant
    queryset = PlanningParticipant.objects.all()
    serializer_class = PlanningParticipantSerializer
    filterset_class = PlanningParticipantFilterSet

    def get_queryset(self):
        return super().get_queryset().select_related("process", "organization")


class SwotEntryViewSet(CooperationViewSet):
    """The SWOT analysis of planning processes: participants' editors add
    entries for their organisation and change or remove their own; planners
    all."""

    model = SwotEntry
    queryset = SwotEntry.objects.all()
    serializer_class = SwotEntrySerializer
    filterset_class = SwotEntryFilterSet
    permission_classes = [AddByEditorsPermission]

    def get_queryset(self):
        return super().get_queryset().select_related("process", "organization")


class PlanningDecisionViewSet(CooperationViewSet):
    """Decisions and measures of planning processes (planners write)."""

    model = PlanningDecision
    queryset = PlanningDecision.objects.all()
    serializer_class = PlanningDecisionSerializer
    filterset_class = PlanningDecisionFilterSet

    def get_queryset(self):
        return super().get_queryset().select_related("process", "agreement", "responsible")


# --- conflict cases -------------------------------------------------------------------------------------


class ConflictCaseViewSet(CooperationViewSet):
    """Conflict cases under an agreement's or a network's procedure. Parties
    and members raise them (for their organisation); planners and the
    network's coordinating editors move them to the next step (``escalate``)
    and close them (``close``)."""

    model = ConflictCase
    queryset = ConflictCase.objects.all()
    serializer_class = ConflictCaseSerializer
    filterset_class = ConflictCaseFilterSet
    lookup_field = "uuid"

    def get_queryset(self):
        return super().get_queryset().select_related("agreement", "network", "raised_by", "step")

    @extend_schema(request=None, responses={200: ConflictCaseSerializer, 400: REFUSED})
    @action(detail=True, methods=["post"])
    def escalate(self, request, **kwargs):
        """To the next step of the procedure, with a new deadline."""
        case = self.get_object()  # view scope (404), then change access (403)
        try:
            conflicts.escalate(case, request.user)
        except conflicts.ConflictError as e:
            return refused(e)
        return Response(self.get_serializer(self.fresh(case)).data)

    @extend_schema(request=ConflictCloseSerializer, responses={200: ConflictCaseSerializer, 400: REFUSED})
    @action(detail=True, methods=["post"])
    def close(self, request, **kwargs):
        """Close the case: resolved, mediated or without agreement, with the outcome."""
        case = self.get_object()
        form = ConflictCloseSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            conflicts.close(case, form.validated_data["status"], form.validated_data["outcome"], request.user)
        except conflicts.ConflictError as e:
            return refused(e)
        return Response(self.get_serializer(self.fresh(case)).data)
