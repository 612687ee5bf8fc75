import datetime

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone

from budgets.choices import RunStatus
from budgets.models import AllocationRun
from cooperation import access
from cooperation.choices import AgreementStatus, NeedStatus, ServiceStatus
from cooperation.models import Agreement, NeedReport, Service
from core.access import Action
from regions.models import Indicator, Region, RegionLevel

WORKLIST_ROWS = 10
REVIEW_DAYS = 30


def worklists(user) -> dict:
    """What waits for planners and staff: agreements due for review (within 30
    days or overdue), offerings not confirmed in time, open need reports,
    failed or unfinished allocation runs — each scoped by ``for_user``."""
    review_by = timezone.localdate() + datetime.timedelta(days=REVIEW_DAYS)
    reviews = (Agreement.objects.for_user(user, Action.VIEW)
               .filter(status__in=[AgreementStatus.ACTIVE, AgreementStatus.SUSPENDED], next_review__lte=review_by)
               .order_by("next_review", "title").only("uuid", "title", "next_review"))
    needs = (NeedReport.objects.for_user(user, Action.VIEW).filter(status__in=[NeedStatus.NEW, NeedStatus.IN_REVIEW])
             .select_related("region", "reporter").order_by("created_at"))
    runs = (AllocationRun.objects.for_user(user, Action.VIEW)
            .filter(status__in=[RunStatus.FAILED, RunStatus.QUEUED, RunStatus.RUNNING])
            .select_related("budget").order_by("-created_at").defer("snapshot"))
    unconfirmed = Service.objects.for_user(user, Action.VIEW).unconfirmed().filter(
        status__in=[ServiceStatus.ACTIVE, ServiceStatus.TEMPORARILY_CLOSED])
    return {
        "reviews": list(reviews[:WORKLIST_ROWS]), "review_count": reviews.count(), "review_by": review_by,
        "needs": list(needs[:WORKLIST_ROWS]), "need_count": needs.count(),
        "runs": list(runs[:WORKLIST_ROWS]), "run_count": runs.count(),
        "unconfirmed_count": unconfirmed.count(),
    }


@login_required
def home(request):
    user = request.user
    regions = Region.objects.for_user(user, Action.VIEW)
    context = {
        "levels": RegionLevel.objects.all(),
        "region_count": regions.count(),
        "indicator_count": Indicator.objects.for_user(user, Action.VIEW).count(),
        "top_regions": regions.filter(depth=regions.order_by("depth").values("depth")[:1]).select_related("level")[:20],
    }
    if access.is_staff_reader(user):
        context.update(
            active_services=Service.objects.for_user(user, Action.VIEW).filter(status=ServiceStatus.ACTIVE).count(),
            active_agreements=Agreement.objects.for_user(user, Action.VIEW).filter(
                status=AgreementStatus.ACTIVE).count(),
            work=worklists(user), today=timezone.localdate(),
        )
    return render(request, "sozialraum/home.html", context)
