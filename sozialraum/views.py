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

from . import dashboard

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
    reviews_shown, review_count = _head(reviews)
    needs_shown, need_count = _head(needs)
    runs_shown, run_count = _head(runs)
    return {
        "reviews": reviews_shown, "review_count": review_count, "review_by": review_by,
        "needs": needs_shown, "need_count": need_count,
        "runs": runs_shown, "run_count": run_count,
        "unconfirmed_count": unconfirmed.count(),
    }


def _head(qs) -> tuple[list, int]:
    """The first WORKLIST_ROWS rows and the number of all (counted only when
    there are more than shown)."""
    rows = list(qs[:WORKLIST_ROWS + 1])
    if len(rows) <= WORKLIST_ROWS:
        return rows, len(rows)
    return rows[:WORKLIST_ROWS], qs.count()


@login_required
def home(request):
    user = request.user
    regions = Region.objects.for_user(user, Action.VIEW)
    context = {
        "levels": RegionLevel.objects.all(),
        "indicator_count": Indicator.objects.for_user(user, Action.VIEW).count(),
        "top_regions": regions.filter(depth=regions.order_by("depth").values("depth")[:1]).select_related("level")[:20],
    }
    if access.is_staff_reader(user):
        years = dashboard.fiscal_years(user)
        year = dashboard.choose_year(years, request.GET.get("jahr"))
        figures = dashboard.key_figures(user, year, dashboard.year_budgets(user, year))
        context.update(years=years, year=year, figures=figures, region_count=figures.regions,
                       work=worklists(user), today=timezone.localdate())
    else:
        context["region_count"] = regions.count()
    return render(request, "sozialraum/home.html", context)
