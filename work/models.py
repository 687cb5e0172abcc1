# Models for this app arrive with their own issue.
