"""The German default set of fields of action (Handlungsfelder).

A frozen copy of ``core.fields_of_action.DEFAULT_FIELDS`` as shipped with this
migration (migrations must not depend on code that changes later). Later
additions reach existing installations with ``manage.py load_fields_of_action``.
"""

import pghistory
from django.db import migrations

# key, name, parent key, legal basis, order, description (parents first)
FIELDS = [
    ('kjh', 'Kinder- und Jugendhilfe', None, 'SGB VIII', 10, 'Leistungen und andere Aufgaben der öffentlichen und freien Jugendhilfe.'),
    ('kjh-jugendarbeit', 'Jugendarbeit', 'kjh', '§ 11 SGB VIII', 10, 'Offene Kinder- und Jugendarbeit, Jugendverbandsarbeit, Jugendbildung.'),
    ('kjh-jugendsozialarbeit', 'Jugendsozialarbeit', 'kjh', '§§ 13, 13a SGB VIII', 20, 'Sozialpädagogische Hilfen für junge Menschen, einschließlich Schulsozialarbeit.'),
    ('kjh-jugendschutz', 'Kinder- und Jugendschutz', 'kjh', '§ 14 SGB VIII', 30, 'Erzieherischer Kinder- und Jugendschutz.'),
    ('kjh-familienfoerderung', 'Förderung der Erziehung in der Familie', 'kjh', '§§ 16–21 SGB VIII', 40, 'Allgemeine Förderung, Beratung in Fragen der Partnerschaft, Trennung und Scheidung, gemeinsame Wohnformen für Mütter/Väter und Kinder.'),
    ('kjh-kita', 'Kindertagesbetreuung', 'kjh', '§§ 22 ff. SGB VIII', 50, 'Förderung von Kindern in Tageseinrichtungen und in Kindertagespflege.'),
    ('kjh-hze', 'Hilfen zur Erziehung', 'kjh', '§§ 27 ff. SGB VIII', 60, 'Ambulante, teilstationäre und stationäre Hilfen zur Erziehung.'),
    ('kjh-hze-erziehungsberatung', 'Erziehungsberatung', 'kjh-hze', '§ 28 SGB VIII', 10, ''),
    ('kjh-hze-gruppenarbeit', 'Soziale Gruppenarbeit', 'kjh-hze', '§ 29 SGB VIII', 20, ''),
    ('kjh-hze-erziehungsbeistand', 'Erziehungsbeistand, Betreuungshelfer', 'kjh-hze', '§ 30 SGB VIII', 30, ''),
    ('kjh-hze-spfh', 'Sozialpädagogische Familienhilfe', 'kjh-hze', '§ 31 SGB VIII', 40, ''),
    ('kjh-hze-tagesgruppe', 'Erziehung in einer Tagesgruppe', 'kjh-hze', '§ 32 SGB VIII', 50, ''),
    ('kjh-hze-vollzeitpflege', 'Vollzeitpflege', 'kjh-hze', '§ 33 SGB VIII', 60, ''),
    ('kjh-hze-heimerziehung', 'Heimerziehung, sonstige betreute Wohnform', 'kjh-hze', '§ 34 SGB VIII', 70, ''),
    ('kjh-hze-ise', 'Intensive sozialpädagogische Einzelbetreuung', 'kjh-hze', '§ 35 SGB VIII', 80, ''),
    ('kjh-eingliederungshilfe', 'Eingliederungshilfe für junge Menschen mit seelischer Behinderung', 'kjh', '§ 35a SGB VIII', 70, ''),
    ('kjh-junge-volljaehrige', 'Hilfe für junge Volljährige', 'kjh', '§ 41 SGB VIII', 80, ''),
    ('kjh-inobhutnahme', 'Inobhutnahme', 'kjh', '§ 42 SGB VIII', 90, 'Vorläufige Schutzmaßnahmen für Kinder und Jugendliche.'),
    ('kjh-fruehe-hilfen', 'Frühe Hilfen', 'kjh', '§§ 1, 3 KKG', 100, 'Unterstützung von Familien ab der Schwangerschaft und mit Kindern bis drei Jahre; Netzwerke Frühe Hilfen.'),
    ('eingliederungshilfe', 'Eingliederungshilfe', None, 'SGB IX Teil 2', 20, 'Leistungen für Menschen mit Behinderungen.'),
    ('altenhilfe', 'Altenhilfe', None, '§ 71 SGB XII', 30, 'Offene Altenarbeit, Begegnung, Beratung und Teilhabe älterer Menschen.'),
    ('pflege', 'Pflege', None, 'SGB XI; §§ 61 ff. SGB XII', 40, 'Pflegeberatung, Pflegestützpunkte, Hilfe zur Pflege.'),
    ('existenzsicherung', 'Hilfe zum Lebensunterhalt und Grundsicherung', None, 'SGB XII; SGB II', 50, ''),
    ('gesundheit', 'Gesundheit', None, 'Gesundheitsdienstgesetze der Länder (ÖGD); §§ 20, 20a SGB V', 60, 'Öffentlicher Gesundheitsdienst, Gesundheitsförderung und Prävention in Lebenswelten.'),
    ('migration', 'Migration und Integration', None, '§§ 43 ff. AufenthG; Integrationsgesetze der Länder', 70, 'Migrationsberatung, Integrationskurse, Teilhabe.'),
    ('arbeit', 'Arbeit und Beschäftigung', None, 'SGB II; SGB III', 80, 'Beratung, Förderung und Beschäftigung von Arbeitsuchenden.'),
    ('wohnen', 'Wohnen und Wohnungsnotfallhilfe', None, '§§ 67 ff. SGB XII', 90, 'Hilfe zur Überwindung besonderer sozialer Schwierigkeiten, Wohnungslosenhilfe, Prävention von Wohnungsverlust.'),
    ('sucht', 'Suchthilfe', None, '§ 16a SGB II; SGB V; SGB VI', 100, 'Suchtprävention, Suchtberatung und -behandlung.'),
    ('schuldnerberatung', 'Schuldner- und Insolvenzberatung', None, '§ 16a SGB II; § 11 Abs. 5 SGB XII; § 305 InsO', 110, ''),
    ('familienbildung', 'Familienbildung', None, '§ 16 Abs. 2 Nr. 1 SGB VIII; Weiterbildungsgesetze der Länder', 120, 'Familienbildungsstätten und -angebote, Eltern- und Familienzentren.'),
    ('gewaltschutz', 'Gewaltschutz und Frauenhäuser', None, 'Gewaltschutzgesetz; Istanbul-Konvention', 130, 'Schutz vor häuslicher und sexualisierter Gewalt: Frauenhäuser, Beratung, Täterarbeit.'),
    ('bildung', 'Bildung', None, 'Schul- und Weiterbildungsgesetze der Länder', 140, 'Schule, Erwachsenenbildung, Bildungsberatung, kommunale Bildungslandschaften.'),
    ('quartiersmanagement', 'Quartiersmanagement und Gemeinwesenarbeit', None, '§ 171e BauGB', 150, 'Stadtteilarbeit, Nachbarschaft, Beteiligung, Sozialer Zusammenhalt.'),
]


def load(apps, schema_editor):
    FieldOfAction = apps.get_model("core", "FieldOfAction")
    by_key = {f.key: f for f in FieldOfAction.objects.all()}
    with pghistory.context(command="migrate core 0003_default_fields_of_action"):
        for key, name, parent_key, legal_basis, order, description in FIELDS:
            if key in by_key:
                continue
            parent = by_key.get(parent_key) if parent_key else None
            obj = FieldOfAction.objects.create(
                key=key, name=name, parent=parent, legal_basis=legal_basis, order=order, description=description,
                depth=parent.depth + 1 if parent else 0, active=True,
            )
            # the historical model has no custom save(): set the materialised path here
            obj.path = f"{parent.path if parent else ''}{obj.pk}/"
            obj.save(update_fields=["path"])
            by_key[key] = obj


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0002_fieldofaction"),
    ]

    operations = [
        migrations.RunPython(load, migrations.RunPython.noop),
    ]
