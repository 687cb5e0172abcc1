"""`python manage.py seed_demo`: the "Northwind Cloud" demo tenant.

Idempotent: when the tenant exists, it prints the logins and changes nothing.

The tenant, users, memberships, segments, open escalations and today's notes
go through the services. The accounts' past (stage stays, achievements done
along the way, contracts signed months ago, resolved escalations and their
timeline entries) is a backfill with real past timestamps, which services that
stamp "now" cannot express; those rows are bulk-created inside the tenant
context in the shape the services write, which keeps seeding to a second or
two. Historical moves record no domain events: they are history, not news.
"""

from __future__ import annotations

import os
import random
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand
from django.db import transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Role, Tenant, User
from csplatform.tenancy.services import membership_add, tenant_create
from lifecycle import services
from lifecycle.management.demo_data import (
    ARR_RANGE,
    CHURN_REASONS,
    CONTACT_TITLES,
    DEMO_PASSWORD,
    DWELL,
    ESCALATIONS,
    FIRST_NAMES,
    FORCE_REASONS,
    INDUSTRY_NOUNS,
    LAST_NAMES,
    LEGAL_SUFFIX,
    NAME_WORDS,
    NOTES,
    PLAN,
    REGIONS,
    SEED,
    STAGE_MIX,
    TENANT_NAME,
    TENANT_SLUG,
    TIERS,
    UPSELL_REASONS,
    USERS,
)
from lifecycle.models import (
    ACTIVE_STAGES,
    FORWARD,
    Account,
    AccountAchievement,
    Contact,
    ContactRole,
    Contract,
    ContractStatus,
    Escalation,
    Stage,
    StageAchievement,
    StageHistory,
    Tier,
    TimelineEntry,
)


@dataclass
class Stay:
    stage: str
    entered: datetime
    exited: datetime | None = None
    forced: bool = False
    reason: str = ""


@dataclass
class Plan:
    """Everything about one demo account, decided before any write."""

    account: Account
    stays: list[Stay]
    done: list[tuple[StageAchievement, datetime]] = field(default_factory=list)
    contracts: list[Contract] = field(default_factory=list)


class Command(BaseCommand):
    help = "Create the Northwind Cloud demo tenant (once) and print its logins."

    def add_arguments(self, parser):
        parser.add_argument("--accounts", type=int, default=200, help="How many accounts")

    def handle(self, *args, accounts: int, **options):
        if Tenant.objects.filter(slug=TENANT_SLUG).exists():
            self.stdout.write(f'Demo tenant "{TENANT_NAME}" already exists; left unchanged.')
        else:
            with transaction.atomic():
                count = seed(accounts)
            self.stdout.write(f'Created demo tenant "{TENANT_NAME}" with {count} accounts.')
        self.print_logins()

    def print_logins(self) -> None:
        base = "http://{}:{}".format(
            os.environ.get("CSP_HOST", "127.0.0.1"), os.environ.get("CSP_PORT", "8000")
        )
        try:
            login = reverse("login")
        except NoReverseMatch:
            login = "/"
        self.stdout.write(f"Open {base}{login} and sign in (password {DEMO_PASSWORD}):")
        for email, name, role, _extra in USERS:
            self.stdout.write(f"  {email:<24} {role:<7} {name}")


def seed(n_accounts: int) -> int:
    rng = random.Random(SEED)
    now = timezone.now()
    tenant = tenant_create(name=TENANT_NAME, slug=TENANT_SLUG)
    users = _users(tenant)
    csms = [u for u, role in users if role == Role.CSM]
    admin = next(u for u, role in users if role == Role.ADMIN)
    leader = next(u for u, role in users if role == Role.LEADER)
    with tenant_context(tenant, user_id=admin.pk, role=Role.ADMIN):
        achievements = {
            stage: list(StageAchievement.objects.filter(stage=stage).order_by("position", "id"))
            for stage in ACTIVE_STAGES
        }
        plans = [
            _plan(rng, now, i, stage, csms, achievements)
            for i, stage in enumerate(_stages(rng, n_accounts))
        ]
        _write(rng, now, plans, leader, achievements)
        _today(rng, plans)
    return len(plans)


