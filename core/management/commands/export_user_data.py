"""``manage.py export_user_data <username>``: the personal data of a staff
account as JSON (DSGVO Art. 15/20), to stdout or a file."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from core import privacy


class Command(BaseCommand):
    help = "Gibt alle personenbezogenen Daten eines Benutzerkontos als JSON aus (Auskunft, Art. 15 DSGVO)."

    def add_arguments(self, parser):
        parser.add_argument("username", help="Benutzername des Kontos")
        parser.add_argument("--output", "-o", help="in diese Datei schreiben statt auf die Standardausgabe")
        parser.add_argument("--by", help="Benutzername der Person, die die Auskunft veranlasst (Sicherheitsprotokoll)")

    def handle(self, *args, **opts):
        user = _user(opts["username"])
        by = _user(opts["by"]) if opts.get("by") else None
        text = privacy.export_json(user)
        privacy.log_export(user, by=by)
        if opts.get("output"):
            Path(opts["output"]).write_text(text + "\n", encoding="utf-8")
            self.stderr.write(f"Daten von Konto {user.pk} geschrieben nach {opts['output']}")
        else:
            self.stdout.write(text)


def _user(username):
    try:
        return get_user_model()._default_manager.get_by_natural_key(username)
    except get_user_model().DoesNotExist as e:
        raise CommandError(f"Kein Benutzerkonto {username!r}.") from e
