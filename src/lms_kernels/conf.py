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
========================== ============================ ==========================================================

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
    },
)
