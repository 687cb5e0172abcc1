"""Playbook endpoints under /api/v1/playbooks/."""

from rest_framework.routers import SimpleRouter

from work.api.playbooks import PlaybookViewSet

router = SimpleRouter()
router.register("playbooks", PlaybookViewSet, basename="playbook")

app_name = "work-playbooks-api"
urlpatterns = router.urls
