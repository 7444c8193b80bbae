from django.apps import AppConfig


class CrmBridgeConfig(AppConfig):
    """The customer's CRM record beside the thread, and the case summary pushed back to the CRM."""

    name = "crm_bridge"
    verbose_name = "CRM bridge"

    def ready(self) -> None:
        from . import panels, receivers  # noqa: F401  (subscribes to case_resolved, fills the case page's CRM slot)
