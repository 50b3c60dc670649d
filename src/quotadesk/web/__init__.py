"""The desk service over HTTP (FastAPI): ``app`` (wiring), ``api_orgs``, ``api_cases``, ``api_desk``
(the REST API under ``/api/v1``), ``auth`` (tokens, sessions, CSRF), ``errors`` (one error shape),
``schemas`` (request bodies), ``pages`` (sign-in and the start page).
"""
