"""The daily reminder job (Celery beat, 06:00 Europe/Berlin; the task is
``cooperation.send_reminders``).

In this order, each part in its own transaction:

1. ``agreements.apply_dates``: confirmed agreements whose start is reached
   become active, ended ones expire.
2. Agreements (active or suspended) whose review is due within
   ``REMINDER_REVIEW_DAYS`` days (or overdue) → planners and editors of the
   lead parties; agreements ending within ``REMINDER_AGREEMENT_END_DAYS`` days
   → planners and editors of every party.
3. Offerings not confirmed as current (``Service.objects.unconfirmed()``) →
   editors of their organisation, one notification per organisation.
4. Overdue meeting tasks → editors of the responsible organisation and of the
   network's coordinator.
5. Need reports untriaged for ``REMINDER_NEED_REPORT_DAYS`` days → planners.
6. Conflict cases past the deadline of their escalation step → planners, and
   editors of the network's coordinator or of the agreement's funder and lead
   parties.

Then every notification not yet e-mailed is e-mailed (``core.notifications``).

**Once per due event.** Each notification carries an event key naming the
event with its date or version (``agreement-review:<pk>:<next_review>``); the
unique constraint (user, event_key) makes a second run — or a concurrent one —
create nothing twice, while a moved date is a new event and reminds again.

**Offerings, grouped.** One notification per organisation lists its
unconfirmed offerings. Its key is the organisation and the latest "last
confirmed" (or, never confirmed, "created") moment among them:
``services-unconfirmed:<org pk>:<timestamp>``. The same offerings staying
unconfirmed keep the key (no daily repeat); another offering falling due has a
later moment, so the organisation is reminded again, with the new count. (If
the most recently due one is confirmed while older ones stay open, the key
falls back to an earlier moment; if that moment was never a key, one more
reminder lists the remaining ones — they are still unconfirmed.)

**Who is a planner.** Active users with the planner role (RoleAssignment;
a superuser without one is not reminded). A
planner limited to a region subtree is reminded of agreements, need reports and
conflict cases whose regions overlap the subtree (lie in it, or contain it); of
objects without regions only planners without a limit are. Editors of an
organisation are the active users with an editor membership of it or of an
organisation above it (a Träger's staff keep its branches current, see
``cooperation.access``).

Texts are German (the job runs in the default language); links are the
objects' pages (``object_path``), made absolute in e-mails.
"""

import datetime
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.access import Role
from core.notifications import deliver_emails, notify
from regions.models import Region, RoleAssignment

from . import agreements
from .choices import AgreementStatus, MembershipRole, PartyRole
from .models import Agreement, AgreementParty, ConflictCase, MeetingTask, Membership, NeedReport, Organization, Service

logger = logging.getLogger(__name__)

AGREEMENT_REVIEW = "agreement_review"
AGREEMENT_ENDING = "agreement_ending"
SERVICES_UNCONFIRMED = "services_unconfirmed"
MEETING_TASK_OVERDUE = "meeting_task_overdue"
NEED_REPORT_UNTRIAGED = "need_report_untriaged"
CONFLICT_OVERDUE = "conflict_overdue"
KINDS = (AGREEMENT_REVIEW, AGREEMENT_ENDING, SERVICES_UNCONFIRMED, MEETING_TASK_OVERDUE, NEED_REPORT_UNTRIAGED,
         CONFLICT_OVERDUE)

#: The pages the reminders link to. Literal paths while some pages do not exist
#: yet; switch an entry to ``reverse(...)`` here once its URL name exists.
OBJECT_PAGES = {
    "agreement": "agreement-detail",
    "network": "network-detail",
    "needreport": "needreport-detail",
    "conflictcase": "conflict-detail",
    "service": "service-detail",
}


def object_path(obj) -> str:
    """The page of ``obj`` (an agreement, network, need report, conflict case or offering)."""
    return reverse(OBJECT_PAGES[obj._meta.model_name], kwargs={"uuid": obj.uuid})


def unconfirmed_services_path() -> str:
    return reverse("services-unconfirmed")


def _date(value: datetime.date) -> str:
    return date_format(value, "SHORT_DATE_FORMAT")


