"""Reads of the health portfolio page: the tenant's accounts (or one owner's
book, or a segment) by band with their ARR, the biggest movers of the week
and the measures accounts have no data for. Every figure is aggregated in
PostgreSQL, a fixed number of statements whatever the number of accounts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import (
    Count,
    DecimalField,
    F,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from csplatform.tenancy.context import current_tenant_id
from health.models import Band, HealthSnapshot, Measure
from lifecycle.models import Account, Contract, ContractStatus, Segment
from lifecycle.segments import segment_members_q

NO_DATA = ""  # the band of accounts not scored yet, or scored without any data
MOVERS = 10
MISSING_LIST = 10


def portfolio_accounts(*, owner_id: int | None = None, segment: Segment | None = None) -> QuerySet:
    """The accounts the portfolio covers: the tenant's, narrowed by owner and
    by a saved segment's filters."""
    accounts = Account.objects.all()
    if owner_id is not None:
        accounts = accounts.filter(owner_id=owner_id)
    if segment is not None:
        accounts = accounts.filter(segment_members_q(segment))
    return accounts


@dataclass(frozen=True)
class BandShare:
    band: str  # "" for no data
    label: str
    accounts: int
    arr: Decimal
    percent: int  # of the accounts


def band_distribution(accounts: QuerySet) -> list[BandShare]:
    """Accounts and the ARR of their active contracts per band, red to green,
    then "no data" (not scored yet, or no measure had data): one statement."""
    active_arr = (
        Contract.objects.filter(account=OuterRef("pk"), status=ContractStatus.ACTIVE)
        .order_by()
        .values("account")
        .annotate(total=Sum("arr"))
        .values("total")
    )
    money = DecimalField(max_digits=16, decimal_places=2)
    rows = (
        accounts.order_by()
        .annotate(
            band_key=Coalesce("health__band", Value(NO_DATA)),
            arr_active=Coalesce(Subquery(active_arr, output_field=money), Value(Decimal(0))),
        )
        .values("band_key")
        .annotate(n=Count("id"), arr=Sum("arr_active", output_field=money))
    )
    found = {row["band_key"]: row for row in rows}
    total = sum(row["n"] for row in found.values()) or 1
    return [
        BandShare(
            band=band,
            label=label,
            accounts=found.get(band, {}).get("n", 0),
            arr=found.get(band, {}).get("arr") or Decimal(0),
            percent=round(100 * found.get(band, {}).get("n", 0) / total),
        )
        for band, label in [*Band.choices, (NO_DATA, "No data")]
    ]


@dataclass(frozen=True)
class Mover:
    account_id: int
    name: str
    owner: str
    score: int
    band: str
    score_then: int
    band_then: str
    change: int


def movers(accounts: QuerySet, *, today: date | None = None, limit: int = MOVERS) -> dict:
    """The accounts whose score moved most since the week before: the score
    now against the latest snapshot at least 7 days old. {"down": [...],
    "up": [...]}, biggest moves first (two statements)."""
    week_ago = (today or timezone.now().date()) - timedelta(days=7)
    then = HealthSnapshot.objects.filter(account=OuterRef("pk"), day__lte=week_ago).order_by(
        "-day", "-taken_at", "-id"
    )
    moved = (
        accounts.filter(health__score__isnull=False)
        .annotate(
            score_then=Subquery(then.values("score")[:1], output_field=IntegerField()),
            band_then=Subquery(then.values("band")[:1]),
        )
        .filter(score_then__isnull=False)
        .annotate(change=F("health__score") - F("score_then"))
        .values(
            "id",
            "name",
            "owner__full_name",
            "owner__email",
            "health__score",
            "health__band",
            "score_then",
            "band_then",
            "change",
        )
    )

    def listed(rows) -> list[Mover]:
        return [
            Mover(
                account_id=row["id"],
                name=row["name"],
                owner=row["owner__full_name"] or row["owner__email"] or "",
                score=row["health__score"],
                band=row["health__band"],
                score_then=row["score_then"],
                band_then=row["band_then"] or "",
                change=row["change"],
            )
            for row in rows
        ]

    return {
        "down": listed(moved.filter(change__lt=0).order_by("change", "name", "id")[:limit]),
        "up": listed(moved.filter(change__gt=0).order_by("-change", "name", "id")[:limit]),
    }


@dataclass(frozen=True)
class MissingMeasure:
    measure: str
    label: str
    accounts: int


@dataclass(frozen=True)
class AccountMissing:
    account_id: int
    name: str
    owner: str
    band: str
    score: int | None
    measures: list[str]  # labels


_MISSING_SQL = """
WITH chosen AS ({accounts}),
gaps AS (
    SELECT s.account_id, b->>'measure' AS measure
    FROM health_healthscore s
    JOIN chosen ON chosen.id = s.account_id
    CROSS JOIN LATERAL jsonb_array_elements(s.breakdown) b
    WHERE s.tenant_id = %s AND (b->>'missing')::boolean
)
SELECT 'count' AS kind, NULL::bigint, measure, count(*)::int, NULL, NULL, NULL, NULL
FROM gaps GROUP BY measure
UNION ALL
SELECT * FROM (
    SELECT 'account', a.id, a.name, NULL::int, coalesce(u.full_name, u.email), s.band, s.score,
           array_agg(g.measure ORDER BY g.measure)
    FROM gaps g
    JOIN lifecycle_account a ON a.id = g.account_id
    JOIN health_healthscore s ON s.account_id = a.id
    LEFT JOIN tenancy_user u ON u.id = a.owner_id
    GROUP BY a.id, a.name, u.full_name, u.email, s.band, s.score
    ORDER BY count(*) DESC, a.name, a.id
    LIMIT %s
) listed
"""


def missing_data(accounts: QuerySet, *, limit: int = MISSING_LIST) -> dict:
    """Per measure, how many scored accounts had no data for it (so it was
    left out of their score), and the accounts missing the most: one
    statement. {"measures": [MissingMeasure], "accounts": [AccountMissing]}."""
    labels = dict(Measure.choices)
    sql, params = accounts.order_by().values("id").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            _MISSING_SQL.replace("{accounts}", sql),
            [*params, current_tenant_id(), limit],
        )
        rows = cursor.fetchall()
    counts = {row[2]: row[3] for row in rows if row[0] == "count"}
    return {
        "measures": [
            MissingMeasure(measure=value, label=label, accounts=counts[value])
            for value, label in sorted(
                Measure.choices, key=lambda choice: (-counts.get(choice[0], 0), choice[1])
            )
            if counts.get(value)
        ],
        "accounts": [
            AccountMissing(
                account_id=row[1],
                name=row[2],
                owner=row[4] or "",
                band=row[5] or "",
                score=row[6],
                measures=[labels.get(m, m) for m in row[7]],
            )
            for row in rows
            if row[0] == "account"
        ],
    }


def portfolio(
    *, owner_id: int | None = None, segment: Segment | None = None, today: date | None = None
) -> dict:
    """Everything the portfolio page shows, in four statements."""
    accounts = portfolio_accounts(owner_id=owner_id, segment=segment)
    bands = band_distribution(accounts)
    return {
        "bands": bands,
        "accounts": sum(share.accounts for share in bands),
        "arr": sum((share.arr for share in bands), Decimal(0)),
        "movers": movers(accounts, today=today),
        "missing": missing_data(accounts),
    }


__all__ = [
    "AccountMissing",
    "BandShare",
    "MissingMeasure",
    "Mover",
    "band_distribution",
    "missing_data",
    "movers",
    "portfolio",
    "portfolio_accounts",
]
