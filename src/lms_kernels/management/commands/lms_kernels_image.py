"""``manage.py lms_kernels_image``: the container images of kernel environments (the docker backend).

* ``build <environment> <directory>``: ``docker build`` of a directory with a Dockerfile, on the engine of
  the environment's backend; records the image name and its id (the digest kernels start from).
* ``import <environment> <rootfs.tar>``: ``docker import`` of a root file system tarball, the same way.
* ``pin <environment>``: record the id the environment's image name points to now (after a ``docker
  build`` or ``docker pull`` done by hand).
* ``status``: each environment's image and pinned id, and whether the engine has them.

The image is tagged ``--tag``, else the environment's image name, else ``groundup-lms/env-<slug>:latest``.
"""

from __future__ import annotations

import os

from django.core.management.base import BaseCommand, CommandError

from ...backends import get_backend
from ...exceptions import InvalidBackendError, KernelServiceError
from ...models import KernelEnvironment


def _short(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12] if image_id else "-"


class Command(BaseCommand):
    help = "Build, import, pin or list the container images of kernel environments (the docker backend)."

    def add_arguments(self, parser):
        commands = parser.add_subparsers(dest="command", required=True, metavar="{build,import,pin,status}")
        build = commands.add_parser("build", help="docker build a directory with a Dockerfile")
        build.add_argument("environment", help="the environment's slug (kernelspec name)")
        build.add_argument("directory")
        build.add_argument(
            "--tag", help="image name (default: the environment's, or groundup-lms/env-<slug>)"
        )
        imported = commands.add_parser("import", help="docker import a root file system tarball")
        imported.add_argument("environment")
        imported.add_argument("tarball")
        imported.add_argument("--tag")
        pin = commands.add_parser("pin", help="record the id the environment's image name points to now")
        pin.add_argument("environment")
        commands.add_parser("status", help="list the environments' images and whether the engine has them")

    def handle(self, *args, command, **options):
        if command == "status":
            return self.status()
        environment = self._environment(options["environment"])
        backend = self._backend(environment)
        try:
            if command == "pin":
                if not environment.image:
                    raise CommandError(f"Environment {environment.slug!r} names no image.")
                image_id = backend.resolve_image(environment)
                tag = environment.image
            else:
                tag = options["tag"] or environment.image or f"groundup-lms/env-{environment.slug}:latest"
                image_id = self._make(backend, command, options, tag)
        except KernelServiceError as exc:
            raise CommandError(exc.detail) from exc
        environment.image, environment.image_digest = tag, image_id
        environment.save(update_fields=["image", "image_digest"])
        self.stdout.write(
            self.style.SUCCESS(f"{environment.slug}: {tag} is {image_id}; its kernels start from this image.")
        )

    def _make(self, backend, command, options, tag) -> str:
        if command == "build":
            directory = options["directory"]
            if not os.path.isfile(os.path.join(directory, "Dockerfile")):
                raise CommandError(f"{directory} has no Dockerfile.")
            try:
                image_id, log = backend.build_image(directory, tag)
            except RuntimeError as exc:
                raise CommandError(f"The build failed:\n{exc}") from exc
            if options["verbosity"] > 1:
                self.stdout.write("\n".join(log))
            return image_id
        if not os.path.isfile(options["tarball"]):
            raise CommandError(f"No such file: {options['tarball']}")
        return backend.import_image(options["tarball"], tag)

    def _environment(self, slug: str) -> KernelEnvironment:
        try:
            return KernelEnvironment.objects.get(slug=slug)
        except KernelEnvironment.DoesNotExist:
            known = ", ".join(KernelEnvironment.objects.values_list("slug", flat=True)) or "none"
            raise CommandError(f"No kernel environment {slug!r} (known: {known}).") from None

    def _backend(self, environment):
        try:
            backend = get_backend(environment.backend_alias())
        except InvalidBackendError as exc:
            raise CommandError(str(exc)) from exc
        if not hasattr(backend, "build_image"):
            raise CommandError(
                f"Environment {environment.slug!r} runs on the backend {environment.backend_alias()!r}, which "
                "does not use images (set its backend to a docker backend first)."
            )
        return backend

    def status(self):
        rows = []
        for environment in KernelEnvironment.objects.all():
            try:
                backend = get_backend(environment.backend_alias())
            except InvalidBackendError:
                continue
            if not hasattr(backend, "image_id"):
                continue
            try:
                current = backend.image_id(environment.image) if environment.image else None
                pinned_present = (
                    backend.image_id(environment.image_digest) is not None
                    if environment.image_digest
                    else None
                )
            except KernelServiceError as exc:
                raise CommandError(f"{environment.backend_alias()}: {exc.detail}") from exc
            if not environment.image:
                state = "no image"
            elif environment.image_digest and not pinned_present:
                state = "pinned image missing"
            elif current is None and not environment.image_digest:
                state = "missing"
            elif environment.image_digest and current and current != environment.image_digest:
                state = "tag moved (run: lms_kernels_image pin)"
            elif environment.image_digest:
                state = "ok"
            else:
                state = "present, not pinned yet (pinned on first start)"
            rows.append(
                (
                    environment.slug,
                    environment.backend_alias(),
                    environment.image or "-",
                    _short(environment.image_digest),
                    state,
                )
            )
        if not rows:
            self.stdout.write("No kernel environment uses a backend with images.")
            return
        header = ("environment", "backend", "image", "digest", "state")
        widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            line = "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
            self.stdout.write(line.rstrip())
