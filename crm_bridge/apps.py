from django.apps import AppConfig


class CrmBridgeConfig(AppConfig):
    """The customer's CRM record beside the thread: built in issue #7 (fills the case page's CRM slot)."""

    name = "crm_bridge"
    verbose_name = "CRM bridge"
