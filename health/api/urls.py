from django.urls import path

from health.api.views import UsageEventIngestView

app_name = "health-api"
urlpatterns = [
    # Both spellings: clients post to /events without a slash, and a redirect
    # would drop the POST body.
    path("events", UsageEventIngestView.as_view(), name="events"),
    path("events/", UsageEventIngestView.as_view(schema=None)),  # same view, documented once
]