# --- recipients ----------------------------------------------------------------------


class Recipients:
    """Who is reminded: planners (by region) and editors of organisations.
    Loads each once per run, so a part costs a fixed number of queries."""

    def __init__(self):
        self._planners: list[tuple[int, str | None]] | None = None
        self._parents: dict[int, int | None] = {}
        self._editors: dict[int, set[int]] = {}

    def planners(self, region_paths: Iterable[str]) -> set[int]:
        """Active planners for an object in the regions with ``region_paths``:
        those without a limit, and those whose subtree overlaps the regions."""
        if self._planners is None:
            self._planners = list(
                RoleAssignment.objects.filter(role=Role.PLANNER, user__is_active=True)
                .values_list("user_id", "region__path").order_by("user_id")
            )
        paths = list(region_paths)
        return {
            user_id for user_id, scope in self._planners
            if scope is None or any(p.startswith(scope) or scope.startswith(p) for p in paths)
        }

    def load_editors(self, org_ids: Iterable[int]) -> None:
        """Load the organisations above ``org_ids`` and the editors of all of
        them (a few queries, however many organisations)."""
        frontier = {pk for pk in org_ids if pk is not None and pk not in self._parents}
        while frontier:
            rows = list(Organization.objects.filter(pk__in=frontier).values_list("pk", "parent_id"))
            self._parents.update(rows)
            frontier = {parent for _pk, parent in rows if parent is not None and parent not in self._parents}
        missing = [pk for pk in self._parents if pk not in self._editors]
        for pk in missing:
            self._editors[pk] = set()
        for org_id, user_id in Membership.objects.filter(
            organization_id__in=missing, role=MembershipRole.EDITOR, user__is_active=True,
        ).values_list("organization_id", "user_id"):
            self._editors[org_id].add(user_id)

    def editors(self, org_ids: Iterable[int]) -> set[int]:
        """Active editors of the organisations ``org_ids`` or of an organisation above them."""
        org_ids = [pk for pk in org_ids if pk is not None]
        self.load_editors(org_ids)
        users: set[int] = set()
        for pk in org_ids:
            seen = set()
            while pk is not None and pk not in seen:  # ``seen``: a cycle in bad data cannot hang the job
                seen.add(pk)
                users |= self._editors.get(pk, set())
                pk = self._parents.get(pk)
        return users


def _region_paths(obj) -> list[str]:
    return [region.path for region in obj.regions.all()]


_REGIONS = Prefetch("regions", queryset=Region.objects.only("pk", "path"))


# --- the parts -------------------------------------------------------------------------


def agreement_reminders(today: datetime.date, who: Recipients) -> Counter:
    created: Counter = Counter()
    live = [AgreementStatus.ACTIVE, AgreementStatus.SUSPENDED]
    review_by = today + datetime.timedelta(days=settings.REMINDER_REVIEW_DAYS)
    end_by = today + datetime.timedelta(days=settings.REMINDER_AGREEMENT_END_DAYS)
    parties = Prefetch("parties", queryset=AgreementParty.objects.only("pk", "agreement_id", "organization_id", "role"))
    base = Agreement.objects.filter(status__in=live).prefetch_related(_REGIONS, parties).order_by("pk")

    reviews = list(base.filter(next_review__isnull=False, next_review__lte=review_by))
    ending = list(base.filter(valid_until__isnull=False, valid_until__gte=today, valid_until__lte=end_by))
    who.load_editors({p.organization_id for a in reviews + ending for p in a.parties.all()})

    for agreement in reviews:
        leads = [p.organization_id for p in agreement.parties.all() if p.role == PartyRole.LEAD]
        users = who.planners(_region_paths(agreement)) | who.editors(leads)
        values = {"title": agreement.title, "date": _date(agreement.next_review)}
        if agreement.next_review < today:
            text = _("Die Überprüfung der Vereinbarung „%(title)s“ war am %(date)s fällig und steht noch aus.") % values
        else:
            text = _("Die Vereinbarung „%(title)s“ ist am %(date)s zur Überprüfung fällig. Bitte bereiten Sie die "
                     "Überprüfung mit den Parteien vor.") % values
        created[AGREEMENT_REVIEW] += len(notify(
            sorted(users), AGREEMENT_REVIEW, f"agreement-review:{agreement.pk}:{agreement.next_review.isoformat()}",
            _("Überprüfung fällig am %(date)s: %(title)s") % values, text, object_path(agreement)))

    for agreement in ending:
        users = who.planners(_region_paths(agreement)) | who.editors(p.organization_id for p in agreement.parties.all())
        values = {"title": agreement.title, "date": _date(agreement.valid_until)}
        created[AGREEMENT_ENDING] += len(notify(
            sorted(users), AGREEMENT_ENDING, f"agreement-ending:{agreement.pk}:{agreement.valid_until.isoformat()}",
            _("Vereinbarung endet am %(date)s: %(title)s") % values,
            _("Die Vereinbarung „%(title)s“ gilt bis %(date)s. Bitte klären Sie rechtzeitig, ob sie verlängert "
              "oder neu verhandelt wird.") % values,
            object_path(agreement)))
    return created


