"""REST API v1. The router lists `accounts/external/<external_id>/` (upsert by
CRM id) before the per-account routes, so it wins for that path."""

from rest_framework.routers import DefaultRouter, SimpleRouter

from lifecycle.api.views.accounts import AccountViewSet
from lifecycle.api.views.activity import AccountActivityViewSet
from lifecycle.api.views.escalations import EscalationViewSet
from lifecycle.api.views.lifecycle import AccountLifecycleViewSet
from lifecycle.api.views.records import ContactViewSet, ContractViewSet
from lifecycle.api.views.segments import SegmentViewSet
from lifecycle.api.views.timeline import TimelineViewSet

router = DefaultRouter()
router.register("accounts", AccountViewSet, basename="account")
router.register("contacts", ContactViewSet, basename="contact")
router.register("contracts", ContractViewSet, basename="contract")
router.register("segments", SegmentViewSet, basename="segment")
router.register("escalations", EscalationViewSet, basename="escalation")
router.register("timeline", TimelineViewSet, basename="timeline")

# Per-account sub-resources (detail routes only) live in their own viewsets,
# on a second router so the API root keeps listing `accounts`.
account_routes = SimpleRouter()
account_routes.register("accounts", AccountLifecycleViewSet, basename="account-lifecycle")
account_routes.register("accounts", AccountActivityViewSet, basename="account-activity")

app_name = "lifecycle-api"
urlpatterns = router.urls + account_routes.urls
