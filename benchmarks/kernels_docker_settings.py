"""Settings of the example project as ``benchmarks/kernels_docker.py`` serves it.

``benchmarks/kernels_bench_settings.py`` (the ``local`` backend, no per-user kernel limit), plus:

* a ``docker`` backend whose containers carry the benchmark's own ``instance`` label
  (``KERNELS_DOCKER_INSTANCE``) and whose kernel directories are under the benchmark's temporary directory
  (``KERNELS_DOCKER_RUNTIME_DIR``), so the benchmark can find and remove everything it started;
* the warm pools' log at INFO: each kernel served from a pool is logged ("... is served from the pool"),
  which the benchmark counts to check that every start of its pool runs was a hit.
"""

import os

from kernels_bench_settings import *  # noqa: F403
from kernels_bench_settings import LMS_KERNELS, LOGGING

LMS_KERNELS["BACKENDS"]["docker"] = {
    "BACKEND": "lms_kernels.backends.docker.DockerBackend",
    "OPTIONS": {
        "runtime_dir": os.environ["KERNELS_DOCKER_RUNTIME_DIR"],
        "instance": os.environ["KERNELS_DOCKER_INSTANCE"],
    },
}

LOGGING["loggers"]["lms_kernels.pools"] = {"level": "INFO"}