#: Offerings listed by name in one notification (the rest are counted).
LISTED_SERVICES = 20


def service_reminders(today: datetime.date, who: Recipients) -> Counter:
    created: Counter = Counter()
    rows = Service.objects.unconfirmed().order_by("organization_id", "name", "pk").values_list(
        "organization_id", "organization__name", "name", "last_confirmed_at", "created_at")
    by_org: dict[int, list] = defaultdict(list)
    names: dict[int, str] = {}
    for org_id, org_name, name, confirmed, created_at in rows:
        by_org[org_id].append((name, confirmed or created_at))
        names[org_id] = org_name
    who.load_editors(by_org)
    path = unconfirmed_services_path()
    for org_id, services in by_org.items():
        latest = max(reference for _name, reference in services)
        key = f"services-unconfirmed:{org_id}:{latest.astimezone(datetime.UTC).strftime('%Y%m%dT%H%M%S.%fZ')}"
        count, org_name = len(services), names[org_id]
        listed = [f"– {name}" for name, _reference in services[:LISTED_SERVICES]]
        if count > LISTED_SERVICES:
            listed.append(_("… und %(n)d weitere") % {"n": count - LISTED_SERVICES})
        values = {"n": count, "org": org_name, "months": settings.SERVICE_CONFIRMATION_MONTHS}
        title = ngettext("%(n)d Angebot von %(org)s ist nicht als aktuell bestätigt",
                         "%(n)d Angebote von %(org)s sind nicht als aktuell bestätigt", count) % values
        text = ngettext(
            "Dieses Angebot von %(org)s wurde seit mehr als %(months)d Monaten nicht als aktuell bestätigt:",
            "Diese Angebote von %(org)s wurden seit mehr als %(months)d Monaten nicht als aktuell bestätigt:",
            count) % values
        text = "\n".join([text, *listed, "", _("Bitte prüfen Sie die Angaben und bestätigen Sie sie als aktuell.")])
        created[SERVICES_UNCONFIRMED] += len(notify(
            sorted(who.editors([org_id])), SERVICES_UNCONFIRMED, key, title, text, path))
    return created


def meeting_task_reminders(today: datetime.date, who: Recipients) -> Counter:
    created: Counter = Counter()
    tasks = list(MeetingTask.objects.filter(due__lt=today, done_at__isnull=True).select_related(
        "responsible", "meeting__network").order_by("pk"))
    who.load_editors({t.responsible_id for t in tasks} | {t.meeting.network.coordinator_id for t in tasks})
    for task in tasks:
        network = task.meeting.network
        users = who.editors([task.responsible_id, network.coordinator_id])
        values = {"task": task.title, "date": _date(task.due), "network": network.name,
                  "meeting": _date(timezone.localdate(task.meeting.starts_at)), "org": task.responsible.name}
        created[MEETING_TASK_OVERDUE] += len(notify(
            sorted(users), MEETING_TASK_OVERDUE, f"meeting-task-overdue:{task.pk}:{task.due.isoformat()}",
            _("Aufgabe überfällig seit %(date)s: %(task)s") % values,
            _("Die Aufgabe „%(task)s“ aus der Sitzung von %(network)s am %(meeting)s war am %(date)s fällig und "
              "ist noch nicht erledigt (verantwortlich: %(org)s).") % values,
            object_path(network)))
    return created


