"""Settings of the example project as ``benchmarks/kernels_vs_jupyter_server.py`` serves it.

The example project's own settings, with changes that its environment variables cannot make (it has no
``LMS_KERNELS`` setting, so the defaults of :mod:`lms_kernels.conf` apply):

* ``MAX_KERNELS_PER_USER`` is lifted: the ``concurrent`` scenario runs 32 kernels at once for one user, and
  the idle-WebSocket memory figure starts a few more (the default is 4).
* The ``local`` backend passes the benchmark's Jupyter/IPython directories (temporary ones) to its kernels, as
  Jupyter Server does with its whole environment, so the kernels of all servers under test start alike (no
  IPython profile or history of the developer's home directory).
* Only with ``KERNELS_BENCH_LIFT_LIMITS=1`` (the benchmark's ``--lift-limits``): no output cap and no execute
  rate limit. The harness's default sizes fit under the shipped defaults (20.48 MB of output per execution,
  about 1,000 executes per connection), so by default the benchmark measures the limits' bookkeeping too;
  larger ``--stream-lines`` or ``--rtt-n`` would run into them.

Everything else (the database, ``DEBUG``, hosts, logging) comes from the environment variables that
``groundup_site.settings`` documents; the benchmark sets them.
"""

import os

from groundup_site.settings import *  # noqa: F403
from lms_kernels.conf import DEFAULTS as _KERNEL_DEFAULTS

_KERNEL_ENV_NAMES = (
    "IPYTHONDIR",
    "JUPYTER_CONFIG_DIR",
    "JUPYTER_DATA_DIR",
    "JUPYTER_PATH",
    "JUPYTER_RUNTIME_DIR",
)

LMS_KERNELS = {
    "MAX_KERNELS_PER_USER": None,
    "BACKENDS": {
        "local": {
            "BACKEND": "lms_kernels.backends.local.LocalBackend",
            "OPTIONS": {
                "env": {name: os.environ[name] for name in _KERNEL_ENV_NAMES if os.environ.get(name)}
            },
        }
    },
}

if os.environ.get("KERNELS_BENCH_LIFT_LIMITS") == "1":
    LMS_KERNELS.update({key: None for key in ("OUTPUT_CAP", "EXECUTE_RATE") if key in _KERNEL_DEFAULTS})
