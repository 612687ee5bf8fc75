from core.management.importcommand import ImportCommand


class Command(ImportCommand):
    help = "Importiert eine Datei (Art: regions, boundaries, indicator_values, …) – atomar, mit Zeilennummern bei Fehlern."
