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
