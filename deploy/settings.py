"""Settings of the example project as ``deploy/`` runs it: ``groundup_site.settings`` plus the kernel backend.

The example project's settings already take the production shape from environment variables (``DATABASE_URL``,
``REDIS_URL``, ``DJANGO_SECRET_KEY``, ``DJANGO_DEBUG``, ``DJANGO_ALLOWED_HOSTS``...). This module adds what they
do not: where kernels run, chosen by ``LMS_KERNEL_BACKEND``:

``gateway`` (the default here)
    A Jupyter Server or Enterprise Gateway at ``LMS_GATEWAY_URL`` with the token ``LMS_GATEWAY_TOKEN``.
``docker``
    The Docker engine of the host (its socket mounted into the web and task containers), ``ipc`` transport;
    ``LMS_KERNELS_RUNTIME_DIR`` must be the same path inside the containers and on the host.
``local``
    Kernels as processes of the web containers: development only (``lms_kernels.W101``).

Other ``LMS_KERNELS`` keys can be given as JSON in ``LMS_KERNELS_JSON`` (e.g. ``{"MAX_KERNELS_PER_USER": 2}``).
"""

import json
import os

from groundup_site.settings import *  # noqa: F403

_backend = os.environ.get("LMS_KERNEL_BACKEND", "gateway")

if _backend == "gateway":
    _backends = {
        "gateway": {
            "BACKEND": "lms_kernels.backends.gateway.GatewayBackend",
            "OPTIONS": {
                "url": os.environ["LMS_GATEWAY_URL"],
                "token": os.environ.get("LMS_GATEWAY_TOKEN", ""),
            },
        }
    }
elif _backend == "docker":
    _backends = {
        "docker": {
            "BACKEND": "lms_kernels.backends.docker.DockerBackend",
            "OPTIONS": {"runtime_dir": os.environ.get("LMS_KERNELS_RUNTIME_DIR", "/srv/lms-kernels")},
        }
    }
else:
    _backends = {"local": {"BACKEND": "lms_kernels.backends.local.LocalBackend", "OPTIONS": {}}}

LMS_KERNELS = {
    "BACKENDS": _backends,
    "DEFAULT_BACKEND": next(iter(_backends)),
    **json.loads(os.environ.get("LMS_KERNELS_JSON") or "{}"),
}
