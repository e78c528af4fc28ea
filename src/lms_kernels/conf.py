"""``settings.LMS_KERNELS``, read through :data:`app_settings`.

========================== ============================ ==========================================================
key                        default                      meaning
========================== ============================ ==========================================================
``BACKENDS``               ``{"local": ...}``           where kernels run: named backends, shaped like ``CACHES``
``DEFAULT_BACKEND``        ``"local"``                  the alias used by environments that name none
``DEFAULT_ENVIRONMENT``    ``None``                     kernelspec started when a client names none
``ADAPTER``                ``KernelAdapter``            the policy class (who may use what, how many kernels)
``MAX_KERNELS_PER_USER``   ``4``                        running kernels per user (``None``: no limit)
``KERNEL_STARTUP_TIMEOUT`` ``60``                       seconds a new or restarted kernel has to answer
``SHUTDOWN_TIMEOUT``       ``5``                        seconds a kernel has to exit before it is killed
``URL_PREFIX``             ``"kernels/"``               where the project includes ``lms_kernels.urls``
``MAX_MESSAGE_SIZE``       ``8 MiB``                    largest WebSocket frame a client may send
``ACTIVITY_SAVE_INTERVAL`` ``1.0``                      seconds between saves of a kernel's activity
``OUTPUT_CAP``             ``32 MiB``                   output bytes per execution sent to clients (``None``: no
                                                        cap); an environment's ``output_cap`` overrides it
``BACKGROUND_OUTPUT_CAP``  ``None``                     output bytes per kernel, between two executions, whose
                                                        parent is not an execution the server relayed (``None``:
                                                        the output cap in effect)
``EXECUTE_RATE``           ``100``                      ``execute_request`` per second, user and kernel, on average
                                                        (``None``: no limit)
``EXECUTE_BURST``          ``1000``                     ``execute_request`` a user may send a kernel at once
``AUTO_RESTART``           ``True``                     restart a kernel whose process died by itself
``RESTART_LIMIT``          ``5``                        automatic restarts in a row, each dying within
                                                        ``STABLE_START_TIME``, before a kernel is left dead
``STABLE_START_TIME``      ``10``                       seconds a restarted kernel must live to count as started
``BUSY_PROBE_AFTER``       ``600``                      seconds busy after which the culler asks the kernel on
                                                        shell; one that does not answer is reported as not
                                                        responding (``None``: never)
``MAX_BUSY_TIME``          ``None``                     seconds one execution may keep a kernel busy before a
                                                        kernel that does not answer is restarted (``None``: no
                                                        limit); per environment: ``max_busy_time``
``WATCH_INTERVAL``         ``2.0``                      seconds between a connection's checks that its kernel lives
``CULL_IDLE_TIMEOUT``      ``3600``                     seconds without activity before a kernel that is not busy
                                                        is shut down (``None``: never); per environment:
                                                        ``idle_timeout``
``CULL_WARNING``           ``300``                      seconds before culling that connected clients are warned
``CULL_INTERVAL``          ``60``                       seconds between two runs of the culling task
``REPLAY_BUFFER_SIZE``     ``4 MiB``                    bytes of output kept for a learner who is away (``0``:
                                                        nothing is kept)
``REPLAY_TIMEOUT``         ``3600``                     seconds that output is kept for a learner who is away
``GPU_QUOTA_PER_USER``     ``None``                     GPUs one user may hold (or wait for) at once (``None``: no
                                                        limit); the adapter's ``get_gpu_quota`` decides
``GPU_QUOTA_PER_GROUP``    ``{}``                       group (e.g. course key) -> GPUs its kernels may hold at
                                                        once; the adapter's ``get_group_gpu_quota`` decides
``QUEUE_TIMEOUT``          ``900``                      seconds a start waits in the queue for capacity (``0``:
                                                        refuse at once; ``None``: wait without limit)
========================== ============================ ==========================================================

A backend's capacity (kernel slots, GPU inventory, GPU sharing) is the optional ``CAPACITY`` key of its entry
in ``BACKENDS``, next to ``BACKEND`` and ``OPTIONS`` (see :mod:`lms_kernels.capacity`).

Every key is documented in ``docs/operators/settings.md``.
"""

