"""The home page's worklists for planners and staff: agreements due for review,
open need reports, offerings not confirmed in time, failed or unfinished
allocation runs — scoped by role; providers do not get them; queries pinned."""

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from budgets.models import AllocationRun
from cooperation.choices import AgreementStatus, NeedStatus
from cooperation.models import Agreement, NeedReport, Service
from tests.factories import AgreementFactory, NeedReportFactory, ServiceFactory

pytestmark = pytest.mark.django_db


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def work(tree, org_a, budget):
    today = timezone.localdate()
    due = AgreementFactory(title="Überprüfung bald", next_review=today + datetime.timedelta(days=10))
    late = AgreementFactory(title="Überprüfung verpasst", next_review=today - datetime.timedelta(days=3))
    AgreementFactory(title="Überprüfung später", next_review=today + datetime.timedelta(days=90))
    Agreement.objects.filter(pk__in=[due.pk, late.pk]).update(status=AgreementStatus.ACTIVE)
    NeedReportFactory(title="Bedarf neu", reporter=org_a, region=tree["P11"])
    done = NeedReportFactory(title="Bedarf erledigt", reporter=org_a, region=tree["P11"])
    NeedReport.objects.filter(pk=done.pk).update(status=NeedStatus.DECLINED, decline_reason="gedeckt")
    old = ServiceFactory(name="Altes Angebot", organization=org_a)
    Service.objects.filter(pk=old.pk).update(created_at=timezone.now() - datetime.timedelta(days=800))
    AllocationRun.objects.create(budget=budget, status="failed", error="Werte fehlen")


class TestWorklists:
    def test_planner_sees_what_waits(self, work, planner):
        html = client_for(planner).get("/").content.decode()
        assert "2 Vereinbarungen zur Überprüfung" in html
        assert "Überprüfung bald" in html and "Überprüfung verpasst" in html and "überfällig" in html
        assert "Überprüfung später" not in html
        assert "1 offene Bedarfsmeldung" in html and "Bedarf neu" in html and "Bedarf erledigt" not in html
        assert "1 Angebot nicht rechtzeitig bestätigt" in html
        assert "1 Berechnung fehlgeschlagen oder nicht fertig" in html and "fehlgeschlagen" in html

    def test_providers_get_no_worklists(self, work, provider_editor_a):
        html = client_for(provider_editor_a).get("/").content.decode()
        assert "Zu erledigen" not in html

    def test_query_count(self, work, planner, django_assert_max_num_queries):
        client = client_for(planner)
        client.get("/")
        with django_assert_max_num_queries(20):
            assert client.get("/").status_code == 200
