from core.management.importcommand import ImportCommand


class Command(ImportCommand):
    help = "Importiert boundaries (siehe README: Importe) – atomar, mit Zeilennummern bei Fehlern."
    kind = "boundaries"
