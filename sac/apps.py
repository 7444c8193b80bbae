from django.apps import AppConfig


class SacConfig(AppConfig):
    name = "sac"
    verbose_name = "SAC core (tenants, people, audit)"
