"""The German default set of fields of action (Handlungsfelder), and the merge
that brings it into an installation.

A new installation gets the set from the data migration
``core/migrations/0003_default_fields_of_action.py`` (a frozen copy of the set
as it was then). An existing installation takes later additions with
``manage.py load_fields_of_action``: missing fields are added, fields that a
planner changed or deleted are left alone.

Keys are stable: integrations and imports refer to them. Parents come before
their sub-fields.
"""

from django.apps import apps
from django.db import transaction

SGB8 = "SGB VIII"

DEFAULT_FIELDS: list[dict] = [
    {"key": "kjh", "name": "Kinder- und Jugendhilfe", "parent": None, "legal_basis": SGB8, "order": 10,
     "description": "Leistungen und andere Aufgaben der öffentlichen und freien Jugendhilfe."},
    {"key": "kjh-jugendarbeit", "name": "Jugendarbeit", "parent": "kjh", "legal_basis": f"§ 11 {SGB8}",
     "order": 10, "description": "Offene Kinder- und Jugendarbeit, Jugendverbandsarbeit, Jugendbildung."},
    {"key": "kjh-jugendsozialarbeit", "name": "Jugendsozialarbeit", "parent": "kjh",
     "legal_basis": f"§§ 13, 13a {SGB8}", "order": 20,
     "description": "Sozialpädagogische Hilfen für junge Menschen, einschließlich Schulsozialarbeit."},
    {"key": "kjh-jugendschutz", "name": "Kinder- und Jugendschutz", "parent": "kjh", "legal_basis": f"§ 14 {SGB8}",
     "order": 30, "description": "Erzieherischer Kinder- und Jugendschutz."},
    {"key": "kjh-familienfoerderung", "name": "Förderung der Erziehung in der Familie", "parent": "kjh",
     "legal_basis": f"§§ 16–21 {SGB8}", "order": 40,
     "description": "Allgemeine Förderung, Beratung in Fragen der Partnerschaft, Trennung und Scheidung, "
                    "gemeinsame Wohnformen für Mütter/Väter und Kinder."},
    {"key": "kjh-kita", "name": "Kindertagesbetreuung", "parent": "kjh", "legal_basis": f"§§ 22 ff. {SGB8}",
     "order": 50, "description": "Förderung von Kindern in Tageseinrichtungen und in Kindertagespflege."},
    {"key": "kjh-hze", "name": "Hilfen zur Erziehung", "parent": "kjh", "legal_basis": f"§§ 27 ff. {SGB8}",
     "order": 60, "description": "Ambulante, teilstationäre und stationäre Hilfen zur Erziehung."},
    {"key": "kjh-hze-erziehungsberatung", "name": "Erziehungsberatung", "parent": "kjh-hze",
     "legal_basis": f"§ 28 {SGB8}", "order": 10, "description": ""},
    {"key": "kjh-hze-gruppenarbeit", "name": "Soziale Gruppenarbeit", "parent": "kjh-hze",
     "legal_basis": f"§ 29 {SGB8}", "order": 20, "description": ""},
    {"key": "kjh-hze-erziehungsbeistand", "name": "Erziehungsbeistand, Betreuungshelfer", "parent": "kjh-hze",
     "legal_basis": f"§ 30 {SGB8}", "order": 30, "description": ""},
    {"key": "kjh-hze-spfh", "name": "Sozialpädagogische Familienhilfe", "parent": "kjh-hze",
     "legal_basis": f"§ 31 {SGB8}", "order": 40, "description": ""},
    {"key": "kjh-hze-tagesgruppe", "name": "Erziehung in einer Tagesgruppe", "parent": "kjh-hze",
     "legal_basis": f"§ 32 {SGB8}", "order": 50, "description": ""},
    {"key": "kjh-hze-vollzeitpflege", "name": "Vollzeitpflege", "parent": "kjh-hze",
     "legal_basis": f"§ 33 {SGB8}", "order": 60, "description": ""},
    {"key": "kjh-hze-heimerziehung", "name": "Heimerziehung, sonstige betreute Wohnform", "parent": "kjh-hze",
     "legal_basis": f"§ 34 {SGB8}", "order": 70, "description": ""},
    {"key": "kjh-hze-ise", "name": "Intensive sozialpädagogische Einzelbetreuung", "parent": "kjh-hze",
     "legal_basis": f"§ 35 {SGB8}", "order": 80, "description": ""},
    {"key": "kjh-eingliederungshilfe",
     "name": "Eingliederungshilfe für junge Menschen mit seelischer Behinderung", "parent": "kjh",
     "legal_basis": f"§ 35a {SGB8}", "order": 70, "description": ""},
    {"key": "kjh-junge-volljaehrige", "name": "Hilfe für junge Volljährige", "parent": "kjh",
     "legal_basis": f"§ 41 {SGB8}", "order": 80, "description": ""},
    {"key": "kjh-inobhutnahme", "name": "Inobhutnahme", "parent": "kjh", "legal_basis": f"§ 42 {SGB8}",
     "order": 90, "description": "Vorläufige Schutzmaßnahmen für Kinder und Jugendliche."},
    {"key": "kjh-fruehe-hilfen", "name": "Frühe Hilfen", "parent": "kjh", "legal_basis": "§§ 1, 3 KKG",
     "order": 100, "description": "Unterstützung von Familien ab der Schwangerschaft und mit Kindern bis drei "
                                  "Jahre; Netzwerke Frühe Hilfen."},
    {"key": "eingliederungshilfe", "name": "Eingliederungshilfe", "parent": None, "legal_basis": "SGB IX Teil 2",
     "order": 20, "description": "Leistungen für Menschen mit Behinderungen."},
    {"key": "altenhilfe", "name": "Altenhilfe", "parent": None, "legal_basis": "§ 71 SGB XII", "order": 30,
     "description": "Offene Altenarbeit, Begegnung, Beratung und Teilhabe älterer Menschen."},
    {"key": "pflege", "name": "Pflege", "parent": None, "legal_basis": "SGB XI; §§ 61 ff. SGB XII", "order": 40,
     "description": "Pflegeberatung, Pflegestützpunkte, Hilfe zur Pflege."},
    {"key": "existenzsicherung", "name": "Hilfe zum Lebensunterhalt und Grundsicherung", "parent": None,
     "legal_basis": "SGB XII; SGB II", "order": 50, "description": ""},
    {"key": "gesundheit", "name": "Gesundheit", "parent": None,
     "legal_basis": "Gesundheitsdienstgesetze der Länder (ÖGD); §§ 20, 20a SGB V", "order": 60,
     "description": "Öffentlicher Gesundheitsdienst, Gesundheitsförderung und Prävention in Lebenswelten."},
    {"key": "migration", "name": "Migration und Integration", "parent": None,
     "legal_basis": "§§ 43 ff. AufenthG; Integrationsgesetze der Länder", "order": 70,
     "description": "Migrationsberatung, Integrationskurse, Teilhabe."},
    {"key": "arbeit", "name": "Arbeit und Beschäftigung", "parent": None, "legal_basis": "SGB II; SGB III",
     "order": 80, "description": "Beratung, Förderung und Beschäftigung von Arbeitsuchenden."},
    {"key": "wohnen", "name": "Wohnen und Wohnungsnotfallhilfe", "parent": None,
     "legal_basis": "§§ 67 ff. SGB XII", "order": 90,
     "description": "Hilfe zur Überwindung besonderer sozialer Schwierigkeiten, Wohnungslosenhilfe, "
                    "Prävention von Wohnungsverlust."},
    {"key": "sucht", "name": "Suchthilfe", "parent": None, "legal_basis": "§ 16a SGB II; SGB V; SGB VI",
     "order": 100, "description": "Suchtprävention, Suchtberatung und -behandlung."},
    {"key": "schuldnerberatung", "name": "Schuldner- und Insolvenzberatung", "parent": None,
     "legal_basis": "§ 16a SGB II; § 11 Abs. 5 SGB XII; § 305 InsO", "order": 110, "description": ""},
    {"key": "familienbildung", "name": "Familienbildung", "parent": None,
     "legal_basis": f"§ 16 Abs. 2 Nr. 1 {SGB8}; Weiterbildungsgesetze der Länder", "order": 120,
     "description": "Familienbildungsstätten und -angebote, Eltern- und Familienzentren."},
    {"key": "gewaltschutz", "name": "Gewaltschutz und Frauenhäuser", "parent": None,
     "legal_basis": "Gewaltschutzgesetz; Istanbul-Konvention", "order": 130,
     "description": "Schutz vor häuslicher und sexualisierter Gewalt: Frauenhäuser, Beratung, Täterarbeit."},
    {"key": "bildung", "name": "Bildung", "parent": None, "legal_basis": "Schul- und Weiterbildungsgesetze der Länder",
     "order": 140, "description": "Schule, Erwachsenenbildung, Bildungsberatung, kommunale Bildungslandschaften."},
    {"key": "quartiersmanagement", "name": "Quartiersmanagement und Gemeinwesenarbeit", "parent": None,
     "legal_basis": "§ 171e BauGB", "order": 150,
     "description": "Stadtteilarbeit, Nachbarschaft, Beteiligung, Sozialer Zusammenhalt."},
]

