"""A new tenant gets work's defaults (skills and playbooks) in the same
transaction and tenant context that create it (csplatform.tenancy.signals)."""

from __future__ import annotations


def work_defaults_on_tenant_created(sender, tenant, **kwargs) -> None:
    from work.services.defaults import work_defaults_ensure

    work_defaults_ensure()
