"""Our catalogues as HSDS taxonomies and taxonomy terms.

HSDS identifies taxonomies and terms by UUID. Ours have keys (fields of action,
target groups) or are fixed choice sets (setting, work mode, …), so the UUIDs are
derived with uuid5 from a fixed namespace and ``"<kind>:<key>"`` — e.g.
``handlungsfeld:kjh-hze``, ``zielgruppe:familien``, ``setting:ambulant`` — and
taxonomies from ``"taxonomy:<kind>"``. They are stable without a column of their
own, and the same key gives the same id in every installation. Keys are meant to
be permanent; a changed key is a new term.

Every other id the HSDS API derives (attributes, phones, schedules, …: objects
that are fields of a row here, not rows) comes from the same namespace.
"""

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import models
from django.utils import translation

from core.models import FieldOfAction

from ..choices import Accessibility, AccessMode, LegalBasis, OrganizationKind, Setting, Umbrella, WorkMode
from ..models import TargetGroup

#: Fixed namespace of every derived id. Never change it: ids would change.
NAMESPACE = uuid.UUID("c315d57d-bebb-4e56-857b-c1da755cb111")


def derived_uuid(name: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, name)


def german(label) -> str:
    """A (lazy) label in the installation's language: the HSDS output does not
    follow the visitor's language switch, so ids and names stay together."""
    with translation.override(settings.LANGUAGE_CODE):
        return str(label)


@dataclass(frozen=True)
class Taxonomy:
    kind: str  # the prefix of its terms' derivation names
    name: str
    description: str
    choices: type[models.TextChoices] | None = None  # a fixed set; None: a catalogue in the database
    skip: tuple[str, ...] = ()  # choice values that are no term (e.g. "no umbrella")

    @property
    def id(self) -> uuid.UUID:
        return derived_uuid(f"taxonomy:{self.kind}")


FIELD = Taxonomy(
    "handlungsfeld", "Handlungsfelder",
    "Handlungsfelder der sozialen Arbeit und Daseinsvorsorge, hierarchisch "
    "(z. B. Kinder- und Jugendhilfe › Hilfen zur Erziehung › Erziehungsberatung).",
)
TARGET_GROUP = Taxonomy("zielgruppe", "Zielgruppen",
                        "Zielgruppen der Angebote, hierarchisch (z. B. Kinder › Kinder unter 6 Jahren).")
SETTING = Taxonomy("setting", "Settings", "Wie die Hilfe erbracht wird: ambulant, teilstationär, stationär oder offen.", Setting)
WORK_MODE = Taxonomy(
    "arbeitsweise", "Arbeitsweisen",
    "Fallspezifische, fallübergreifende und fallunspezifische (präventive) Arbeit im Sozialraum.", WorkMode,
)
ACCESS_MODE = Taxonomy("zugang", "Zugangswege", "Wie Menschen zu dem Angebot kommen (offene Sprechstunde, Termin, Zuweisung …).",
                       AccessMode)
ACCESSIBILITY = Taxonomy("barrierefreiheit", "Barrierefreiheit", "Merkmale der Barrierefreiheit eines Angebots.", Accessibility)
LEGAL_BASIS = Taxonomy("rechtsgrundlage", "Rechtsgrundlagen", "Rechtsgrundlagen der Angebote (Sozialgesetzbücher u. a.).",
                       LegalBasis)
ORGANIZATION_KIND = Taxonomy("organisationsart", "Organisationsarten",
                             "Art einer Organisation (freier Träger, Schule, Kita, Jobcenter …).", OrganizationKind)
UMBRELLA = Taxonomy("dachverband", "Dachverbände", "Spitzenverband der freien Wohlfahrtspflege, dem eine Organisation angehört.",
                    Umbrella, skip=(Umbrella.NONE,))

TAXONOMIES: list[Taxonomy] = [FIELD, TARGET_GROUP, SETTING, WORK_MODE, ACCESS_MODE, ACCESSIBILITY, LEGAL_BASIS,
                              ORGANIZATION_KIND, UMBRELLA]
BY_ID: dict[uuid.UUID, Taxonomy] = {t.id: t for t in TAXONOMIES}


@dataclass(frozen=True)
class Term:
    taxonomy: Taxonomy
    code: str
    name: str
    description: str = ""
    parent_code: str | None = None

    @property
    def id(self) -> uuid.UUID:
        return term_uuid(self.taxonomy, self.code)

    @property
    def parent_id(self) -> uuid.UUID | None:
        return term_uuid(self.taxonomy, self.parent_code) if self.parent_code else None


def term_uuid(taxonomy: Taxonomy, code: str) -> uuid.UUID:
    return derived_uuid(f"{taxonomy.kind}:{code}")


def choice_term(taxonomy: Taxonomy, value: str) -> Term:
    return Term(taxonomy, value, german(taxonomy.choices(value).label))


def choice_terms(taxonomy: Taxonomy) -> list[Term]:
    return [choice_term(taxonomy, value) for value in taxonomy.choices.values if value not in taxonomy.skip]


def field_term(field: FieldOfAction) -> Term:
    """``field`` with its parent's key loaded (``select_related("parent")``)."""
    return Term(FIELD, field.key, field.name, field.description, field.parent.key if field.parent_id else None)


def target_group_term(group: TargetGroup) -> Term:
    return Term(TARGET_GROUP, group.key, group.name, "", group.parent.key if group.parent_id else None)


def field_queryset():
    return FieldOfAction.objects.select_related("parent").only("key", "name", "description", "parent", "parent__key")


def target_group_queryset():
    return TargetGroup.objects.select_related("parent").only("key", "name", "parent", "parent__key", "order")


def all_terms() -> list[Term]:
    """Every term of every taxonomy (two queries): taxonomies in their order,
    fields of action in tree order, parents before their children."""
    terms = [field_term(f) for f in field_queryset().tree_order()]
    groups = sorted(target_group_queryset(), key=lambda g: (g.parent_id is not None, g.order, g.name))
    terms += [target_group_term(g) for g in groups]
    for taxonomy in TAXONOMIES:
        if taxonomy.choices is not None:
            terms += choice_terms(taxonomy)
    return terms


def find_term(term_id: uuid.UUID) -> Term | None:
    """The term with this id, or None (at most one query per catalogue)."""
    for taxonomy in TAXONOMIES:
        if taxonomy.choices is not None:
            for value in taxonomy.choices.values:
                if value not in taxonomy.skip and term_uuid(taxonomy, value) == term_id:
                    return choice_term(taxonomy, value)
    for taxonomy, queryset, make in ((FIELD, field_queryset, field_term), (TARGET_GROUP, target_group_queryset,
                                                                          target_group_term)):
        keys = queryset().model.objects.values_list("key", flat=True)
        key = next((k for k in keys if term_uuid(taxonomy, k) == term_id), None)
        if key is not None:
            return make(queryset().get(key=key))
    return None
