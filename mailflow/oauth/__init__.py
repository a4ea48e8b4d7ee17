"""OAuth 2.0 sign-in to the mailbox (SPEC section 9).

``presets`` (provider endpoints and scopes), ``sasl`` (the XOAUTH2 and OAUTHBEARER
strings), ``cache`` (the token cache file), ``grants`` (one token request per grant,
through Authlib), ``tokens`` (the in-memory access token the adapters sign in with)
and ``login`` (``mailflow auth login``: the device flow and the loopback flow).
"""
