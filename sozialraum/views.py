from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from core.access import Action
from regions.models import Indicator, Region, RegionLevel


@login_required
def home(request):
    regions = Region.objects.for_user(request.user, Action.VIEW)
    context = {
        "levels": RegionLevel.objects.all(),
        "region_count": regions.count(),
        "indicator_count": Indicator.objects.for_user(request.user, Action.VIEW).count(),
        "top_regions": regions.filter(depth=regions.order_by("depth").values("depth")[:1]).select_related("level")[:20],
    }
    return render(request, "sozialraum/home.html", context)
