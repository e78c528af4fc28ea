"""System checks of lms_kernels. Ids are stable; every one is listed in docs/operators/checks.md.

==================== ===========================================================================
``E001``-``E004``    the settings dict (shared with every app, see :mod:`lms_common.checks`)
``E101``             ``DEFAULT_BACKEND`` names no entry of ``BACKENDS``
``E102``             a backend class cannot be imported or is not a ``KernelBackend``
``E103``             a backend refuses its ``OPTIONS``
``E104``             an active environment names an unknown backend (``check --database default``)
``E105``             an active environment does not suit its backend, e.g. no image, or the docker backend's
                     tcp transport with the network policy ``none`` (``check --database default``)
``E106``             an active environment needs more GPUs than its backend's ``CAPACITY["GPUS"]`` lists
                     (``check --database default``)
``E107``             an active environment's warm pool size is invalid, set for an environment with GPUs, or
                     set on a backend that keeps no pools (``check --database default``)
``W101``             the local backend serves kernels with ``DEBUG`` off (``check --deploy``)
``W102``             ``lms_kernels.urls`` is not included under ``URL_PREFIX``
``W103``             idle culling is on but django-background-tasks is not installed to run it
``W104``             an active environment's image is missing on its Docker engine (``check --deploy``)
``W105``             a Docker backend's engine does not answer (``check --deploy``)
==================== ===========================================================================
"""

from django.conf import settings
from django.core import checks

from lms_common.checks import check_app_settings

from .conf import app_settings


@checks.register()
def settings_check(app_configs=None, **kwargs):
    return check_app_settings(app_settings, "lms_kernels")


def _settings_are_valid() -> bool:
    return not app_settings.problems()


@checks.register()
def backends_check(app_configs=None, **kwargs):
    from .backends import load_backend_class
    from .exceptions import InvalidBackendError

    if not _settings_are_valid():
        return []  # reported as E00x already
    errors = []
    if app_settings.DEFAULT_BACKEND not in app_settings.BACKENDS:
        errors.append(
            checks.Error(
                f"LMS_KERNELS['DEFAULT_BACKEND'] is {app_settings.DEFAULT_BACKEND!r}, which is not a key of "
                "LMS_KERNELS['BACKENDS'].",
                hint=f"Use one of: {', '.join(sorted(app_settings.BACKENDS))}.",
                id="lms_kernels.E101",
            )
        )
    for alias, config in app_settings.BACKENDS.items():
        try:
            cls = load_backend_class(alias)
        except InvalidBackendError as exc:
            errors.append(checks.Error(str(exc), id="lms_kernels.E102"))
            continue
        for problem in cls.check_options(config.get("OPTIONS", {})):
            errors.append(
                checks.Error(
                    f"LMS_KERNELS['BACKENDS'][{alias!r}]['OPTIONS']: {problem}.", id="lms_kernels.E103"
                )
            )
    return errors


@checks.register(checks.Tags.database)
def environments_check(app_configs=None, databases=None, **kwargs):
    """Runs with ``check --database default`` (it reads the environments table)."""
    from django.db import DatabaseError

    from .models import KernelEnvironment

    if not databases or not _settings_are_valid():
        return []
    try:
        environments = list(KernelEnvironment.objects.active())
    except DatabaseError:
        return []  # not migrated yet
    errors = []
    for env in environments:
        if env.backend_alias() not in app_settings.BACKENDS:
            errors.append(
                checks.Error(
                    f"Kernel environment {env.slug!r} uses the backend {env.backend_alias()!r}, which "
                    "LMS_KERNELS['BACKENDS'] does not define.",
                    hint="Add the backend, or change or deactivate the environment in the admin.",
                    obj=env,
                    id="lms_kernels.E104",
                )
            )
            continue
        for problem in _environment_problems(env):
            errors.append(
                checks.Error(
                    f"Kernel environment {env.slug!r} cannot run on the backend {env.backend_alias()!r}: "
                    f"{problem}.",
                    hint="Change the environment in the admin, or the backend's OPTIONS.",
                    obj=env,
                    id="lms_kernels.E105",
                )
            )
    return errors


def _environment_problems(environment) -> list[str]:
    """What the environment's backend says about it (backends may define ``check_environment``)."""
    from .backends import get_backend
    from .exceptions import InvalidBackendError

    try:
        backend = get_backend(environment.backend_alias())
    except InvalidBackendError:
        return []  # E102/E103
    check = getattr(backend, "check_environment", None)
    return check(environment) if check else []


@checks.register(deploy=True)
def images_check(app_configs=None, **kwargs):
    """Deploy check: every active environment's image is on its engine (backends with ``missing_images``)."""
    from django.db import DatabaseError

    from .backends import get_backend
    from .exceptions import InvalidBackendError, KernelServiceError
    from .models import KernelEnvironment

    if not _settings_are_valid():
        return []
    try:
        environments = list(KernelEnvironment.objects.active())
    except DatabaseError:
        return []  # not migrated yet
    by_alias: dict[str, list] = {}
    for env in environments:
        by_alias.setdefault(env.backend_alias(), []).append(env)
    messages = []
    for alias, group in sorted(by_alias.items()):
        try:
            backend = get_backend(alias)
        except InvalidBackendError:
            continue  # E102/E103/E104
        if not hasattr(backend, "missing_images"):
            continue
        try:
            missing = backend.missing_images(group)
        except KernelServiceError:
            messages.append(
                checks.Warning(
                    f"The Docker engine of the kernel backend {alias!r} does not answer, so its kernels cannot "
                    "start and its images cannot be checked.",
                    hint="Start the engine, or fix the backend's 'base_url' option (or DOCKER_HOST).",
                    id="lms_kernels.W105",
                )
            )
            continue
        for env, image in missing:
            messages.append(
                checks.Warning(
                    f"The image {image} of kernel environment {env.slug!r} is missing on the Docker engine of "
                    f"the backend {alias!r}: its kernels cannot start.",
                    hint=f"Build it: python manage.py lms_kernels_image build {env.slug} <directory with a "
                    "Dockerfile> (or import a root file system with 'lms_kernels_image import').",
                    obj=env,
                    id="lms_kernels.W104",
                )
            )
    return messages


