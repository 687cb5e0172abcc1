from django.urls import path
from rest_framework.routers import SimpleRouter

from health.api.catalogue import AccountUsageViewSet, EventNameViewSet, FeatureViewSet
from health.api.ingestion import IngestionErrorViewSet, IngestionSummaryView
from health.api.views import UsageEventIngestView

router = SimpleRouter()
router.register("features", FeatureViewSet, basename="feature")
router.register("event-names", EventNameViewSet, basename="event-name")
router.register("accounts", AccountUsageViewSet, basename="account-usage")
# Only its errors/ action: the summary at ingestion/ is one object, not a page.
router.register("ingestion", IngestionErrorViewSet, basename="ingestion")

app_name = "health-api"
urlpatterns = [
    # Both spellings: clients post to /events without a slash, and a redirect
    # would drop the POST body.
    path("events", UsageEventIngestView.as_view(), name="events"),
    path("events/", UsageEventIngestView.as_view(schema=None)),  # same view, documented once
    path("ingestion/", IngestionSummaryView.as_view(), name="ingestion-summary"),
    *router.urls,
]
