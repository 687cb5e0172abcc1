from django.urls import path
from rest_framework.routers import SimpleRouter

from health.api.catalogue import AccountUsageViewSet, EventNameViewSet, FeatureViewSet
from health.api.health_settings import HealthSettingsView
from health.api.ingestion import IngestionErrorViewSet, IngestionSummaryView
from health.api.nps import NpsResponseViewSet
from health.api.profiles import HealthProfileViewSet
from health.api.renewals import HealthRenewalViewSet
from health.api.scores import AccountHealthViewSet, HealthScoreViewSet
from health.api.views import UsageEventIngestView

router = SimpleRouter()
router.register("features", FeatureViewSet, basename="feature")
router.register("event-names", EventNameViewSet, basename="event-name")
router.register("accounts", AccountUsageViewSet, basename="account-usage")
router.register("accounts", AccountHealthViewSet, basename="account-health")
# Only its errors/ action: the summary at ingestion/ is one object, not a page.
router.register("ingestion", IngestionErrorViewSet, basename="ingestion")
router.register("health/scores", HealthScoreViewSet, basename="health-score")
router.register("health/profiles", HealthProfileViewSet, basename="health-profile")
router.register("nps", NpsResponseViewSet, basename="nps")
router.register("health/renewals", HealthRenewalViewSet, basename="health-renewal")

app_name = "health-api"
urlpatterns = [
    # Both spellings: clients post to /events without a slash, and a redirect
    # would drop the POST body.
    path("events", UsageEventIngestView.as_view(), name="events"),
    path("events/", UsageEventIngestView.as_view(schema=None)),  # same view, documented once
    path("ingestion/", IngestionSummaryView.as_view(), name="ingestion-summary"),
    path("health/settings/", HealthSettingsView.as_view(), name="health-settings"),
    # POST /api/v1/nps like /events; documented once, at nps/.
    path("nps", NpsResponseViewSet.as_view({"get": "list", "post": "create"}, schema=None)),
    *router.urls,
]
