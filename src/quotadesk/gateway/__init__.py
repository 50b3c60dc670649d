"""The gateway: the OpenAI/Anthropic-compatible request path (admission, upstream, settlement).

Modules: ``http`` (the server protocol), ``app`` (the request path), ``estimate`` (worst-case
bounds and usage), ``budget`` (admission from leases with ``decide``), ``rates`` (sliding
windows), ``upstream`` (keep-alive pool), ``stream`` (SSE relay), ``settlement`` (the writer
thread), ``journal`` (durability before commit), ``errors``, ``metrics``, ``accesslog``,
``config`` and ``server`` (processes, recovery, shutdown). See docs/gateway.md.
"""
