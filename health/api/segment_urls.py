from django.urls import path

from health.api.segment_views import SegmentView

urlpatterns = [
    path("track", SegmentView.as_view(message_type="track")),
    path("identify", SegmentView.as_view(message_type="identify")),
    path("group", SegmentView.as_view(message_type="group")),
    path("batch", SegmentView.as_view(message_type=None)),
    path("import", SegmentView.as_view(message_type=None)),
]