def _users(tenant: Tenant) -> list[tuple[User, str]]:
    # One hash for all: the default hasher takes ~0.3 s per call.
    password = make_password(DEMO_PASSWORD)
    out = []
    for email, name, role, extra in USERS:
        user = User.objects.filter(email=email).first() or User(email=email)
        user.full_name, user.password = name, password
        user.save()
        membership_add(tenant=tenant, user=user, role=role, **extra)
        out.append((user, role))
    return out


def _stages(rng: random.Random, n: int) -> list[str]:
    total = sum(STAGE_MIX.values())
    stages = [s for s, k in STAGE_MIX.items() for _ in range(max(1, round(k * n / total)))]
    rng.shuffle(stages)
    return (stages * (n // len(stages) + 1))[:n]


def _pick(rng: random.Random, weighted):
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def _journey(rng: random.Random, now: datetime, final: str) -> list[Stay]:
    """Stays from the first onboarding to `final`, the last one lasting until now."""
    active = list(ACTIVE_STAGES)
    if final == Stage.CHURNED:
        path = [*active[: rng.randint(1, 4)], Stage.CHURNED]
    elif final == Stage.ONBOARDING and rng.random() < 0.15:
        path = [*active[: rng.randint(2, 4)], Stage.ONBOARDING]  # upsell restart
    else:
        path = active[: active.index(final) + 1]
    days = [rng.uniform(*DWELL[s]) for s in path[:-1]]
    days.append(rng.uniform(2, DWELL[path[-1]][1]))
    at = now - timedelta(days=sum(days))
    stays: list[Stay] = []
    for stage, length in zip(path, days, strict=True):
        stay = Stay(stage=stage, entered=at)
        if stays:
            stays[-1].exited = at
            previous = stays[-1].stage
            if stage == Stage.ONBOARDING:
                stay.reason = rng.choice(UPSELL_REASONS)
            elif stage == Stage.CHURNED:
                stay.reason = rng.choice(CHURN_REASONS)
            elif FORWARD.get(previous) == stage and rng.random() < 0.03:
                stay.forced, stay.reason = True, rng.choice(FORCE_REASONS)
        stays.append(stay)
        at += timedelta(days=length)
    return stays


def _plan(rng, now, i, final, csms, achievements) -> Plan:
    industry = rng.choice(list(INDUSTRY_NOUNS))
    region, tier = _pick(rng, REGIONS), _pick(rng, TIERS)
    stays = _journey(rng, now, final)
    account = Account(
        name="",  # unique names are drawn in _write
        external_id=f"crm-{10001 + i}",
        owner=rng.choice(csms),
        tier=tier,
        industry=industry,
        attributes={
            "region": region,
            "plan": PLAN[tier],
            "lead_source": rng.choice(["inbound", "outbound", "partner", "self-serve"]),
            "employees": rng.choice([50, 120, 300, 800, 2500, 10000]),
        },
        stage=final,
        stage_entered_at=stays[-1].entered,
        created_at=stays[0].entered,
    )
    plan = Plan(account=account, stays=stays)
    seen: set[int] = set()
    for k, stay in enumerate(stays):
        items = achievements.get(stay.stage, [])
        nxt = stays[k + 1] if k + 1 < len(stays) else None
        if nxt is not None and FORWARD.get(stay.stage) == nxt.stage and not nxt.forced:
            picked = items  # a guarded forward move: the checklist was complete
        else:
            picked = rng.sample(items, rng.randint(0, max(0, len(items) - (nxt is not None))))
        end = stay.exited or now
        for achievement in sorted(picked, key=lambda a: a.position):
            if achievement.pk not in seen:
                seen.add(achievement.pk)
                at = stay.entered + (end - stay.entered) * rng.uniform(0.1, 0.95)
                plan.done.append((achievement, at))
    plan.done.sort(key=lambda item: item[1])
    plan.contracts = _contracts(rng, now, account, stays)
    return plan


def _contracts(rng, now, account: Account, stays: list[Stay]) -> list[Contract]:
    """Annual terms from the first day: the current one (renewing within a year),
    the previous one if the customer is older than a year, or an add-on."""
    first_day = stays[0].entered.date()
    churned_on = stays[-1].entered.date() if account.stage == Stage.CHURNED else None
    cutoff = churned_on or now.date()
    terms = (cutoff - first_day).days // 365
    start = first_day + timedelta(days=365 * terms)
    low, high = ARR_RANGE[account.tier]
    arr = Decimal(round(rng.uniform(low, high) / 500) * 500)

    def contract(arr, start: date, renewal: date, status: str) -> Contract:
        seats = max(5, int(arr / rng.choice([400, 600, 900])))
        return Contract(
            account=account,
            arr=arr,
            seats=seats,
            start_date=start,
            renewal_date=renewal,
            status=status,
        )

    status = ContractStatus.CANCELLED if churned_on else ContractStatus.ACTIVE
    out = [contract(arr, start, start + timedelta(days=365), status)]
    if terms >= 1:
        before = Decimal(round(float(arr) * rng.uniform(0.75, 1.0) / 500) * 500)
        out.insert(0, contract(before, start - timedelta(days=365), start, ContractStatus.RENEWED))
    elif not churned_on and rng.random() < 0.3 and start < cutoff:
        addon = Decimal(round(float(arr) * rng.uniform(0.1, 0.3) / 500) * 500)
        begun = start + timedelta(days=rng.randint(1, (cutoff - start).days))
        out.append(contract(addon, begun, start + timedelta(days=365), ContractStatus.ACTIVE))
    return out


def _company_names(rng: random.Random, plans: list[Plan]) -> None:
    taken: set[str] = set()
    for plan in plans:
        acct = plan.account
        while True:
            noun = rng.choice(INDUSTRY_NOUNS[acct.industry])
            base = f"{rng.choice(NAME_WORDS)} {noun}"
            name = base + rng.choice(LEGAL_SUFFIX[acct.attributes["region"]])
            if base not in taken:
                taken.add(base)
                acct.name = name
                acct.attributes["domain"] = re.sub(r"[^a-z]", "", base.lower()) + ".example"
                break


def _contacts(rng: random.Random, plan: Plan) -> list[Contact]:
    acct = plan.account
    count = (
        rng.randint(2, 4) if acct.tier in (Tier.STRATEGIC, Tier.ENTERPRISE) else rng.randint(1, 3)
    )
    others = [r for r in ContactRole if r != ContactRole.CHAMPION]
    roles = [ContactRole.CHAMPION, *rng.sample(others, count - 1)]
    people = rng.sample([(f, last) for f in FIRST_NAMES for last in LAST_NAMES], count)
    return [
        Contact(
            account=acct,
            name=f"{first} {last}",
            email=f"{first}.{last}@{acct.attributes['domain']}".lower(),
            title=rng.choice(CONTACT_TITLES[role]),
            role=role,
            created_at=acct.created_at + timedelta(days=rng.uniform(0, 5)),
        )
        for role, (first, last) in zip(roles, people, strict=True)
    ]


def _entry(plan: Plan, kind: str, at: datetime, title: str, actor=None, **extra) -> TimelineEntry:
    return TimelineEntry(
        account=plan.account,
        kind=kind,
        occurred_at=at,
        created_at=at,
        title=title,
        actor=actor or plan.account.owner,
        **extra,
    )


def _write(rng, now: datetime, plans: list[Plan], leader: User, achievements) -> None:
    _company_names(rng, plans)
    Account.objects.bulk_create([p.account for p in plans])
    contacts, history, done, timeline, escalations = [], [], [], [], []
    for plan in plans:
        acct = plan.account
        contacts += _contacts(rng, plan)
        first = plan.stays[0]
        timeline.append(
            _entry(
                plan,
                "account_created",
                first.entered,
                f"Account created in {Stage(first.stage).label}",
            )
        )
        for prev, stay in zip([None, *plan.stays], plan.stays, strict=False):
            by = leader if stay.forced else acct.owner
            history.append(
                StageHistory(
                    account=acct,
                    stage=stay.stage,
                    entered_at=stay.entered,
                    exited_at=stay.exited,
                    entered_by=by,
                    forced=stay.forced,
                    reason=stay.reason,
                    created_at=stay.entered,
                )
            )
            if prev is None:
                continue
            payload = {
                "from": prev.stage,
                "to": stay.stage,
                "forced": stay.forced,
                "reason": stay.reason,
            }
            title = f"Stage changed from {Stage(prev.stage).label} to {Stage(stay.stage).label}"
            if stay.forced:
                finished = {a.pk for a, at in plan.done if at <= stay.entered}
                payload["skipped_achievements"] = [
                    a.title for a in achievements[prev.stage] if a.required and a.pk not in finished
                ]
                title += " (forced)"
            timeline.append(
                _entry(
                    plan,
                    "stage_changed",
                    stay.entered,
                    title,
                    by,
                    body=stay.reason,
                    payload=payload,
                )
            )
        for achievement, at in plan.done:
            done.append(
                AccountAchievement(
                    account=acct,
                    achievement=achievement,
                    completed_at=at,
                    completed_by=acct.owner,
                    created_at=at,
                )
            )
            timeline.append(
                _entry(
                    plan,
                    "achievement_completed",
                    at,
                    f"Achievement done: {achievement.title}",
                    payload={"achievement": achievement.key, "stage": achievement.stage},
                )
            )
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
            at = first.entered + (now - first.entered) * rng.uniform(0.05, 0.98)
            body = rng.choice(NOTES)
            timeline.append(_entry(plan, "note", at, body, body=body))
        if rng.random() < 0.08 and (now - first.entered).days > 30:
            opened = first.entered + (now - first.entered) * rng.uniform(0.2, 0.8)
            escalations.append(
                (
                    plan,
                    Escalation(
                        account=acct,
                        reason=rng.choice(ESCALATIONS),
                        opened_at=opened,
                        opened_by=acct.owner,
                        resolved_at=min(opened + timedelta(days=rng.uniform(2, 14)), now),
                        resolved_by=acct.owner,
                        resolution="Fixed and confirmed with the champion.",
                        created_at=opened,
                    ),
                )
            )
    Contact.objects.bulk_create(contacts)
    StageHistory.objects.bulk_create(history)
    AccountAchievement.objects.bulk_create(done)
    Contract.objects.bulk_create([c for p in plans for c in p.contracts])
    Escalation.objects.bulk_create([e for _, e in escalations])
    for plan in plans:
        for c in plan.contracts:
            at = timezone.make_aware(datetime.combine(c.start_date, datetime.min.time()))
            at = max(at + timedelta(hours=10), plan.stays[0].entered)
            payload = {"contract_id": c.pk, "arr": str(c.arr), "status": ContractStatus.ACTIVE}
            title = f"Contract added: ARR {c.arr:,.0f}, renews {c.renewal_date:%Y-%m-%d}"
            timeline.append(_entry(plan, "contract_changed", at, title, payload=payload))
    for plan, esc in escalations:
        payload = {"escalation_id": esc.pk}
        timeline.append(
            _entry(
                plan,
                "escalation_opened",
                esc.opened_at,
                "Escalation opened",
                body=esc.reason,
                payload=payload,
            )
        )
        timeline.append(
            _entry(
                plan,
                "escalation_resolved",
                esc.resolved_at,
                "Escalation resolved",
                body=esc.resolution,
                payload=payload,
            )
        )
    TimelineEntry.objects.bulk_create(timeline, batch_size=1000)


def _today(rng: random.Random, plans: list[Plan]) -> None:
    """What is happening now goes through the services: open escalations (with
    their domain events), a note on each, and the saved segments."""
    live = [p.account for p in plans if p.account.stage != Stage.CHURNED]
    for account in rng.sample(live, min(9, len(live))):
        services.escalation_open(
            account=account, reason=rng.choice(ESCALATIONS), actor=account.owner
        )
        services.note_add(
            account=account,
            actor=account.owner,
            body="Escalation call booked with the champion for tomorrow.",
        )
    services.segment_save(
        name="Enterprise renewing in 90 days",
        description="Strategic and enterprise accounts with an active contract renewing soon",
        filters={"tier": [Tier.STRATEGIC, Tier.ENTERPRISE], "renewal_within_days": 90},
    )
    services.segment_save(
        name="At-risk escalated",
        description="Accounts with an open escalation",
        filters={"escalated": True},
    )
    services.segment_save(
        name="EMEA onboarding",
        description="New EMEA customers still onboarding",
        filters={"stage": [Stage.ONBOARDING], "attributes": {"region": "EMEA"}},
    )
