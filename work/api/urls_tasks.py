"""Tasks API under /api/v1/tasks/."""

from rest_framework.routers import SimpleRouter

from work.api.tasks import TaskViewSet

router = SimpleRouter()
router.register("tasks", TaskViewSet, basename="task")

app_name = "work-tasks-api"
urlpatterns = router.urls
