"""Reads that pages and the API share; callers import from
`health.selectors`, the modules below only split it by concern."""

from health.selectors.lists import (
    NPS_CATEGORIES,
    health_profile_list,
    health_score_list,
    nps_response_list,
    sentiments_for,
)
from health.selectors.portfolio import (
    AccountMissing,
    BandShare,
    MissingMeasure,
    Mover,
    band_distribution,
    missing_data,
    movers,
    portfolio,
    portfolio_accounts,
)
from health.selectors.renewals import RenewalReport, RenewalRow, renewal_report
from health.selectors.scores import (
    MeasureLine,
    ScoreCard,
    score_card,
    score_history,
    scores_for,
)
from health.selectors.usage import (
    NO_KEY_LABEL,
    FeatureUse,
    Utilization,
    account_usage_panel,
    event_counts_since,
    ingestion_errors,
    ingestion_recent_errors,
    ingestion_summary,
    license_utilization,
    usage_summary,
)

__all__ = [
    "NO_KEY_LABEL",
    "NPS_CATEGORIES",
    "AccountMissing",
    "BandShare",
    "FeatureUse",
    "MeasureLine",
    "MissingMeasure",
    "Mover",
    "RenewalReport",
    "RenewalRow",
    "ScoreCard",
    "Utilization",
    "account_usage_panel",
    "band_distribution",
    "event_counts_since",
    "health_profile_list",
    "health_score_list",
    "ingestion_errors",
    "ingestion_recent_errors",
    "ingestion_summary",
    "license_utilization",
    "missing_data",
    "movers",
    "nps_response_list",
    "portfolio",
    "portfolio_accounts",
    "renewal_report",
    "score_card",
    "score_history",
    "scores_for",
    "sentiments_for",
    "usage_summary",
]
