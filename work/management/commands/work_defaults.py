"""`python manage.py work_defaults`: add the default skills and playbooks to
every tenant that lacks them (idempotent; edited defaults are left alone)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from csplatform.tenancy.models import Tenant
from csplatform.tenancy.tasks import for_each_tenant
from work.services.defaults import work_defaults_ensure


class Command(BaseCommand):
    help = "Seed work's default skills and playbooks into every tenant that lacks them."

    def handle(self, *args, **options):
        def ensure(tenant) -> None:
            added = work_defaults_ensure()
            self.stdout.write(
                f"{tenant.slug}: {added['skills']} skills, {added['playbooks']} playbooks added"
            )

        # A failing tenant is logged and the others still run; the exit status says so.
        failed = Tenant.objects.count() - len(for_each_tenant(ensure))
        if failed > 0:
            raise CommandError(f"{failed} tenant(s) failed; their tracebacks are logged above.")
