"""The API toolkit every app's `/api/v1/` is built on: the tenant-scoped base
views, pagination, user reference fields, the safe JSON parser, the one
exception handler and the schema hook that documents its error body."""
