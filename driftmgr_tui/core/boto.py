"""boto3 sessions that share one botocore data loader (boto3 itself is imported lazily)."""

from __future__ import annotations

import threading
from typing import Any

_loader_lock = threading.Lock()
_loader_holder: list[Any] = []


def new_boto_session(*, credential_provider: Any = None, **kwargs: Any) -> Any:
    """A fresh boto3 Session (own credentials and config) sharing one botocore data loader.

    Parsing a service model costs ~0.03-0.3 s per Session and service; a shared loader parses each once per
    process, for state backends and for every discovery run alike.
    """
    import boto3
    import botocore.loaders
    import botocore.session

    with _loader_lock:
        if not _loader_holder:
            _loader_holder.append(botocore.loaders.create_loader())
        loader = _loader_holder[0]
        core = botocore.session.Session()
        core.register_component("data_loader", loader)
        if credential_provider is not None:
            core.get_component("credential_provider").insert_before("env", credential_provider)
        session = boto3.Session(botocore_session=core, **kwargs)
        # boto3 appends its own data directory to the loader on every Session: keep the list short
        paths = list(dict.fromkeys(loader.search_paths))
        if len(paths) != len(loader.search_paths):
            loader.search_paths[:] = paths
    return session
