"""Authentication and authorisation for the web app: who is asking, and may they.

``middleware`` identifies the user of each request (API token or session cookie),
``guards`` decides whether a route may answer, ``csrf`` protects session-authenticated
forms, ``throttle`` slows password guessing, ``sessions`` and ``passwords`` keep the secrets.
"""
