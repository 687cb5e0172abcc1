"""The capacity page, mounted under /t/<tenant>/capacity/."""

from django.urls import path

from work.views import capacity

urlpatterns = [
    path("", capacity.capacity_page, name="work_capacity"),
    path("rebalance/", capacity.rebalance_apply, name="work_capacity_rebalance"),
    path("steps/<int:pk>/estimate/", capacity.step_estimate, name="work_capacity_step_estimate"),
]
