"""A loopback fake CRM for the demo and the tests (standard library only, like the X simulator).

It speaks the shapes of HubSpot's CRM v3 API that SAC's generic REST adapter is configured for in
docs/surveys_crm.md, so the same configuration works against both:

- ``POST /crm/v3/objects/contacts/search`` (``filterGroups[].filters[]`` with ``EQ`` / ``CONTAINS_TOKEN``)
- ``GET  /crm/v3/objects/contacts/:id``
- ``POST /crm/v3/objects/notes`` (SAC's case summaries; an ``Idempotency-Key`` header is honoured)
- ``GET  /_fake/pushes.json``, ``/_fake/requests.json``, ``/healthz``

Each contact also carries a non-HubSpot ``orders`` list, so the case page can show recent orders.
Test controls: ``fail_next(status, count, after_processing=, retry_after=)``, ``delay_seconds``,
``add_contact(...)``, ``pushes``, ``requests``.
"""

from .server import DEMO_CONTACTS, FakeCrmServer

__all__ = ["DEMO_CONTACTS", "FakeCrmServer"]
