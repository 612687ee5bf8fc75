from core.management.importcommand import ImportCommand


class Command(ImportCommand):
    help = "Importiert regions (siehe README: Importe) – atomar, mit Zeilennummern bei Fehlern."
    kind = "regions"
