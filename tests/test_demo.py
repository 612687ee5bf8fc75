"""The demo city the run command loads (from files shipped in the project, so
these tests need no ../shared)."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from regions.models import IndicatorValue, Region, RoleAssignment


@pytest.mark.django_db
class TestLoadDemo:
    def test_loads_berlin_and_one_login_per_role_idempotently(self, settings):
        settings.DEBUG = True
        out = StringIO()
        call_command("load_demo", stdout=out)
        counts = {key: Region.objects.filter(level__key=key).count()
                  for key in ("land", "bezirk", "prognoseraum", "bezirksregion", "planungsraum")}
        assert counts == {"land": 1, "bezirk": 12, "prognoseraum": 58, "bezirksregion": 143, "planungsraum": 542}
        assert Region.objects.exclude(boundary=None).count() == 12 + 58
        # the simplified boundaries keep the area within 2 % of the official figure
        mitte = Region.objects.get(code="0110")
        assert abs(mitte.area_m2 - 15850423) / 15850423 < 0.02
        berlin_total = IndicatorValue.objects.get(region__code="BE", indicator__key="ew_gesamt")
        assert berlin_total.is_rollup and berlin_total.value > 3_000_000
        text = out.getvalue()
        for login in ("planung", "sozialraumleitung", "lesezugriff", "traeger-a", "traeger-b", "demo-sozialraum"):
            assert login in text
        assert RoleAssignment.objects.filter(user__username="sozialraumleitung", region__code="08").exists()

        values = IndicatorValue.objects.count()
        again = StringIO()
        call_command("load_demo", stdout=again)
        assert IndicatorValue.objects.count() == values
        assert "created=0, updated=0" in again.getvalue()
        assert get_user_model().objects.filter(username="planung").count() == 1

    def test_refused_without_debug_or_demo_mode(self, settings):
        settings.DEBUG = False
        settings.SOZIALRAUM_DEMO_MODE = False
        with pytest.raises(CommandError, match="nur mit"):
            call_command("load_demo", stdout=StringIO())
