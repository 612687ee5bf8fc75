"""The REST API under /api/v1/: one router for every app."""

from rest_framework.routers import DefaultRouter

from budgets.api.providers import ProviderAllocationViewSet, ProviderShareViewSet
from budgets.api.views import (
    AllocationRuleViewSet,
    AllocationRunViewSet,
    BudgetUtilisationViewSet,
    BudgetViewSet,
    ExpenditureViewSet,
)
from cooperation.api.cooperation_views import (
    AgreementDocumentViewSet,
    AgreementPartyViewSet,
    AgreementViewSet,
    ConflictCaseViewSet,
    EscalationStepViewSet,
    GoalViewSet,
    MeetingTaskViewSet,
    MeetingViewSet,
    NeedReportViewSet,
    NetworkMemberViewSet,
    NetworkViewSet,
    PlanningDecisionViewSet,
    PlanningParticipantViewSet,
    PlanningProcessViewSet,
    SwotEntryViewSet,
)
from cooperation.api.views import (
    LocationViewSet,
    MembershipViewSet,
    OrganizationViewSet,
    ServiceViewSet,
    TargetGroupViewSet,
)
from core.api.fields_of_action import FieldOfActionViewSet
from core.api.imports import ImportRunViewSet
from core.api.notifications import NotificationViewSet
from regions.api.views import (
    CompositeIndexViewSet,
    IndicatorValueViewSet,
    IndicatorViewSet,
    RegionLevelViewSet,
    RegionViewSet,
)

from .api_dashboard import MapDataViewSet

router = DefaultRouter()
router.register("region-levels", RegionLevelViewSet, basename="region-level")
router.register("regions", RegionViewSet, basename="region")
router.register("indicators", IndicatorViewSet, basename="indicator")
router.register("indicator-values", IndicatorValueViewSet, basename="indicator-value")
router.register("indices", CompositeIndexViewSet, basename="composite-index")
router.register("imports", ImportRunViewSet, basename="import-run")
router.register("fields-of-action", FieldOfActionViewSet, basename="field-of-action")
router.register("organizations", OrganizationViewSet, basename="organization")
router.register("memberships", MembershipViewSet, basename="membership")
router.register("target-groups", TargetGroupViewSet, basename="target-group")
router.register("locations", LocationViewSet, basename="location")
router.register("services", ServiceViewSet, basename="service")
# Only adds budgets/{id}/utilisation/; registered first so the API root keeps listing budgets.
router.register("budgets", BudgetUtilisationViewSet, basename="budget-utilisation")
router.register("budgets", BudgetViewSet, basename="budget")
router.register("allocation-rules", AllocationRuleViewSet, basename="allocation-rule")
router.register("allocation-runs", AllocationRunViewSet, basename="allocation-run")
router.register("expenditures", ExpenditureViewSet, basename="expenditure")
router.register("agreements", AgreementViewSet, basename="agreement")
router.register("agreement-parties", AgreementPartyViewSet, basename="agreement-party")
router.register("escalation-steps", EscalationStepViewSet, basename="escalation-step")
router.register("agreement-documents", AgreementDocumentViewSet, basename="agreement-document")
router.register("goals", GoalViewSet, basename="goal")
router.register("networks", NetworkViewSet, basename="network")
router.register("network-members", NetworkMemberViewSet, basename="network-member")
router.register("meetings", MeetingViewSet, basename="meeting")
router.register("meeting-tasks", MeetingTaskViewSet, basename="meeting-task")
router.register("need-reports", NeedReportViewSet, basename="need-report")
router.register("planning-processes", PlanningProcessViewSet, basename="planning-process")
router.register("planning-participants", PlanningParticipantViewSet, basename="planning-participant")
router.register("swot-entries", SwotEntryViewSet, basename="swot-entry")
router.register("planning-decisions", PlanningDecisionViewSet, basename="planning-decision")
router.register("conflict-cases", ConflictCaseViewSet, basename="conflict-case")
router.register("provider-shares", ProviderShareViewSet, basename="provider-share")
router.register("provider-allocations", ProviderAllocationViewSet, basename="provider-allocation")
router.register("notifications", NotificationViewSet, basename="notification")
router.register("map-data", MapDataViewSet, basename="map-data")
