"""`python manage.py seed_demo_work`: work management for the demo tenant
that `seed_demo` created ("northwind"): the default skills and playbooks,
CSM profiles (skills, hours, a week out of office), a round-robin group, and
playbooks running on demo accounts, so each CSM's queue holds open tasks
that are overdue, due today, this week and later, plus tasks done in the
last four weeks with their time logged.

Runs start through `playbook_start` with fixed occurrence keys
(`demo:<playbook>:<account>`), so a second run creates nothing. Like
`seed_demo`, the past is a backfill: a run started N days ago is started
now and then moved back N days (its run, tasks and due dates), and its
tasks that were due before yesterday are mostly completed through the
services, with their time logged on the day they were due.
"""

from __future__ import annotations

import datetime as dt
import random

from django.core.management.base import BaseCommand
from django.db.models import F
from django.utils import timezone

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Membership, Tenant, User
from lifecycle.management.demo_data import SEED, TENANT_SLUG
from lifecycle.models import Account, ContractStatus, Stage
from work import services
from work.models import (
    OPEN_STATUSES,
    CsmGroup,
    CsmProfile,
    OutOfOffice,
    Playbook,
    PlaybookRun,
    Task,
)

# email -> (skills, weekly hours)
PROFILES = {
    "csm@northwind.test": (["onboarding", "technical"], 40),
    "csm1@northwind.test": (["training", "technical"], 40),
    "csm2@northwind.test": (["renewals", "executive"], 40),
    "csm3@northwind.test": (["onboarding", "training"], 32),
    "leader@northwind.test": (["executive"], 40),
}
ADMIN = "admin@northwind.test"
AWAY = "csm3@northwind.test"
AWAY_NOTE = "Vacation (demo)"
GROUP = ("Onboarding pod", ["csm@northwind.test", "csm3@northwind.test"])

# playbook key -> (which accounts, how many at most)
STARTS = [
    ("onboarding-kickoff", "onboarding", 16),
    ("admin-training", "onboarding", 8),
    ("adoption-check-in", "adoption", 16),
    ("first-value-review", "value_realization", 12),
    ("renewal-prep-120", "renewing", 14),
    ("risk-recovery", "escalated", 9),
    ("advocate-ask", "advocacy", 8),
]
ONE_OFF = [
    ("Prepare the quarterly business review", 90),
    ("Review the usage report with the champion", 30),
    ("Plan the expansion conversation", 45),
    ("Check in on open support tickets", 20),
    ("Update the success plan", 30),
]
MAX_AGE_DAYS = 21  # runs started up to this many days ago
MAX_DONE_PER_RUN = 2  # keeps seeding to a few seconds


class Command(BaseCommand):
    help = "Add work management (profiles, playbooks, tasks) to the demo tenant, once."

    def handle(self, *args, **options):
        tenant = Tenant.objects.filter(slug=TENANT_SLUG).first()
        if tenant is None:
            self.stdout.write("No demo tenant; run seed_demo first.")
            return
        with tenant_context(tenant):
            started = seed_work(tenant)
        if started:
            self.stdout.write(f"Started {started} demo playbook runs.")
        else:
            self.stdout.write("Demo work already seeded; left unchanged.")


def seed_work(tenant: Tenant) -> int:
    rng = random.Random(SEED)
    today = timezone.localdate()
    services.work_defaults_ensure()
    services.csm_profiles_ensure()
    users = {u.email: u for u in User.objects.filter(pk__in=Membership.objects.values("user_id"))}
    _profiles(users, today)
    if not CsmGroup.objects.filter(name=GROUP[0]).exists():
        services.csm_group_save(
            name=GROUP[0], member_ids=[users[e].pk for e in GROUP[1] if e in users]
        )
    playbooks = {p.key: p for p in Playbook.objects.exclude(key="")}
    pools = _pools(today)
    started = 0
    for key, pool, limit in STARTS:
        playbook = playbooks.get(key)
        if playbook is None:
            continue
        for account in pools[pool][:limit]:
            run, created = services.playbook_start(
                playbook=playbook,
                account=account,
                occurrence_key=f"demo:{key}:{account.external_id}",
                actor=account.owner,
                reason="Demo data",
            )
            if created:
                started += 1
                _age(rng, run, today, rng.randint(0, MAX_AGE_DAYS))
    if started:
        # First seeding only (runs are what make it idempotent).
        _later(rng, pools, today)
    _rules(playbooks)
    return started


def _rules(playbooks: dict[str, Playbook]) -> None:
    """Example automation rules, so the rule pages have something to show and
    the demo reacts: a red health band starts risk recovery, a renewal 120
    days out starts renewal prep. Created once, by name."""
    from work.models import Rule
    from work.services.rules import rule_save

    examples = [
        (
            "Health turned red: risk recovery",
            "health_band_changed",
            {"to_band": "red"},
            "risk-recovery",
            24 * 14,
        ),
        (
            "Renewal in 120 days: renewal prep",
            "renewal_within",
            {"days": 120},
            "renewal-prep-120",
            0,
        ),
    ]
    existing = set(Rule.objects.values_list("name", flat=True))
    for name, trigger, config, playbook_key, cooldown in examples:
        playbook = playbooks.get(playbook_key)
        if name in existing or playbook is None:
            continue
        rule_save(
            name=name,
            trigger=trigger,
            trigger_config=config,
            actions=[{"kind": "start_playbook", "config": {"playbook_id": playbook.pk}}],
            cooldown_hours=cooldown,
        )


