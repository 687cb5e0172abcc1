"""API views: thin, they validate with an input serializer, call a lifecycle
service or selector, and render with an output serializer."""
