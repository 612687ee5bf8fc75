"""factory-boy factories for every model the tests create."""

import datetime

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from core.access import Role
from core.models import FieldOfAction, ImportRun
from regions.models import Indicator, IndicatorValue, Region, RegionLevel, RoleAssignment


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.django.Password("geheim-und-lang-123")


class RegionLevelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RegionLevel
        django_get_or_create = ("key",)

    key = factory.Sequence(lambda n: f"level{n}")
    name = factory.LazyAttribute(lambda o: o.key.title())
    rank = factory.Sequence(lambda n: n + 10)


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region

    code = factory.Sequence(lambda n: f"R{n:05d}")
    name = factory.Sequence(lambda n: f"Raum {n}")
    level = factory.SubFactory(RegionLevelFactory)
    parent = None


class IndicatorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Indicator
        django_get_or_create = ("key",)

    key = factory.Sequence(lambda n: f"ind{n}")
    name = factory.LazyAttribute(lambda o: f"Indikator {o.key}")
    unit = "Personen"
    rollup = "sum"


class IndicatorValueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IndicatorValue

    indicator = factory.SubFactory(IndicatorFactory)
    region = factory.SubFactory(RegionFactory)
    period = "2022"
    value = 1


class RoleAssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoleAssignment

    user = factory.SubFactory(UserFactory)
    role = Role.VIEWER
    region = None


class ImportRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ImportRun

    kind = "indicator_values"
    status = ImportRun.Status.SUCCEEDED
    original_name = factory.Sequence(lambda n: f"datei{n}.csv")
    created_by = None
    updated_by = factory.SelfAttribute("created_by")


class FieldOfActionFactory(factory.django.DjangoModelFactory):
    """A field of action (the German default set exists after migrate: its keys
    are taken with get_or_create)."""

    class Meta:
        model = FieldOfAction
        django_get_or_create = ("key",)

    key = factory.Sequence(lambda n: f"feld-{n}")
    name = factory.LazyAttribute(lambda o: f"Handlungsfeld {o.key}")
    parent = None
    legal_basis = ""


# --- cooperation --------------------------------------------------------------------


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "cooperation.Organization"

    name = factory.Sequence(lambda n: f"Träger {n} e. V.")
    kind = "provider"
    umbrella = "paritaetischer"
    legal_form = "ev"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "cooperation.Membership"

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = "editor"


class TargetGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "cooperation.TargetGroup"
        django_get_or_create = ("key",)

    key = factory.Sequence(lambda n: f"gruppe-{n}")
    name = factory.LazyAttribute(lambda o: f"Zielgruppe {o.key}")


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "cooperation.Location"

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Standort {n}")
    street = factory.Sequence(lambda n: f"Musterstraße {n + 1}")
    postal_code = "10115"
    city = "Berlin"


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "cooperation.Service"
        skip_postgeneration_save = True

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Angebot {n}")
    description = "Beratung und Begleitung für Familien im Sozialraum."
    status = "active"

    @factory.post_generation
    def fields(self, create, extracted, **kwargs):
        if create and extracted:
            self.fields.set(extracted)

    @factory.post_generation
    def target_groups(self, create, extracted, **kwargs):
        if create and extracted:
            self.target_groups.set(extracted)

    @factory.post_generation
    def regions(self, create, extracted, **kwargs):
        if create and extracted:
            self.regions.set(extracted)

    @factory.post_generation
    def locations(self, create, extracted, **kwargs):
        if create and extracted:
            self.locations.set(extracted)


def _m2m(name):
    """A post-generation hook setting the many-to-many ``name`` from a list."""

    def hook(self, create, extracted, **kwargs):
        if create and extracted:
            getattr(self, name).set(extracted)

    hook.__name__ = name
    return factory.post_generation(hook)


class AgreementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "cooperation.Agreement"
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"Kooperationsvereinbarung {n}")
    kind = "cooperation"
    valid_from = factory.LazyFunction(lambda: datetime.date(2026, 1, 1))
    regions = _m2m("regions")
    fields = _m2m("fields")
    services = _m2m("services")


class AgreementPartyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "cooperation.AgreementParty"

    agreement = factory.SubFactory(AgreementFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = "partner"


class EscalationStepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "cooperation.EscalationStep"

    agreement = factory.SubFactory(AgreementFactory)
    order = factory.Sequence(lambda n: n + 1)
    handled_by = "Sozialraumteam"
    days = 14


class GoalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "cooperation.Goal"

    agreement = factory.SubFactory(AgreementFactory)
    title = factory.Sequence(lambda n: f"Wirkungsziel {n}")
    indicator = factory.SubFactory(IndicatorFactory)
    region = factory.SubFactory(RegionFactory)
    target_value = 10
    target_date = factory.LazyFunction(lambda: datetime.date(2028, 12, 31))


class NetworkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "cooperation.Network"
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Sozialraumteam {n}")
    kind = "social_space_team"
    public = False
    regions = _m2m("regions")
    fields = _m2m("fields")


class NetworkMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "cooperation.NetworkMember"

    network = factory.SubFactory(NetworkFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = "member"


class MeetingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "cooperation.Meeting"
        skip_postgeneration_save = True

    network = factory.SubFactory(NetworkFactory)
    starts_at = factory.LazyFunction(timezone.now)
    place = "Stadtteilzentrum"
    attendees = _m2m("attendees")


class MeetingTaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "cooperation.MeetingTask"

    meeting = factory.SubFactory(MeetingFactory)
    title = factory.Sequence(lambda n: f"Aufgabe {n}")
    responsible = factory.SubFactory(OrganizationFactory)
    due = factory.LazyFunction(lambda: datetime.date(2026, 12, 31))


class NeedReportFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "cooperation.NeedReport"

    reporter = factory.SubFactory(OrganizationFactory)
    region = factory.SubFactory(RegionFactory)
    field = factory.SubFactory(FieldOfActionFactory)
    title = factory.Sequence(lambda n: f"Bedarf {n}")
    description = "Wartelisten in der Erziehungsberatung seit Monaten."


class PlanningProcessFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "cooperation.PlanningProcess"
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"Planung {n}")
    mandate_goals = "Angebote für Jugendliche im Quartier abstimmen."
    regions = _m2m("regions")
    fields = _m2m("fields")


class PlanningParticipantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "cooperation.PlanningParticipant"

    process = factory.SubFactory(PlanningProcessFactory)
    organization = factory.SubFactory(OrganizationFactory)


class ConflictCaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "cooperation.ConflictCase"

    agreement = factory.SubFactory(AgreementFactory)
    raised_by = factory.SubFactory(OrganizationFactory)
    subject = factory.Sequence(lambda n: f"Konflikt {n}")
    description = "Zuständigkeit für Hausbesuche ist strittig."


def issue_token(owner, organization=None, scope="write", **kwargs) -> str:
    """An integration token's secret (cooperation.models.tokens), for
    ``Authorization: Token <secret>``."""
    from cooperation.models import IntegrationToken

    return IntegrationToken.issue(owner=owner, name=kwargs.pop("name", "Test"), scope=scope,
                                  organization=organization, **kwargs)[1]
