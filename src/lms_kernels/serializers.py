"""Jupyter Server's JSON models of kernelspecs, kernels and sessions, built from our rows.

Only the fields listed here reach clients: a kernel's connection info and backend state never do.
"""

from __future__ import annotations

from datetime import UTC

__all__ = ["kernel_model", "kernelspec_model", "kernelspecs_model", "session_model"]


def _isoformat(value) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def kernel_model(kernel) -> dict:
    from .activity import recorder

    recorder.overlay(kernel)
    model = {
        "id": str(kernel.id),
        "name": kernel.name,
        "last_activity": _isoformat(kernel.last_activity),
        "execution_state": kernel.execution_state,
        "connections": kernel.connections,
    }
    if kernel.reason:
        model["reason"] = kernel.reason
    if kernel.unresponsive_since and kernel.execution_state == "busy":
        # Busy for BUSY_PROBE_AFTER and not answering on shell (see lms_kernels.culling).
        model["not_responding_since"] = _isoformat(kernel.unresponsive_since)
    position = getattr(kernel, "queue_position", None)
    if kernel.status == "queued" and position is not None:
        # Waiting for capacity: Jupyter clients see "starting"; ours may show the place.
        model["queue_position"] = position
    return model


def session_model(session) -> dict:
    model = {
        "id": str(session.id),
        "path": session.path,
        "name": session.name,
        "type": session.type,
        "kernel": kernel_model(session.kernel),
    }
    if session.type == "notebook":  # Jupyter Server's deprecated shape, still read by older clients
        model["notebook"] = {"path": session.path, "name": session.name}
    return model


def kernelspec_model(environment) -> dict:
    metadata = {
        "lms_kernels": {
            "description": environment.description,
            "gpus": environment.gpus,
            "cpu_limit": float(environment.cpu_limit) if environment.cpu_limit is not None else None,
            "memory_limit": environment.memory_limit,
        }
    }
    return {
        "name": environment.slug,
        "spec": {
            "argv": [],
            "env": {},
            "display_name": environment.display_name,
            "language": environment.language,
            "interrupt_mode": "signal",
            "metadata": metadata,
        },
        "resources": {},
    }


def kernelspecs_model(environments, default: str | None) -> dict:
    return {"default": default, "kernelspecs": {env.slug: kernelspec_model(env) for env in environments}}
