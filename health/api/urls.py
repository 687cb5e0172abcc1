from django.urls import path
from rest_framework.routers import SimpleRouter

from health.api.catalogue import AccountUsageViewSet, EventNameViewSet, FeatureViewSet
from health.api.views import UsageEventIngestView

router = SimpleRouter()
router.register("features", FeatureViewSet, basename="feature")
router.register("event-names", EventNameViewSet, basename="event-name")
router.register("accounts", AccountUsageViewSet, basename="account-usage")

app_name = "health-api"
urlpatterns = [
    # Both spellings: clients post to /events without a slash, and a redirect
    # would drop the POST body.
    path("events", UsageEventIngestView.as_view(), name="events"),
    path("events/", UsageEventIngestView.as_view(schema=None)),  # same view, documented once
    *router.urls,
]
