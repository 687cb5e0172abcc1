from django.db import models

from csplatform.tenancy.models import TenantScopedModel


class DomainEvent(TenantScopedModel):
    """Something that happened, written in the same transaction as the change.

    Dispatched to Celery after commit; `dispatched_at` stays empty until every
    subscribed handler has run, so the beat sweep can re-dispatch a lost one.
    """

    kind = models.CharField(max_length=60)
    account_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    payload = models.JSONField(default=dict)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["tenant", "created_at"],
                name="event_undispatched",
                condition=models.Q(dispatched_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"


class HandlerReceipt(TenantScopedModel):
    """One row per (event, handler) that has run: a second delivery finds it and skips."""

    event = models.ForeignKey(DomainEvent, on_delete=models.CASCADE, related_name="receipts")
    handler = models.CharField(max_length=200)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "handler"], name="receipt_once_per_handler")
        ]
