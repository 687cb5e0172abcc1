"""health's score pages, mounted under /t/<tenant>/health/: the portfolio,
renewal health, the account health card and the profile editor."""

from django.urls import path

from health.views import account_health, health_profiles, portfolio, renewals

urlpatterns = [
    path("", portfolio.portfolio_page, name="health_portfolio"),
    path("renewals/", renewals.renewals_page, name="health_renewals"),
    path("accounts/<int:pk>/", account_health.account_health, name="account_health"),
    path(
        "accounts/<int:pk>/sentiment/",
        account_health.sentiment_set,
        name="account_health_sentiment",
    ),
    path("profiles/", health_profiles.profile_list, name="health_profiles"),
    path("profiles/new/", health_profiles.profile_new, name="health_profile_new"),
    path("profiles/new/preview/", health_profiles.profile_preview, name="health_profile_preview"),
    path("profiles/<int:pk>/", health_profiles.profile_edit, name="health_profile_edit"),
    path(
        "profiles/<int:pk>/preview/",
        health_profiles.profile_preview,
        name="health_profile_edit_preview",
    ),
]