def _later(rng: random.Random, pools: dict[str, list[Account]], today: dt.date) -> None:
    """One-off tasks further out, so queues have a "later" section too."""
    live = pools["adoption"] + pools["value_realization"] + pools["advocacy"]
    for account in live[:80:2]:
        title, minutes = rng.choice(ONE_OFF)
        services.task_create(
            account=account,
            title=title,
            due_date=today + dt.timedelta(days=rng.randint(8, 45)),
            actor=account.owner,
            assignee=account.owner,
            estimated_minutes=minutes,
            priority=rng.choice([2, 3, 3, 4]),
        )


def _profiles(users: dict[str, User], today: dt.date) -> None:
    profiles = {p.user_id: p for p in CsmProfile.objects.all()}
    admin = users.get(ADMIN)
    if admin and admin.pk in profiles and profiles[admin.pk].takes_assignments:
        # The admin runs the workspace, not a book of accounts.
        services.csm_profile_update(profile=profiles[admin.pk], takes_assignments=False)
    for email, (skills, hours) in PROFILES.items():
        user = users.get(email)
        profile = profiles.get(user.pk) if user else None
        if profile is None:
            continue
        if sorted(profile.skills) != sorted(skills) or profile.weekly_capacity_hours != hours:
            services.csm_profile_update(profile=profile, skills=skills, weekly_capacity_hours=hours)
    away = profiles.get(users[AWAY].pk) if AWAY in users else None
    if away is not None and not OutOfOffice.objects.filter(profile=away, note=AWAY_NOTE).exists():
        monday = today + dt.timedelta(days=7 - today.weekday())
        services.out_of_office_add(
            profile=away, starts_on=monday, ends_on=monday + dt.timedelta(days=4), note=AWAY_NOTE
        )


def _pools(today: dt.date) -> dict[str, list[Account]]:
    accounts = list(Account.objects.select_related("owner").order_by("external_id", "id"))
    renewing = set(
        Account.objects.filter(
            contracts__status=ContractStatus.ACTIVE,
            contracts__renewal_date__gte=today,
            contracts__renewal_date__lte=today + dt.timedelta(days=120),
        ).values_list("pk", flat=True)
    )
    return {
        "onboarding": [a for a in accounts if a.stage == Stage.ONBOARDING],
        "adoption": [a for a in accounts if a.stage in (Stage.ADOPTION, Stage.USAGE)],
        "value_realization": [a for a in accounts if a.stage == Stage.VALUE_REALIZATION],
        "advocacy": [a for a in accounts if a.stage == Stage.ADVOCACY],
        "escalated": [a for a in accounts if a.is_escalated],
        "renewing": [a for a in accounts if a.pk in renewing and a.stage != Stage.CHURNED],
    }


def _at(day: dt.date, hour: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def _age(rng: random.Random, run: PlaybookRun, today: dt.date, days: int) -> None:
    """Move a run started now back `days` days, then finish most of what was
    due before yesterday (time logged on the due day); finishing a step
    creates the steps that waited for it, due from that day on."""
    if days:
        shift = dt.timedelta(days=days)
        PlaybookRun.objects.filter(pk=run.pk).update(created_at=F("created_at") - shift)
        Task.objects.filter(run=run).update(
            due_date=F("due_date") - shift,
            original_due_date=F("original_due_date") - shift,
            created_at=F("created_at") - shift,
        )
    seen: set[int] = set()
    done = 0
    pending = list(Task.objects.filter(run=run).select_related("step", "assignee"))
    while pending:
        task = pending.pop(0)
        seen.add(task.pk)
        if task.due_date >= today - dt.timedelta(days=1) or rng.random() < 0.2:
            continue  # still open: due soon, or overdue
        if done >= MAX_DONE_PER_RUN:
            continue
        done += 1
        done_on = task.due_date - dt.timedelta(days=rng.choice([0, 0, 1]))
        minutes = max(5, round(task.estimated_minutes * rng.uniform(0.6, 1.7) / 5) * 5)
        services.task_time_log(
            task=task, minutes=min(minutes, 1440), actor=task.assignee, logged_on=done_on
        )
        services.task_transition(task=task, action="complete", actor=task.assignee)
        Task.objects.filter(pk=task.pk).update(closed_at=_at(done_on, 16))
        if done >= MAX_DONE_PER_RUN:
            continue  # what it created stays due from today on
        waiting = Task.objects.filter(run=run, status__in=OPEN_STATUSES).exclude(pk__in=seen)
        for new in waiting.select_related("step", "assignee"):
            if new.step is not None:
                due = done_on + dt.timedelta(days=new.step.due_offset_days)
                Task.objects.filter(pk=new.pk).update(
                    due_date=due, original_due_date=due, created_at=_at(done_on, 17)
                )
                new.due_date = due
            seen.add(new.pk)
            pending.append(new)
