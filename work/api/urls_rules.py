"""API routes of automation rules, under /api/v1/."""

from rest_framework.routers import SimpleRouter

from work.api.rules import RuleViewSet

router = SimpleRouter()
router.register("rules", RuleViewSet, basename="rule")

app_name = "work-rules-api"
urlpatterns = router.urls
