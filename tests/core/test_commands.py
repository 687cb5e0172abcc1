"""Management commands: the demo tenant and API keys from the command line."""

from __future__ import annotations

import datetime as dt
import itertools
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import ApiKey, Membership, Role, Tenant, User, hash_api_key
from csplatform.tenancy.services import api_key_resolve
from lifecycle.management.demo_data import DEMO_PASSWORD, USERS
from lifecycle.models import (
    FORWARD,
    Account,
    AccountAchievement,
    Contact,
    Contract,
    ContractStatus,
    Escalation,
    Segment,
    Stage,
    StageAchievement,
    StageHistory,
    TimelineEntry,
)

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def northwind(db) -> Tenant:
    run("seed_demo")
    return Tenant.objects.get(slug="northwind")


def counts(tenant: Tenant) -> dict[str, int]:
    with tenant_context(tenant):
        models = [Account, Contact, Contract, StageHistory, AccountAchievement, TimelineEntry]
        out = {m.__name__: m.objects.count() for m in [*models, Escalation, Segment, Membership]}
    out["users"] = User.objects.count()
    out["tenants"] = Tenant.objects.count()
    return out


def test_seed_demo_builds_about_200_accounts_in_every_stage(northwind):
    with tenant_context(northwind):
        stages = {s: Account.objects.filter(stage=s).count() for s in Stage.values}
        assert Account.objects.count() == 200
        assert all(n >= 10 for n in stages.values()), stages
        # names look like companies and are unique; owners spread over the CSMs
        names = list(Account.objects.values_list("name", flat=True))
        assert len(set(names)) == 200
        owners = set(Account.objects.values_list("owner__email", flat=True))
        csms = {email for email, _n, role, _e in USERS if role == Role.CSM}
        assert owners == csms
        assert len(csms) == 4
        # every account has 1-4 contacts, one of them a champion
        for acct in Account.objects.prefetch_related("contacts"):
            roles = [c.role for c in acct.contacts.all()]
            assert len(roles) in range(1, 5)
            assert "champion" in roles
        assert Segment.objects.filter(name="Enterprise renewing in 90 days").exists()


def test_seed_demo_users_per_role_can_sign_in(northwind):
    roles = {}
    for email, _name, role, _extra in USERS:
        client = Client()
        assert client.login(email=email, password=DEMO_PASSWORD), email
        assert not Client().login(email=email, password="wrong-password")
        roles[email] = role
    with tenant_context(northwind):
        members = dict(Membership.objects.values_list("user__email", "role"))
    assert members == roles
    assert sorted(set(members.values())) == sorted(Role.values)


def test_seed_demo_contracts_renew_within_the_next_year(northwind):
    today = timezone.localdate()
    with tenant_context(northwind):
        active = Contract.objects.filter(status=ContractStatus.ACTIVE)
        renewals = list(active.values_list("renewal_date", flat=True))
        assert len(renewals) >= 150
        assert all(today <= d <= today + dt.timedelta(days=366) for d in renewals)
        # spread over the year, not bunched in one month
        assert len({(d.year, d.month) for d in renewals}) >= 10
        # churned customers have no active contract; every live one has one
        churned = Account.objects.filter(stage=Stage.CHURNED)
        assert not active.filter(account__in=churned).exists()
        live = Account.objects.exclude(stage=Stage.CHURNED)
        assert not live.exclude(contracts__status=ContractStatus.ACTIVE).exists()


def test_seed_demo_history_is_consistent_with_the_stage(northwind):
    now = timezone.now()
    with tenant_context(northwind):
        required = {
            stage: set(
                StageAchievement.objects.filter(stage=stage, required=True).values_list(
                    "pk", flat=True
                )
            )
            for stage in FORWARD
        }
        done: dict[int, set[int]] = {}
        for account_id, achievement_id in AccountAchievement.objects.values_list(
            "account_id", "achievement_id"
        ):
            done.setdefault(account_id, set()).add(achievement_id)
        history: dict[int, list[StageHistory]] = {}
        for stay in StageHistory.objects.order_by("entered_at"):
            history.setdefault(stay.account_id, []).append(stay)
        accounts = list(Account.objects.all())
        for acct in accounts:
            stays = history[acct.pk]
            # contiguous stays in the past, the last one open and matching the stage
            assert stays[-1].exited_at is None and stays[-1].stage == acct.stage
            assert all(a.exited_at == b.entered_at for a, b in itertools.pairwise(stays))
            assert all(s.entered_at < now for s in stays)
            assert acct.stage_entered_at == stays[-1].entered_at
            # an unforced forward move means the previous checklist was done
            for before, after in itertools.pairwise(stays):
                if FORWARD.get(before.stage) == after.stage and not after.forced:
                    assert required[before.stage] <= done.get(acct.pk, set())
        # the timeline tells the same story: one stage_changed per move
        moves = sum(len(s) - 1 for s in history.values())
        assert TimelineEntry.objects.filter(kind="stage_changed").count() == moves
        assert TimelineEntry.objects.filter(kind="account_created").count() == len(accounts)
        open_escalations = Escalation.objects.filter(resolved_at__isnull=True)
        assert open_escalations.count() == Account.objects.filter(is_escalated=True).count() > 0


def test_seed_demo_twice_changes_nothing_and_prints_logins(northwind):
    before = counts(northwind)
    output = run("seed_demo")
    assert counts(northwind) == before
    assert "already exists" in output
    assert "admin@northwind.test" in output and DEMO_PASSWORD in output


def test_create_api_key_prints_a_key_that_authenticates(tenant):
    output = run("create_api_key", tenant.slug, "--name", "CRM sync", "--role", "leader")
    secret = next(line for line in output.splitlines() if line.startswith("csk_"))
    assert f'"Authorization: Bearer {secret}"' in output
    resolved = api_key_resolve(secret)
    assert resolved is not None
    assert (resolved.tenant_id, resolved.name, resolved.role) == (tenant.pk, "CRM sync", "leader")
    with tenant_context(tenant):
        stored = ApiKey.objects.get()
    # only the hash is kept: the secret itself is nowhere in the row
    assert stored.key_hash == hash_api_key(secret)
    assert secret not in {stored.key_hash, stored.prefix, stored.name}
    # a second key for the same tenant is a different key
    again = run("create_api_key", tenant.slug, "--name", "Other")
    assert secret not in again


def test_create_api_key_defaults_to_csm_role(tenant):
    output = run("create_api_key", tenant.slug, "--name", "Usage feed")
    secret = next(line for line in output.splitlines() if line.startswith("csk_"))
    assert api_key_resolve(secret).role == Role.CSM


def test_create_api_key_for_an_unknown_tenant_fails(tenant):
    with pytest.raises(CommandError, match="No tenant with slug 'nope'"):
        run("create_api_key", "nope", "--name", "CRM sync")
    with pytest.raises(CommandError):
        run("create_api_key", tenant.slug, "--name", "CRM", "--role", "owner")
    with tenant_context(tenant):
        assert ApiKey.objects.count() == 0
