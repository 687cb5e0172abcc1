"""Factories rooted at the tenant in context (use inside tenant_context)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from lifecycle import services
from lifecycle.models import Account, Contact, Contract

_seq = itertools.count(1)


def account(**fields) -> Account:
    n = next(_seq)
    fields.setdefault("name", f"Customer {n:05d}")
    fields.setdefault("external_id", f"crm-{n}")
    return services.account_create(**fields)


def contact(acct: Account, **fields) -> Contact:
    n = next(_seq)
    fields.setdefault("name", f"Contact {n}")
    fields.setdefault("email", f"contact{n}@customer.test")
    return services.contact_save(account=acct, **fields)


def contract(acct: Account, **fields) -> Contract:
    fields.setdefault("arr", Decimal("12000"))
    fields.setdefault("seats", 25)
    fields.setdefault("start_date", dt.date.today() - dt.timedelta(days=200))
    fields.setdefault("renewal_date", dt.date.today() + dt.timedelta(days=165))
    return services.contract_save(account=acct, **fields)


def complete_stage(acct: Account, actor=None) -> None:
    """Tick every achievement of the account's current stage."""
    from lifecycle.models import StageAchievement

    for achievement in StageAchievement.objects.filter(stage=acct.stage):
        services.achievement_complete(account=acct, achievement=achievement, actor=actor)
