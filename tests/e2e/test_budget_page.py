"""The budget page in a real browser: keyboard use and the run status line,
whose script polls the server while a run waits or runs."""

from decimal import Decimal as D

import pytest
from django.utils import timezone

from budgets.choices import RulePart, RunStatus, SplitMode, TermKind, Trigger
from budgets.models import AllocationRule, AllocationRun, Budget, RuleTerm
from core.models import FieldOfAction

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def budget(tree, levels):
    field = FieldOfAction.objects.get_or_create(key="e2e-feld", defaults={"name": "Testfeld"})[0]
    budget = Budget.objects.create(name="Jugendhilfe", fiscal_year=2027, field=field, scope_region=tree["CITY"],
                                   target_level=levels["planungsraum"], total=D("1000.00"),
                                   split_mode=SplitMode.PERCENT, case_specific=D(70), case_overarching=D(10),
                                   preventive=D(20))
    rule = AllocationRule.objects.create(budget=budget, part=RulePart.ALL)
    RuleTerm.objects.create(rule=rule, kind=TermKind.EQUAL, weight=D(1))
    return budget


class TestKeyboard:
    def test_skip_link_comes_first_and_leads_to_the_content(self, page_for, planner, budget):
        page = page_for(planner)
        page.goto(f"/budgets/{budget.pk}/")
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.textContent.trim()")
        assert focused == "Zum Inhalt springen"
        page.keyboard.press("Enter")
        assert page.evaluate("location.hash") == "#inhalt"

    def test_recompute_by_keyboard(self, page_for, planner, budget, eager_celery):
        page = page_for(planner)
        page.goto(f"/budgets/{budget.pk}/")
        button = page.get_by_role("button", name="Neu berechnen")
        button.focus()
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.get_by_text("Neuberechnung angefordert").is_visible()
        assert AllocationRun.objects.filter(budget=budget, status=RunStatus.SUCCEEDED).count() == 1


class TestRunStatus:
    def test_the_status_line_follows_a_run_until_it_is_done(self, page_for, viewer, budget):
        run = AllocationRun.objects.create(budget=budget, status=RunStatus.QUEUED, trigger=Trigger.MANUAL)
        page = page_for(viewer)
        page.goto(f"/budgets/{budget.pk}/")
        status = page.locator(".run-status")
        assert status.get_attribute("role") == "status" and status.get_attribute("aria-live") == "polite"
        assert f"Berechnung #{run.pk} wartet" in status.inner_text()
        # the worker takes it: the script shows "läuft" without a reload …
        AllocationRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, started_at=timezone.now(), attempts=1)
        page.wait_for_function("() => document.querySelector('.run-status__text').textContent.includes('läuft seit')")
        # … and "fertig", with the link to reload
        AllocationRun.objects.filter(pk=run.pk).update(status=RunStatus.SUCCEEDED, finished_at=timezone.now())
        page.wait_for_function("() => document.querySelector('.run-status__text').textContent.includes('ist fertig')")
        link = page.locator(".run-status__link a")
        assert link.inner_text() == "Seite neu laden, um das Ergebnis zu sehen"
        link.click()
        page.wait_for_load_state()
        assert page.locator(".run-status").is_hidden()

    def test_no_polling_without_a_run_under_way(self, page_for, viewer, budget):
        page = page_for(viewer)
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(f"/budgets/{budget.pk}/")
        page.wait_for_timeout(4000)  # longer than the polling interval (3 s)
        assert not [u for u in requests if "/berechnungen/stand/" in u]
        assert all(u.startswith(page.url.split("/budgets/")[0]) for u in requests)  # nothing from third parties
