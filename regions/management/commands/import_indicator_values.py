from core.management.importcommand import ImportCommand


class Command(ImportCommand):
    help = "Importiert indicator_values (siehe README: Importe) – atomar, mit Zeilennummern bei Fehlern."
    kind = "indicator_values"
