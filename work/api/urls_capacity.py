from django.urls import path

from work.api.capacity import CapacityView

app_name = "work-capacity-api"
urlpatterns = [
    path("capacity/", CapacityView.as_view(), name="capacity"),
]
