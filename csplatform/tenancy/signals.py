from django.dispatch import Signal

# Sent inside tenant_create's transaction and tenant context, so that apps
# (lifecycle's default achievements, later health's default profile) can seed
# per-tenant defaults without the core importing them.
tenant_created = Signal()
