"""The path a request names inside its service, whether or not a gateway prefix is in front.

Behind the gateway a service runs with a root path (``devzones serve --root-path /registry``), and
uvicorn then gives the ASGI ``path`` with that prefix (``/registry/v1/zones``), as the ASGI spec
asks. Code that matches paths itself, rather than through the router (the hot routes, the
probes exempt from rate limits), matches :func:`route_path` instead, as Starlette's router does.
"""

from __future__ import annotations

from starlette.types import Scope


def route_path(scope: Scope) -> str:
    """``scope``'s path without its root path (the path the service's routes are declared with)."""
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and (len(path) == len(root) or path[len(root)] == "/"):
        return path[len(root) :] or "/"
    return path
