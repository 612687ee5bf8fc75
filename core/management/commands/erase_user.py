"""``manage.py erase_user <username> --by <planner> --yes``: erase the personal
data of a staff account (DSGVO Art. 17) — the same rules and the same code
as the page /datenschutz/konten/ (``core.privacy.erase_user``)."""

from django.core.management.base import BaseCommand, CommandError

from core import privacy

from .export_user_data import _user


class Command(BaseCommand):
    help = (
        "Löscht die personenbezogenen Daten eines Benutzerkontos (Art. 17 DSGVO): das Konto wird pseudonymisiert "
        "und deaktiviert, seine Rollen, Mitgliedschaften, Benachrichtigungen und API-Zugänge gelöscht; der "
        "Änderungsverlauf bleibt vollständig und zeigt das Pseudonym. Ohne --yes wird nur gezeigt, was geschähe."
    )

    def add_arguments(self, parser):
        parser.add_argument("username", help="Benutzername des zu löschenden Kontos")
        parser.add_argument("--by", required=True,
                            help="Benutzername der Planerin oder des Planers, in deren Auftrag gelöscht wird "
                                 "(wird als Handelnde/r protokolliert)")
        parser.add_argument("--yes", action="store_true", help="wirklich löschen (ohne: nur anzeigen)")

    def handle(self, *args, **opts):
        user, by = _user(opts["username"]), _user(opts["by"])
        reason = privacy.refusal(user, by)
        if reason:
            raise CommandError(reason)
        plan = privacy.plan_erasure(user)
        self.stdout.write(f"Konto {user.pk}:")
        for title, count in plan.delete:
            self.stdout.write(f"  gelöscht: {title}: {count}")
        for title, count in plan.unlink:
            self.stdout.write(f"  Verknüpfung entfernt: {title}: {count}")
        for title, count in plan.keep:
            self.stdout.write(f"  bleibt (zeigt das Pseudonym): {title}: {count}")
        self.stdout.write(f"  Einträge im Änderungsverlauf, die bleiben: {plan.history}")
        self.stdout.write(f"  aktive Sitzungen, die beendet werden: {plan.sessions}")
        if not opts["yes"]:
            self.stdout.write("Nichts gelöscht (Probelauf); mit --yes wird gelöscht.")
            return
        try:
            result = privacy.erase_user(user, by)
        except privacy.ErasureRefused as e:
            raise CommandError(str(e)) from e
        self.stdout.write(self.style.SUCCESS(f"Gelöscht: Konto {user.pk} heißt jetzt {result.pseudonym}."))
