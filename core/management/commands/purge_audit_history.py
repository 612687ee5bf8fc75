"""``manage.py purge_audit_history``: delete change history older than the
retention (``AUDIT_RETENTION_DAYS``) — what the daily job
``core.purge_audit_history`` does."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core import privacy


class Command(BaseCommand):
    help = ("Löscht Einträge des Änderungsverlaufs, die älter sind als die Aufbewahrungsfrist "
            "(AUDIT_RETENTION_DAYS; 0 = unbegrenzt aufbewahren), in Stapeln.")

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, help="Frist in Tagen statt AUDIT_RETENTION_DAYS (0 = nichts löschen)")
        parser.add_argument("--batch-size", type=int, default=5000, help="Zeilen je Transaktion (Standard 5000)")
        parser.add_argument("--dry-run", action="store_true", help="nur zählen, nichts löschen")

    def handle(self, *args, **opts):
        days = settings.AUDIT_RETENTION_DAYS if opts["days"] is None else opts["days"]
        if days < 0 or opts["batch_size"] < 1:
            raise CommandError("--days muss ≥ 0 und --batch-size ≥ 1 sein.")
        if not days:
            self.stdout.write("Aufbewahrung unbegrenzt (AUDIT_RETENTION_DAYS=0): nichts gelöscht.")
            return
        counts = privacy.purge_audit_history(days=days, batch_size=opts["batch_size"], dry_run=opts["dry_run"])
        prefix = "Probelauf (nichts gelöscht): " if opts["dry_run"] else ""
        total = sum(counts.values())
        self.stdout.write(f"{prefix}{total} Zeilen älter als {days} Tage" + (":" if counts else "."))
        for label, count in sorted(counts.items()):
            self.stdout.write(f"  {label}: {count}")