from lms_common.settings import AppSettings

from .internal import validators

__all__ = ["DEFAULTS", "app_settings"]

DEFAULTS = {
    "BACKENDS": {"local": {"BACKEND": "lms_kernels.backends.local.LocalBackend", "OPTIONS": {}}},
    "DEFAULT_BACKEND": "local",
    "DEFAULT_ENVIRONMENT": None,
    "ADAPTER": "lms_kernels.adapters.KernelAdapter",
    "MAX_KERNELS_PER_USER": 4,
    "KERNEL_STARTUP_TIMEOUT": 60,
    "SHUTDOWN_TIMEOUT": 5,
    "URL_PREFIX": "kernels/",
    "MAX_MESSAGE_SIZE": 8 * 1024 * 1024,
    "ACTIVITY_SAVE_INTERVAL": 1.0,
    "OUTPUT_CAP": 32 * 1024 * 1024,
    "BACKGROUND_OUTPUT_CAP": None,
    "EXECUTE_RATE": 100,
    "EXECUTE_BURST": 1000,
    "AUTO_RESTART": True,
    "RESTART_LIMIT": 5,
    "STABLE_START_TIME": 10,
    "BUSY_PROBE_AFTER": 600,
    "MAX_BUSY_TIME": None,
    "WATCH_INTERVAL": 2.0,
    "CULL_IDLE_TIMEOUT": 3600,
    "CULL_WARNING": 300,
    "CULL_INTERVAL": 60,
    "REPLAY_BUFFER_SIZE": 4 * 1024 * 1024,
    "REPLAY_TIMEOUT": 3600,
    "GPU_QUOTA_PER_USER": None,
    "GPU_QUOTA_PER_GROUP": {},
    "QUEUE_TIMEOUT": 900,
}

app_settings = AppSettings(
    "LMS_KERNELS",
    DEFAULTS,
    import_strings={"ADAPTER"},
    validators={
        "BACKENDS": validators.backends,
        "DEFAULT_BACKEND": validators.identifier,
        "DEFAULT_ENVIRONMENT": validators.optional_slug,
        "MAX_KERNELS_PER_USER": validators.optional_positive_int,
        "KERNEL_STARTUP_TIMEOUT": validators.positive_number,
        "SHUTDOWN_TIMEOUT": validators.positive_number,
        "URL_PREFIX": validators.url_prefix,
        "MAX_MESSAGE_SIZE": validators.int_between(1024, 1024**3),
        "ACTIVITY_SAVE_INTERVAL": validators.non_negative_number,
        "OUTPUT_CAP": validators.optional_positive_int,
        "BACKGROUND_OUTPUT_CAP": validators.optional_positive_int,
        "EXECUTE_RATE": validators.optional_positive_number,
        "EXECUTE_BURST": validators.int_between(1, 1_000_000),
        "AUTO_RESTART": validators.boolean,
        "RESTART_LIMIT": validators.int_between(1, 1000),
        "STABLE_START_TIME": validators.positive_number,
        "BUSY_PROBE_AFTER": validators.optional_positive_number,
        "MAX_BUSY_TIME": validators.optional_positive_number,
        "WATCH_INTERVAL": validators.positive_number,
        "CULL_IDLE_TIMEOUT": validators.optional_positive_number,
        "CULL_WARNING": validators.non_negative_number,
        "CULL_INTERVAL": validators.positive_number,
        "REPLAY_BUFFER_SIZE": validators.int_between(0, 1024**3),
        "REPLAY_TIMEOUT": validators.non_negative_number,
        "GPU_QUOTA_PER_USER": validators.optional_count,
        "GPU_QUOTA_PER_GROUP": validators.group_quotas,
        "QUEUE_TIMEOUT": validators.optional_non_negative_number,
    },
)
