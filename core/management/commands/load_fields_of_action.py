import pghistory
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from core.fields_of_action import merge_fields_of_action


class Command(BaseCommand):
    help = (
        "Ergänzt die mitgelieferten Handlungsfelder (core/fields_of_action.py): fehlende werden angelegt, "
        "von der Planung geänderte oder gelöschte bleiben, wie sie sind. Mehrfach ausführbar."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--update-untouched", action="store_true",
            help="Handlungsfelder, die seit dem Laden niemand geändert hat, auf den mitgelieferten Stand bringen",
        )
        parser.add_argument("--dry-run", action="store_true", help="nur zeigen, was sich ändern würde")

    def handle(self, *args, **opts):
        with pghistory.context(command="load_fields_of_action"):
            try:
                result = merge_fields_of_action(update_untouched=opts["update_untouched"], dry_run=opts["dry_run"])
            except ValidationError as e:
                raise CommandError(f"Handlungsfelder nicht geladen: {e}") from e
        prefix = "Probelauf (nichts geschrieben): " if opts["dry_run"] else ""
        counts = ", ".join(f"{k}={len(v)}" for k, v in result.items())
        self.stdout.write(f"{prefix}{counts}")
        for label, key in (("angelegt", "created"), ("aktualisiert", "updated"), ("belassen (geändert)", "kept")):
            if result[key]:
                self.stdout.write(f"  {label}: {', '.join(result[key])}")
        for key, reason in result["skipped"]:
            self.stdout.write(f"  übersprungen: {key} ({reason})")
