"""Loopback simulator of the X (Twitter) API v2 for SAC demos and tests.

``SimulatorServer`` serves, on a local port and with the JSON shapes of the real API:

- ``GET  /2/users/me``, ``/2/users/:id``, ``/2/users/by/username/:username``
- ``GET  /2/users/:id/tweets`` (the account's own tweets: since_id, start_time, max_results)
- ``GET  /2/users/:id/mentions`` (since_id, until_id, max_results, pagination_token, start/end_time,
  expansions, tweet.fields, user.fields)
- ``GET  /2/tweets/:id``; ``POST /2/tweets`` (optionally ``reply.in_reply_to_tweet_id``, ``media.media_ids``)
- ``POST /2/media/upload`` (one-shot multipart: media, media_category, media_type); DMs take
  ``attachments: [{media_id}]``; ``GET /_sim/media/:id`` serves an uploaded image (X or Graph)
- ``POST /2/dm_conversations/with/:participant_id/messages``, ``POST /2/dm_conversations/:id/messages``
  (a 403 for users whose DMs are closed to the brand: ``SimulatorServer.close_dms(user)``)
- ``GET  /2/dm_events``, ``/2/dm_conversations/with/:participant_id/dm_events``,
  ``/2/dm_conversations/:id/dm_events``
- ``GET  /_sim/`` (HTML), ``/_sim/sent.json``, ``/_sim/posts.json``, ``/_sim/requests.json``,
  ``POST /_sim/posts``, ``/_sim/dms``, ``/_sim/faults``; ``GET /healthz``
- a simulated Facebook Page in Graph API shapes under ``/graph/v21.0/`` (feed with comments, Messenger
  conversations, comment replies, private replies, Messenger sends) and ``POST /_sim/fb/comments``,
  ``/_sim/fb/messages`` to add customer activity; see ``graph.py``
- the OAuth servers at the real paths: X ``/i/oauth2/authorize`` and ``POST /2/oauth2/token`` (PKCE S256,
  refresh), Facebook ``/v21.0/dialog/oauth``, ``/graph/v21.0/oauth/access_token``, ``/graph/v21.0/me/accounts``;
  see ``oauth.py``
- a simulated Instagram account on the same Graph host (media with comments and replies, ``POST
  /{comment-id}/replies``, private replies, signed ``comments`` webhooks that can be lost on purpose) and
  ``POST /_sim/ig/comments``; see ``instagram.py``
- webhook subscriptions: Graph ``GET/POST/DELETE /graph/v21.0/{page-id}/subscribed_apps``, X ``POST/GET
  /2/webhooks`` and ``/2/account_activity/webhooks/:id/subscriptions/…``; see ``subscriptions.py``

``PostFactory`` produces the pt-BR / English customer posts on its own (deterministic per seed).
The package only uses the standard library so it can run without Django.
"""

from .corpus import PostFactory, SimPost, SimUser
from .server import SimulatorServer
from .store import FAULT_KINDS

__all__ = ["FAULT_KINDS", "PostFactory", "SimPost", "SimUser", "SimulatorServer"]
