"""manage.py compute_index: create/update an index from JSON, compute it, write
its results as CSV.

    compute_index --definition regions/catalogues/berlin-status-index.json
    compute_index berlin-status-kontext --period 2020-12-31 --csv ergebnis.csv
    compute_index berlin-status-kontext --period 2020-12-31 --csv          # CSV to stdout
    compute_index berlin-status-kontext --all-periods
"""

import csv
import json
import re

import pghistory
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from regions.api.serializers import CompositeIndexSerializer
from regions.choices import IndexResultStatus
from regions.indices import compute
from regions.models import PERIOD_REGEX, CompositeIndex, IndexResult

CSV_COLUMNS = ["region_code", "period", "value", "class"]


class Command(BaseCommand):
    help = (
        "Legt einen zusammengesetzten Index aus einer JSON-Definition an oder aktualisiert ihn, berechnet ihn "
        "(synchron) und schreibt die Ergebnisse als CSV region_code,period,value,class."
    )

    def add_arguments(self, parser):
        parser.add_argument("key", nargs="?", help="Schlüssel des Index (entfällt mit --definition: steht in der Datei)")
        parser.add_argument("--definition", metavar="FILE.json", help="Definition als JSON (siehe README)")
        parser.add_argument("--period", action="append", default=[], metavar="P",
                            help="Zeitraum berechnen, z. B. 2020-12-31 (wiederholbar)")
        parser.add_argument("--all-periods", action="store_true",
                            help="alle Zeiträume berechnen, in denen Komponenten Werte haben")
        parser.add_argument("--csv", nargs="?", const="-", metavar="OUT",
                            help="Ergebnisse als CSV in diese Datei schreiben (ohne Dateiname oder '-': stdout)")
        parser.add_argument("--user", help="Benutzername, der als Urheber eingetragen wird")

    def handle(self, *args, **opts):
        user = None
        if opts["user"]:
            try:
                user = get_user_model().objects.get(username=opts["user"])
            except get_user_model().DoesNotExist as e:
                raise CommandError(f"Benutzer {opts['user']!r} unbekannt") from e
        to_stdout = opts["csv"] == "-"
        info = self.stderr if to_stdout else self.stdout
        index = None
        with pghistory.context(command=f"compute_index {opts['key'] or opts['definition']}",
                               user=getattr(user, "pk", None)):
            if opts["definition"]:
                index = self.load_definition(opts["definition"], user, info)
                if opts["key"] and opts["key"] != index.key:
                    raise CommandError(f"Die Definition hat den Schlüssel {index.key!r}, nicht {opts['key']!r}")
            elif opts["key"]:
                index = CompositeIndex.objects.filter(key=opts["key"]).first()
                if index is None:
                    known = ", ".join(CompositeIndex.objects.values_list("key", flat=True)) or "keine"
                    raise CommandError(f"Index {opts['key']!r} unbekannt (vorhanden: {known})")
            else:
                raise CommandError("Schlüssel des Index oder --definition FILE.json angeben")

            periods = list(opts["period"])
            if opts["all_periods"]:
                periods += index.input_periods()
            for period in periods:
                if not re.match(PERIOD_REGEX, period):
                    raise CommandError(f"Zeitraum {period!r}: erwartet JJJJ, JJJJ-MM oder JJJJ-MM-TT")
            for period in sorted(set(periods)):
                summary = compute(index.pk, period, user=user)
                info.write(
                    f"{index.key} {period}: {summary['ok']} berechnet, {summary['excluded']} ausgeschlossen, "
                    f"{summary['missing']} mit fehlenden Werten; Indikatorwerte: {summary['values_created']} neu, "
                    f"{summary['values_updated']} geändert, {summary['values_removed']} entfernt"
                )
                for warning in summary["warnings"]:
                    info.write(f"  Hinweis: {warning}")

        if opts["csv"] is not None:
            self.write_csv(index, sorted(set(periods)), opts["csv"])

    def load_definition(self, path, user, info):
        try:
            with open(path, encoding="utf-8-sig") as f:
                data = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            raise CommandError(f"{path}: {e}") from e
        if not isinstance(data, dict) or not data.get("key"):
            raise CommandError(f"{path}: erwartet ein JSON-Objekt mit key, name, scope_level, components …")
        existing = CompositeIndex.objects.filter(key=data["key"]).first()
        serializer = CompositeIndexSerializer(instance=existing, data=data)
        if not serializer.is_valid():
            lines = [f"{path}: Definition ungültig, nichts gespeichert:"]
            for name, problems in serializer.errors.items():
                lines.append(f"  {name}: {json.dumps(problems, ensure_ascii=False)}")
            raise CommandError("\n".join(lines))
        index = serializer.save(updated_by=user, created_by=user)
        info.write(f"Index {index.key} {'aktualisiert' if existing else 'angelegt'} "
                   f"(Ergebnis-Indikator {index.result_indicator.key})")
        return index

    def write_csv(self, index, periods, target):
        """Every region in scope: value and class, empty for excluded and missing
        regions. Without --period: every period with results."""
        results = IndexResult.objects.filter(index=index).select_related("region").order_by("period", "region__code")
        if periods:
            results = results.filter(period__in=periods)
        if target == "-":
            self._write_rows(self.stdout, results)
            return
        with open(target, "w", encoding="utf-8", newline="") as f:
            count = self._write_rows(f, results)
        self.stdout.write(f"{count} Zeilen nach {target} geschrieben")

    @staticmethod
    def _write_rows(out, results) -> int:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        count = 0
        for r in results.iterator():
            ok = r.status == IndexResultStatus.OK
            writer.writerow([r.region.code, r.period, str(r.value) if ok else "", r.class_label if ok else ""])
            count += 1
        return count
