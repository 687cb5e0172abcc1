"""Renewal health for leaders: active contracts renewing within the horizon,
each with its renewal likelihood in three parts (see health.renewal), ARR at
risk, sortable by renewal date or risk. A fixed number of queries whatever
the number of contracts: contracts, scores, champions, one per registered
signal."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.utils import timezone

from health.models import HealthScore, HealthSettings
from health.renewal import COMPONENTS, renewal_signals
from lifecycle.models import Contact, ContactRole, Contract, ContractStatus
from lifecycle.segments import segment_members_q

HIGH_RISK_BELOW = 50
MEDIUM_RISK_BELOW = 70
RISKS = {"high": "High risk", "medium": "Medium risk", "low": "Low risk", "unknown": "Unknown risk"}


@dataclass(frozen=True)
class Part:
    """One input of a component, e.g. ("NPS", 62.5). A supporting input (a
    named champion, no open escalation) is a fact that is always known but
    says nothing alone: it counts only beside an input with data, so a part
    whose health inputs are all missing is unknown, not 100."""

    label: str
    value: float | None
    supporting: bool = False


def _component_value(parts: list[Part]) -> float | None:
    if not any(p.value is not None for p in parts if not p.supporting):
        return None
    return _mean([p.value for p in parts])


@dataclass(frozen=True)
class Component:
    key: str
    label: str
    value: float | None
    parts: list[Part]


@dataclass(frozen=True)
class RenewalRow:
    contract_id: int
    account_id: int
    account_name: str
    owner: str
    renewal_date: date
    days_left: int
    arr: Decimal
    score: int | None
    band: str
    components: list[Component]
    likelihood: float | None
    risk: str

    @property
    def risk_label(self) -> str:
        return RISKS[self.risk]

    @property
    def known_parts(self) -> int:
        """How many of the three parts the likelihood rests on (the rest had
        no data and are left out)."""
        return sum(1 for c in self.components if c.value is not None)

    @property
    def all_parts(self) -> int:
        return len(self.components)

    @property
    def arr_at_risk(self) -> Decimal:
        return self.arr if self.risk in ("high", "medium") else Decimal(0)


@dataclass
class RenewalReport:
    horizon_days: int
    rows: list[RenewalRow] = field(default_factory=list)

    @property
    def arr(self) -> Decimal:
        return sum((r.arr for r in self.rows), Decimal(0))

    @property
    def arr_at_risk(self) -> Decimal:
        return sum((r.arr_at_risk for r in self.rows), Decimal(0))

    @property
    def arr_unknown(self) -> Decimal:
        """ARR renewing with no health signal: neither at risk nor safe."""
        return sum((r.arr for r in self.rows if r.risk == "unknown"), Decimal(0))

    def count(self, risk: str) -> int:
        return sum(1 for r in self.rows if r.risk == risk)

    @property
    def by_risk(self) -> list[dict]:
        return [
            {
                "risk": key,
                "label": label,
                "contracts": self.count(key),
                "arr": sum((r.arr for r in self.rows if r.risk == key), Decimal(0)),
            }
            for key, label in RISKS.items()
        ]


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(sum(present) / len(present), 1) if present else None


def _points(score: HealthScore | None, measure: str) -> float | None:
    if score is None:
        return None
    for part in score.breakdown:
        if part.get("measure") == measure:
            return part.get("points")
    return None


def _risk(likelihood: float | None) -> str:
    if likelihood is None:
        return "unknown"
    if likelihood < HIGH_RISK_BELOW:
        return "high"
    return "medium" if likelihood < MEDIUM_RISK_BELOW else "low"


def renewal_report(
    *,
    owner_id: int | None = None,
    segment=None,
    order: str = "renewal",
    horizon_days: int | None = None,
    today: date | None = None,
) -> RenewalReport:
    """Contracts renewing within the tenant's horizon (default 180 days),
    ordered by renewal date (`renewal`) or by risk, riskiest first (`risk`)."""
    today = today or timezone.now().date()
    if horizon_days is None:
        settings_row = HealthSettings.objects.first()
        horizon_days = settings_row.renewal_horizon_days if settings_row else 180
    contracts = Contract.objects.filter(
        status=ContractStatus.ACTIVE,
        renewal_date__gte=today,
        renewal_date__lte=today + timedelta(days=horizon_days),
    ).select_related("account", "account__owner")
    if owner_id is not None:
        contracts = contracts.filter(account__owner_id=owner_id)
    if segment is not None:
        from lifecycle.models import Account

        contracts = contracts.filter(
            account__in=Account.objects.filter(segment_members_q(segment)).values("id")
        )
    contracts = list(contracts.order_by("renewal_date", "id"))
    ids = sorted({c.account_id for c in contracts})
    scores = {s.account_id: s for s in HealthScore.objects.filter(account_id__in=ids)}
    champions = set(
        Contact.objects.filter(account_id__in=ids, role=ContactRole.CHAMPION).values_list(
            "account_id", flat=True
        )
    )
    extra = [(signal, signal.fetch(ids)) for signal in renewal_signals()]

    report = RenewalReport(horizon_days=horizon_days)
    for contract in contracts:
        account = contract.account
        score = scores.get(account.pk)
        parts = {
            "needs_met": [
                Part("Health score", score.score if score else None),
                Part("Stage outcomes", _points(score, "outcomes")),
            ],
            "confidence": [
                Part("Usage trend", _points(score, "trend")),
                Part("CSM engagement", _points(score, "engagement")),
                # An open escalation says something alone; its absence does not.
                Part(
                    "No open escalation",
                    0.0 if account.is_escalated else 100.0,
                    supporting=not account.is_escalated,
                ),
            ],
            "winner": [
                Part("NPS", _points(score, "nps")),
                Part("Champion named", 100.0 if account.pk in champions else 0.0, supporting=True),
            ],
        }
        for signal, values in extra:
            parts[signal.component].append(Part(signal.label, values.get(account.pk)))
        components = [
            Component(key, COMPONENTS[key], _component_value(parts[key]), parts[key])
            for key in COMPONENTS
        ]
        likelihood = _mean([c.value for c in components])
        owner = account.owner
        report.rows.append(
            RenewalRow(
                contract_id=contract.pk,
                account_id=account.pk,
                account_name=account.name,
                owner=owner.display_name if owner else "",
                renewal_date=contract.renewal_date,
                days_left=(contract.renewal_date - today).days,
                arr=contract.arr,
                score=score.score if score else None,
                band=score.band if score else "",
                components=components,
                likelihood=likelihood,
                # Without a health score the main question has no answer yet:
                # unknown risk, never low.
                risk=_risk(likelihood) if score and score.score is not None else "unknown",
            )
        )
    if order == "risk":
        rank = {"high": 0, "medium": 1, "unknown": 2, "low": 3}
        report.rows.sort(key=lambda r: (rank[r.risk], r.likelihood or 0, r.renewal_date))
    return report