def need_report_reminders(today: datetime.date, who: Recipients) -> Counter:
    created: Counter = Counter()
    days = settings.REMINDER_NEED_REPORT_DAYS
    reports = NeedReport.objects.untriaged(days, today).select_related("reporter", "region", "field").order_by("pk")
    for report in reports:
        reported = timezone.localdate(report.created_at)
        values = {"title": report.title, "org": report.reporter.name, "region": report.region.name,
                  "field": report.field.name, "date": _date(reported), "days": days}
        created[NEED_REPORT_UNTRIAGED] += len(notify(
            sorted(who.planners([report.region.path])), NEED_REPORT_UNTRIAGED,
            f"need-report-untriaged:{report.pk}:{reported.isoformat()}",
            _("Bedarfsmeldung unbearbeitet: %(title)s") % values,
            _("Die Bedarfsmeldung „%(title)s“ von %(org)s (%(region)s, %(field)s) vom %(date)s ist seit mehr als "
              "%(days)d Tagen nicht bearbeitet.") % values,
            object_path(report)))
    return created


def conflict_reminders(today: datetime.date, who: Recipients) -> Counter:
    created: Counter = Counter()
    parties = Prefetch("agreement__parties", queryset=AgreementParty.objects.filter(
        role__in=[PartyRole.FUNDER, PartyRole.LEAD]).only("pk", "agreement_id", "organization_id", "role"))
    cases = list(ConflictCase.objects.overdue(today).select_related("agreement", "network", "step").prefetch_related(
        Prefetch("agreement__regions", queryset=Region.objects.only("pk", "path")),
        Prefetch("network__regions", queryset=Region.objects.only("pk", "path")),
        parties,
    ).order_by("pk"))
    orgs: dict[int, list[int]] = {}
    for case in cases:
        if case.agreement_id:
            orgs[case.pk] = [p.organization_id for p in case.agreement.parties.all()]
        else:
            orgs[case.pk] = [case.network.coordinator_id]
    who.load_editors({pk for ids in orgs.values() for pk in ids})
    for case in cases:
        owner = case.agreement or case.network
        users = who.planners(_region_paths(owner)) | who.editors(orgs[case.pk])
        values = {"subject": case.subject, "owner": str(owner), "date": _date(case.step_due),
                  "step": case.step.order if case.step else "–", "handled_by": case.step.handled_by if case.step else "–"}
        created[CONFLICT_OVERDUE] += len(notify(
            sorted(users), CONFLICT_OVERDUE, f"conflict-overdue:{case.pk}:{case.step_id}:{case.step_due.isoformat()}",
            _("Frist im Konfliktfall abgelaufen: %(subject)s") % values,
            _("Im Konfliktfall „%(subject)s“ (%(owner)s) ist die Frist der Stufe %(step)s (%(handled_by)s) am "
              "%(date)s abgelaufen. Bitte klären Sie, ob der Fall gelöst ist oder an die nächste Stufe geht.") % values,
            object_path(case)))
    return created


PARTS = (agreement_reminders, service_reminders, meeting_task_reminders, need_report_reminders, conflict_reminders)


def send_reminders(today: datetime.date | None = None) -> dict:
    """Run the daily job for ``today`` (default: the local date). Returns
    {"agreements": {"activated": n, "expired": n}, "created": {kind: n},
    "emails": {"sent": n, "failed": n, "sent_by_kind": {kind: n}}} and logs it."""
    today = today or timezone.localdate()
    with translation.override(settings.LANGUAGE_CODE):
        dates = agreements.apply_dates(today)  # its own transaction
        who = Recipients()
        created: Counter = Counter({kind: 0 for kind in KINDS})
        for part in PARTS:
            with transaction.atomic():
                created.update(part(today, who))
        emails = deliver_emails()
    result = {"agreements": dates, "created": dict(created), "emails": emails}
    logger.info("reminders for %s: agreements %s; notifications created %s; e-mails %s",
                today.isoformat(), dates, dict(created), emails)
    return result
