"""factory-boy factories for every model the tests create."""

import factory
from django.contrib.auth import get_user_model

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