#: the fields a default sets (the key identifies the row)
CONTENT_FIELDS = ("name", "legal_basis", "order", "description")


def _model():
    return apps.get_model("core", "FieldOfAction")


def differences(obj, definition: dict) -> list[str]:
    """Names of the fields in which ``obj`` differs from ``definition``."""
    out = [f for f in CONTENT_FIELDS if getattr(obj, f) != definition.get(f, "" if f != "order" else 0)]
    parent_key = obj.parent.key if obj.parent_id else None
    if parent_key != definition.get("parent"):
        out.append("parent")
    return out


@transaction.atomic
def merge_fields_of_action(definitions=None, *, update_untouched: bool = False, dry_run: bool = False) -> dict:
    """Merge a set of fields of action (by default the shipped German set) into
    the database, idempotently.

    - A missing field is added (below its parent, given by key; inactive if the
      parent is). A field a planner deleted is not added again.
    - An existing field is left as it is: a planner's changes (name, legal
      basis, order, parent, deactivation) are never overwritten. With
      ``update_untouched``, fields that nobody has changed since they were
      loaded (no ``updated_by``) take the shipped values.

    Returns {"created": [...], "updated": [...], "unchanged": [...],
    "kept": [...] (differ, left as they are), "skipped": [(key, reason), ...]}.
    """
    model = _model()
    definitions = DEFAULT_FIELDS if definitions is None else definitions
    existing = {f.key: f for f in model.objects.select_related("parent")}
    event_model = apps.get_model("core", "FieldOfActionEvent")
    deleted = set(event_model.objects.filter(pgh_label="delete").values_list("key", flat=True)) - set(existing)
    result = {"created": [], "updated": [], "unchanged": [], "kept": [], "skipped": []}
    for d in definitions:
        key = d["key"]
        parent = existing.get(d["parent"]) if d.get("parent") else None
        obj = existing.get(key)
        if obj is None:
            if key in deleted:
                result["skipped"].append((key, "gelöscht"))
                continue
            if d.get("parent") and parent is None:
                result["skipped"].append((key, f"übergeordnetes Handlungsfeld {d['parent']} fehlt"))
                continue
            obj = model(key=key, parent=parent, active=parent.active if parent else True,
                        **{f: d[f] for f in CONTENT_FIELDS if f in d})
            obj.full_clean()
            obj.save()
            existing[key] = obj
            result["created"].append(key)
            continue
        changed = differences(obj, d)
        if not changed:
            result["unchanged"].append(key)
        elif update_untouched and obj.updated_by_id is None and obj.created_by_id is None and (
            "parent" not in changed or not d.get("parent") or parent is not None
        ):
            for f in CONTENT_FIELDS:
                if f in d:
                    setattr(obj, f, d[f])
            obj.parent = parent
            obj.full_clean()
            obj.save()
            result["updated"].append(key)
        else:
            result["kept"].append(key)
    if dry_run:
        transaction.set_rollback(True)
    return result
