"""The default target groups (Zielgruppen); planners may change them."""

from django.db import migrations

DEFAULTS = [
    # key, name, parent key
    ("kinder", "Kinder", None),
    ("kinder-unter-6", "Kinder unter 6 Jahren", "kinder"),
    ("kinder-6-13", "Kinder von 6 bis 13 Jahren", "kinder"),
    ("jugendliche", "Jugendliche (14–17 Jahre)", None),
    ("junge-volljaehrige", "Junge Volljährige (18–26 Jahre)", None),
    ("familien", "Familien", None),
    ("eltern", "Eltern", "familien"),
    ("alleinerziehende", "Alleinerziehende", "familien"),
    ("schwangere", "Schwangere und werdende Eltern", "familien"),
    ("erwachsene", "Erwachsene", None),
    ("seniorinnen", "Seniorinnen und Senioren", None),
    ("pflegebeduerftige", "Pflegebedürftige", "seniorinnen"),
    ("pflegende-angehoerige", "Pflegende Angehörige", None),
    ("menschen-mit-behinderung", "Menschen mit Behinderung", None),
    ("psychisch-erkrankte", "Menschen mit psychischen Erkrankungen", None),
    ("suchtkranke", "Menschen mit Suchterkrankung", None),
    ("gefluechtete", "Geflüchtete", None),
    ("zugewanderte", "Zugewanderte", None),
    ("wohnungslose", "Wohnungslose und von Wohnungslosigkeit Bedrohte", None),
    ("arbeitsuchende", "Arbeitsuchende", None),
    ("verschuldete", "Überschuldete Haushalte", None),
    ("frauen", "Frauen", None),
    ("maenner", "Männer", None),
    ("lsbtiq", "LSBTIQ*", None),
    ("gewaltbetroffene", "Von Gewalt Betroffene", None),
    ("fachkraefte", "Fachkräfte und Ehrenamtliche", None),
    ("alle", "Alle Menschen im Sozialraum", None),
]


def load(apps, schema_editor):
    TargetGroup = apps.get_model("cooperation", "TargetGroup")
    by_key = {}
    for order, (key, name, parent) in enumerate(DEFAULTS):
        group, _ = TargetGroup.objects.get_or_create(
            key=key, defaults={"name": name, "parent": by_key.get(parent), "order": order}
        )
        by_key[key] = group


class Migration(migrations.Migration):
    dependencies = [("cooperation", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
