"""Base for the import management commands (one code path with the upload page
and the API: ``core.imports.base.import_now``)."""

import json

import pghistory
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from core.imports.base import import_now


class ImportCommand(BaseCommand):
    kind: str | None = None  # set by subclasses; None = taken from the command line

    def add_arguments(self, parser):
        if self.kind is None:
            parser.add_argument("kind", help="Importart, z. B. regions, boundaries, indicator_values")
        parser.add_argument("file", help="Datei (CSV, XLSX oder GeoJSON)")
        parser.add_argument("--profile", help="Profil eines bekannten Dateiformats, z. B. berlin-lor")
        parser.add_argument(
            "--option", "-o", action="append", default=[], metavar="KEY=VALUE",
            help="Option (VALUE als Text; Listen/Objekte als JSON), z. B. -o period=2022-06-30 -o 'ignore_columns=[\"Name\"]'",
        )
        parser.add_argument("--options-json", help="alle Optionen als JSON-Objekt")
        parser.add_argument("--dry-run", action="store_true", help="nur prüfen und zeigen, was sich ändern würde")
        parser.add_argument("--user", help="Benutzername, der als Urheber eingetragen wird")

    def handle(self, *args, **opts):
        kind = self.kind or opts["kind"]
        options = json.loads(opts["options_json"]) if opts.get("options_json") else {}
        for item in opts["option"]:
            key, sep, value = item.partition("=")
            if not sep:
                raise CommandError(f"--option {item!r}: erwartet KEY=VALUE")
            # JSON for lists, objects and quoted strings; anything else is text
            # (so "-o period=2022" stays the text "2022").
            if value[:1] in "[{\"" and value:
                try:
                    options[key] = json.loads(value)
                except json.JSONDecodeError as e:
                    raise CommandError(f"--option {key}: kein gültiges JSON ({e})") from e
            else:
                options[key] = value
        if opts.get("profile"):
            options["profile"] = opts["profile"]
        user = None
        if opts.get("user"):
            user = get_user_model().objects.get(username=opts["user"])
        with pghistory.context(command=f"{kind} {opts['file']}", user=getattr(user, "pk", None)):
            run = import_now(kind, opts["file"], user=user, options=options, dry_run=opts["dry_run"],
                             original_name=opts["file"])
        self.report(run)
        if run.status != run.Status.SUCCEEDED:
            raise CommandError(f"Import abgelehnt: {run.error_count} Fehler, nichts geschrieben.")

    def report(self, run):
        out = self.stdout
        if run.status == run.Status.SUCCEEDED:
            prefix = "Probelauf (nichts geschrieben): " if run.dry_run else ""
            summary = {k: v for k, v in run.summary.items() if not isinstance(v, list) or len(v) < 20}
            out.write(prefix + ", ".join(f"{k}={v}" for k, v in summary.items()))
        else:
            err = self.stderr
            for e in run.errors:
                where = f"Zeile {e['line']}" if e.get("line") is not None else "Datei"
                if e.get("column"):
                    where += f", Spalte {e['column']}"
                err.write(f"{where}: {e['message']}")
            if run.error_count > len(run.errors):
                err.write(f"… und {run.error_count - len(run.errors)} weitere Fehler")
