"""Connecting channels with the networks' own login: X OAuth 2.0 (Authorization Code with PKCE) and Facebook
Login for pages. `flow` keeps the state and PKCE verifier in the admin's session, `x` and `facebook` speak the
token endpoints, `services` writes the channel."""
