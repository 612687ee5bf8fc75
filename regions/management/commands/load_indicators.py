import json

from django.core.management.base import BaseCommand, CommandError

from regions.services import CatalogueError, upsert_indicators


class Command(BaseCommand):
    help = "Legt Indikatoren aus einem JSON-Katalog an oder aktualisiert sie (z. B. regions/catalogues/berlin.json)."

    def add_arguments(self, parser):
        parser.add_argument("file")

    def handle(self, *args, **opts):
        with open(opts["file"], encoding="utf-8-sig") as f:
            data = json.load(f)
        try:
            result = upsert_indicators(data["indicators"] if isinstance(data, dict) else data)
        except CatalogueError as e:
            raise CommandError(str(e)) from e
        self.stdout.write(", ".join(f"{k}={v}" for k, v in result.items()))