@checks.register(checks.Tags.security, deploy=True)
def local_backend_check(app_configs=None, **kwargs):
    if settings.DEBUG or not _settings_are_valid():
        return []
    local = [
        alias
        for alias, config in app_settings.BACKENDS.items()
        if config.get("BACKEND") == "lms_kernels.backends.local.LocalBackend"
    ]
    if not local:
        return []
    return [
        checks.Warning(
            f"The local kernel backend ({', '.join(local)}) is configured with DEBUG off: learners' code would "
            "run with the web server's privileges and could read its database and secret key.",
            hint="Use the Docker backend or a gateway for untrusted learners (see the operators' security page).",
            id="lms_kernels.W101",
        )
    ]


@checks.register(checks.Tags.urls)
def url_prefix_check(app_configs=None, **kwargs):
    from django.urls import NoReverseMatch, reverse

    if not _settings_are_valid():
        return []
    expected = "/" + app_settings.URL_PREFIX + "api/kernels"
    try:
        actual = reverse("lms_kernels:kernel-list")
    except NoReverseMatch:
        actual = None
    if actual == expected:
        return []
    where = f"at {actual!r}" if actual else "nowhere (the 'lms_kernels' URL namespace is missing)"
    return [
        checks.Warning(
            f"The kernel REST API is served {where}, but the WebSocket route expects {expected!r} "
            f"(LMS_KERNELS['URL_PREFIX'] = {app_settings.URL_PREFIX!r}).",
            hint=f"Include lms_kernels.urls with path({app_settings.URL_PREFIX!r}, include('lms_kernels.urls')), "
            "or set URL_PREFIX to where you include it.",
            id="lms_kernels.W102",
        )
    ]


@checks.register()
def culling_check(app_configs=None, **kwargs):
    from django.apps import apps

    if not _settings_are_valid() or apps.is_installed("background_task"):
        return []
    return [
        checks.Warning(
            "Idle kernels are culled by a repeating django-background-tasks task, but 'background_task' is not "
            "in INSTALLED_APPS: kernels are only culled when 'manage.py lms_kernels_cull' runs.",
            hint="Add 'lms_common.apps.BackgroundTaskConfig' to INSTALLED_APPS and run 'manage.py "
            "process_tasks', or run 'manage.py lms_kernels_cull' from cron every few minutes.",
            id="lms_kernels.W103",
        )
    ]


@checks.register(checks.Tags.database)
def gpu_inventory_check(app_configs=None, databases=None, **kwargs):
    """Runs with ``check --database default``: environments that need more GPUs than their backend has."""
    from django.db import DatabaseError

    from .capacity import capacity_of
    from .models import KernelEnvironment

    if not databases or not _settings_are_valid():
        return []
    try:
        environments = list(KernelEnvironment.objects.active().filter(gpus__gt=0))
    except DatabaseError:
        return []  # not migrated yet
    errors = []
    for env in environments:
        alias = env.backend_alias()
        if alias not in app_settings.BACKENDS:
            continue  # E104
        have = len(capacity_of(alias).gpus)
        if env.gpus > have:
            errors.append(
                checks.Error(
                    f"Kernel environment {env.slug!r} needs {env.gpus} GPU(s), but its backend {alias!r} lists "
                    f"{have} in LMS_KERNELS['BACKENDS'][{alias!r}]['CAPACITY']['GPUS']: its kernels cannot start.",
                    hint="List the host's GPU device ids in the backend's CAPACITY, or lower the environment's GPUs.",
                    obj=env,
                    id="lms_kernels.E106",
                )
            )
    return errors


@checks.register(checks.Tags.database)
def pools_check(app_configs=None, databases=None, **kwargs):
    """Runs with ``check --database default``: environments whose ``pool_size`` cannot be honoured."""
    from django.db import DatabaseError

    from .models import KernelEnvironment
    from .pools import pool_problems

    if not databases or not _settings_are_valid():
        return []
    try:
        environments = list(KernelEnvironment.objects.active())
    except DatabaseError:
        return []  # not migrated yet
    errors = []
    for env in environments:
        if "pool_size" not in (env.backend_options or {}):
            continue
        for problem in pool_problems(env):
            errors.append(
                checks.Error(
                    f"Kernel environment {env.slug!r} cannot have the warm pool it asks for: {problem}.",
                    hint="Change the environment's backend options in the admin (see the operators' Docker "
                    "page, 'Warm pools').",
                    obj=env,
                    id="lms_kernels.E107",
                )
            )
    return errors
