"""`python manage.py create_api_key <tenant-slug> --name <name> [--role csm]`.

Prints the key once; only its hash is stored, so it cannot be shown again.
"""

import os

from django.core.management.base import BaseCommand, CommandError

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Role, Tenant
from csplatform.tenancy.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a tenant and print it once."

    def add_arguments(self, parser):
        parser.add_argument("tenant_slug", help="The tenant's slug, as in /t/<slug>/")
        parser.add_argument("--name", required=True, help="What the key is for, e.g. 'CRM sync'")
        parser.add_argument(
            "--role",
            choices=Role.values,
            default=Role.CSM,
            help="What the key may do (default: csm)",
        )

    def handle(self, *args, tenant_slug: str, name: str, role: str, **options):
        # Tenants are not tenant-scoped rows: looking one up by slug is the
        # deliberate cross-tenant step of an admin command.
        tenant = Tenant.objects.filter(slug=tenant_slug).first()
        if tenant is None:
            raise CommandError(f"No tenant with slug '{tenant_slug}'.")
        name = name.strip()
        if not name:
            raise CommandError("--name must not be empty.")
        with tenant_context(tenant, role=Role.ADMIN):
            issued = api_key_create(name=name[:100], role=role)
        base = "http://{}:{}".format(
            os.environ.get("CSP_HOST", "127.0.0.1"), os.environ.get("CSP_PORT", "8000")
        )
        self.stdout.write(
            f'API key "{issued.api_key.name}" (role {role}) for {tenant.name}. '
            "Copy it now; it is not shown again:"
        )
        self.stdout.write(issued.secret)
        self.stdout.write(
            f'Try it: curl -H "Authorization: Bearer {issued.secret}" {base}/api/v1/accounts/'
        )
