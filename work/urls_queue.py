"""The CSM's queue and task pages, mounted under /t/<tenant>/work/."""

from django.urls import path

from work.views import queue, queue_actions

task = "tasks/<int:pk>/"

urlpatterns = [
    path("", queue.queue_page, name="work_queue"),
    path("more/", queue.queue_more, name="work_queue_more"),
    path("new/", queue.task_new, name="work_task_new"),
    path("reassign/", queue.tasks_bulk_reassign, name="work_tasks_reassign"),
    path(task, queue.task_detail, name="work_task"),
    path(task + "forms/", queue_actions.task_forms, name="work_task_forms"),
    path(task + "transition/", queue_actions.task_transition, name="work_task_transition"),
    path(task + "snooze/", queue_actions.task_snooze, name="work_task_snooze"),
    path(task + "time/", queue_actions.task_time_log, name="work_task_time"),
    path(task + "outcome/", queue_actions.task_outcome, name="work_task_outcome"),
    path(task + "reassign/", queue_actions.task_reassign, name="work_task_reassign"),
]
