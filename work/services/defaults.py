"""What a new tenant starts with: a skill list and seven playbooks a CS team
can run on day one (and edit to taste).

`work_defaults_ensure()` is idempotent by key: a skill or playbook whose key
is already there (even edited since) is left alone, and a playbook whose name
the tenant already uses for one of its own is not added next to it. It runs
on `tenant_created` (work.handlers_defaults), from `seed_demo_work`, and for
every tenant through `manage.py work_defaults`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction

from lifecycle.models import Stage
from work.models import AssigneeRule, Playbook, PlaybookStep, Priority, Skill

DEFAULT_SKILLS = [
    ("onboarding", "Onboarding"),
    ("technical", "Technical"),
    ("training", "Training"),
    ("executive", "Executive"),
    ("renewals", "Renewals"),
]

OWNER, LEAST_LOADED = AssigneeRule.OWNER, AssigneeRule.LEAST_LOADED
URGENT, HIGH, NORMAL, LOW = Priority.URGENT, Priority.HIGH, Priority.NORMAL, Priority.LOW


@dataclass(frozen=True)
class StepSpec:
    key: str
    title: str
    instructions: str
    skill: str = ""
    minutes: int = 30
    due_in: int = 0
    priority: int = NORMAL
    rule: str = OWNER
    after: str = ""  # key of the step it waits for


@dataclass(frozen=True)
class PlaybookSpec:
    key: str
    name: str
    description: str
    stage: str
    steps: list[StepSpec] = field(default_factory=list)


DEFAULT_PLAYBOOKS = [
    PlaybookSpec(
        key="onboarding-kickoff",
        name="Onboarding kickoff",
        stage=Stage.ONBOARDING,
        description="Start a new customer right: agree goals, owners and a go-live date "
        "in the first two weeks.",
        steps=[
            StepSpec(
                "handoff",
                "Review the sales handoff",
                "Read the opportunity notes, the signed order form and the success criteria "
                "sales recorded. Note the stated business goal, the champion and the "
                "executive sponsor, and any promise made in the deal. Ask the account "
                "executive about anything unclear before the kickoff.",
                skill="onboarding",
                minutes=30,
                due_in=1,
                priority=HIGH,
            ),
            StepSpec(
                "schedule",
                "Schedule the kickoff call",
                "Email the champion and the sponsor with three slots in the next 5 working "
                "days. Invite their admin and, for technical integrations, their IT contact. "
                "Send the agenda: goals, success criteria, timeline, roles, next steps.",
                skill="onboarding",
                minutes=15,
                due_in=2,
                priority=HIGH,
                after="handoff",
            ),
            StepSpec(
                "kickoff",
                "Hold the kickoff call",
                "Walk through the agenda. Confirm the 2-3 outcomes that define success and "
                "how they will be measured, agree the go-live date and who does what on "
                "their side. Record the outcome on the task: goals, dates, owners, risks.",
                skill="onboarding",
                minutes=60,
                due_in=7,
                priority=HIGH,
                after="schedule",
            ),
            StepSpec(
                "plan",
                "Send the success plan",
                "Within a day of the call, send the written success plan: goals, milestones "
                "with dates, owners on both sides, and the next meeting. Ask the champion to "
                "confirm it by reply.",
                skill="onboarding",
                minutes=45,
                due_in=2,
                after="kickoff",
            ),
            StepSpec(
                "technical",
                "Technical setup check",
                "Confirm SSO, user provisioning and the data integration are configured and "
                "events are arriving. Fix or escalate blockers to support with the account "
                "name in the ticket.",
                skill="technical",
                minutes=60,
                due_in=10,
                rule=LEAST_LOADED,
                after="kickoff",
            ),
        ],
    ),
    PlaybookSpec(
        key="admin-training",
        name="Admin training",
        stage=Stage.ONBOARDING,
        description="Make the customer's admins self-sufficient before go-live.",
        steps=[
            StepSpec(
                "book",
                "Book the admin training",
                "Agree a 90-minute session with every admin named in the success plan. "
                "Ask them to have a test user and their org structure to hand.",
                skill="training",
                minutes=15,
                due_in=3,
                rule=LEAST_LOADED,
            ),
            StepSpec(
                "deliver",
                "Deliver the admin training",
                "Cover user management and roles, SSO, configuration, reporting and where "
                "to get help. Have each admin do each task once themselves. Note who "
                "attended and which topics need a follow-up.",
                skill="training",
                minutes=90,
                due_in=10,
                priority=HIGH,
                rule=LEAST_LOADED,
                after="book",
            ),
            StepSpec(
                "follow-up",
                "Send recording and admin checklist",
                "Send the recording, the admin guide and the go-live checklist. Ask each "
                "admin to confirm they can add a user and run the standard report.",
                skill="training",
                minutes=20,
                due_in=2,
                after="deliver",
            ),
        ],
    ),
    PlaybookSpec(
        key="first-value-review",
        name="First value review",
        stage=Stage.VALUE_REALIZATION,
        description="Show the customer the value delivered against the goals agreed at kickoff.",
        steps=[
            StepSpec(
                "gather",
                "Gather the value evidence",
                "Pull usage, adoption by team and the metrics named in the success plan. "
                "Ask the champion for one before/after number in their own words.",
                minutes=60,
                due_in=5,
            ),
            StepSpec(
                "deck",
                "Prepare the value review",
                "Build the short review: goals agreed, what was achieved (with numbers), "
                "what is still open, and the recommended next goals. Keep it to five slides.",
                skill="executive",
                minutes=90,
                due_in=10,
                after="gather",
            ),
            StepSpec(
                "meeting",
                "Hold the value review with the sponsor",
                "Present to the sponsor and the champion. Agree the next goals and whether "
                "they would recommend us. Record the outcome and any expansion signal.",
                skill="executive",
                minutes=60,
                due_in=14,
                priority=HIGH,
                after="deck",
            ),
        ],
    ),
    PlaybookSpec(
        key="adoption-check-in",
        name="Adoption check-in",
        stage=Stage.ADOPTION,
        description="Find and remove what keeps teams from using the product daily.",
        steps=[
            StepSpec(
                "review",
                "Review adoption data",
                "Check active users against seats, the features each team uses, and the "
                "trend of the last 30 days. Note the teams or features lagging behind.",
                minutes=30,
                due_in=3,
            ),
            StepSpec(
                "call",
                "Adoption check-in call",
                "Talk to the champion about the lagging teams: who they are, what blocks "
                "them, what would help. Agree one concrete action for each.",
                minutes=45,
                due_in=7,
                after="review",
            ),
            StepSpec(
                "enable",
                "Run a targeted enablement session",
                "Run a 45-minute session for the lagging team on the two workflows they "
                "need most; share the recording and a one-page guide.",
                skill="training",
                minutes=60,
                due_in=10,
                rule=LEAST_LOADED,
                after="call",
            ),
        ],
    ),
    PlaybookSpec(
        key="renewal-prep-120",
        name="Renewal prep (120 days)",
        stage="",
        description="Start 120 days before the renewal date so nothing is decided in the "
        "last month.",
        steps=[
            StepSpec(
                "health",
                "Review health and risks",
                "Read the health score and its breakdown, open escalations, NPS and the "
                "contract (ARR, seats, utilisation). Write down the risks to the renewal "
                "and who could block it.",
                skill="renewals",
                minutes=45,
                due_in=3,
                priority=HIGH,
            ),
            StepSpec(
                "sponsor",
                "Meet the executive sponsor",
                "Book 30 minutes with the sponsor: confirm the value delivered, their "
                "priorities for next year and the decision process and timeline for the "
                "renewal. Record who signs and when.",
                skill="executive",
                minutes=60,
                due_in=21,
                priority=HIGH,
                after="health",
            ),
            StepSpec(
                "proposal",
                "Agree the renewal proposal",
                "With the account executive, agree seats, price and any expansion to "
                "propose, based on utilisation and the sponsor meeting. Send the proposal.",
                skill="renewals",
                minutes=60,
                due_in=30,
                after="sponsor",
            ),
            StepSpec(
                "close",
                "Confirm the renewal is signed",
                "Follow up until the order form is signed. If it slips past 30 days before "
                "renewal, escalate to the CS leader with the blocker.",
                skill="renewals",
                minutes=30,
                due_in=45,
                priority=HIGH,
                after="proposal",
            ),
        ],
    ),
    PlaybookSpec(
        key="risk-recovery",
        name="Risk recovery",
        stage="",
        description="An account is at risk (health red, escalation, detractor): act within a "
        "day and get a recovery plan agreed.",
        steps=[
            StepSpec(
                "diagnose",
                "Diagnose the risk",
                "Read the health breakdown, recent tickets, the timeline and NPS comments. "
                "Call the champion today to hear it in their words. Record the root cause.",
                minutes=45,
                due_in=0,
                priority=URGENT,
            ),
            StepSpec(
                "plan",
                "Agree a recovery plan",
                "Write the plan: what we fix, by when, who owns it on both sides, and how "
                "we will know it worked. Get the champion's agreement; involve the CS "
                "leader when the sponsor is unhappy.",
                minutes=60,
                due_in=2,
                priority=URGENT,
                after="diagnose",
            ),
            StepSpec(
                "technical",
                "Resolve the technical blockers",
                "Work the technical part of the plan with support and product. Update the "
                "champion at least twice a week until it is fixed.",
                skill="technical",
                minutes=120,
                due_in=7,
                priority=HIGH,
                rule=LEAST_LOADED,
                after="plan",
            ),
            StepSpec(
                "confirm",
                "Confirm the recovery with the customer",
                "Review the plan with the champion: is each item done and did it help? "
                "Record the outcome; if the risk remains, restart with the sponsor.",
                minutes=30,
                due_in=14,
                priority=HIGH,
                after="plan",
            ),
        ],
    ),
    PlaybookSpec(
        key="advocate-ask",
        name="Advocate ask",
        stage=Stage.ADVOCACY,
        description="Turn a happy customer into an advocate: reference, case study or review.",
        steps=[
            StepSpec(
                "check",
                "Check the customer is ready to ask",
                "Confirm health is green, no open escalation, a recent promoter score and "
                "no reference request in the last 90 days.",
                minutes=15,
                due_in=3,
                priority=LOW,
            ),
            StepSpec(
                "ask",
                "Ask the champion to advocate",
                "Thank them for the results you achieved together and ask what they would "
                "be happy to do: a reference call, a case study, a review or a talk. Record "
                "the answer and any limits they set.",
                skill="executive",
                minutes=30,
                due_in=7,
                after="check",
            ),
            StepSpec(
                "thank",
                "Thank and record the advocate",
                "Send a thank-you, and record their willingness and limits so requests "
                "respect them.",
                minutes=15,
                due_in=3,
                priority=LOW,
                after="ask",
            ),
        ],
    ),
]


@transaction.atomic
def work_defaults_ensure() -> dict[str, int]:
    """Add the default skills and playbooks the tenant in context lacks, in a
    handful of queries; returns how many of each were added."""
    have = set(Skill.objects.values_list("key", flat=True))
    skills = Skill.objects.bulk_create(
        [Skill(key=key, label=label) for key, label in DEFAULT_SKILLS if key not in have],
        ignore_conflicts=True,
    )
    taken = Playbook.objects.values_list("key", "name")
    keys = {key for key, _ in taken}
    names = {name for _, name in taken}
    specs = [s for s in DEFAULT_PLAYBOOKS if s.key not in keys and s.name not in names]
    if not specs:
        return {"skills": len(skills), "playbooks": 0}
    playbooks = Playbook.objects.bulk_create(
        [Playbook(key=s.key, name=s.name, description=s.description, stage=s.stage) for s in specs]
    )
    steps: dict[tuple[str, str], PlaybookStep] = {}
    for spec, playbook in zip(specs, playbooks, strict=True):
        for position, st in enumerate(spec.steps, start=1):
            steps[spec.key, st.key] = PlaybookStep(
                playbook=playbook,
                position=position,
                title=st.title,
                instructions=st.instructions,
                required_skill=st.skill,
                estimated_minutes=st.minutes,
                due_offset_days=st.due_in,
                priority=st.priority,
                assignee_rule=st.rule,
            )
    PlaybookStep.objects.bulk_create(steps.values())
    waiting = []
    for spec in specs:
        for st in spec.steps:
            if st.after:
                step = steps[spec.key, st.key]
                step.depends_on = steps[spec.key, st.after]
                waiting.append(step)
    PlaybookStep.objects.bulk_update(waiting, ["depends_on"])
    return {"skills": len(skills), "playbooks": len(playbooks)}
