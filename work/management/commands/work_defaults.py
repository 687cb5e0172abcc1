"""`python manage.py work_defaults`: add the default skills and playbooks to
every tenant that lacks them (idempotent; edited defaults are left alone)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.services import every_tenant_for_background_work
from work.services.defaults import work_defaults_ensure


class Command(BaseCommand):
    help = "Seed work's default skills and playbooks into every tenant that lacks them."

    def handle(self, *args, **options):
        for tenant in every_tenant_for_background_work():
            with tenant_context(tenant):
                added = work_defaults_ensure()
            self.stdout.write(
                f"{tenant.slug}: {added['skills']} skills, {added['playbooks']} playbooks added"
            )
