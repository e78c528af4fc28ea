#!/usr/bin/env python
"""Benchmark: the docker backend (a cold container start, a warm-pool hit) next to the local backend.

    .venv/bin/python benchmarks/kernels_docker.py             # full run (3 interleaved rounds)
    .venv/bin/python benchmarks/kernels_docker.py --quick     # a few minutes
    .venv/bin/python benchmarks/kernels_docker.py --rounds 5 --start-n 20 --keep out/

Run it with the project's Python (``.venv``) on a machine with a Docker engine (``DOCKER_HOST``) and the
kernel image (``--image``, default ``$LMS_TEST_KERNEL_IMAGE`` or ``groundup-lms/test-kernel:py3``; build it
with ``.venv/bin/python scripts/services.py up --install``). Like ``kernels_vs_jupyter_server.py``, whose
helpers it uses, it serves the example project on uvicorn with a fresh SQLite database, a user and an API
token, and drives it with the team's harness (``harness/kernel_bench.py``, in the bench venv
``.venv-bench``). The settings are ``benchmarks/kernels_docker_settings.py``: a ``docker`` backend whose
containers carry a label of this run's own (``instance``) and whose kernel directories are in a temporary
directory. Three kernel environments are created: ``python3`` (local kernel processes), ``py-docker``
(docker, no pool) and ``py-docker-pool`` (docker, ``pool_size`` ``--pool-size``, at least ``--start-n`` + 2);
both docker environments have the same image and limits (``--memory-mb``, ``--cpu-limit``).

Each round runs the harness's ``start`` scenario (POST /kernels, the WebSocket, the first
``kernel_info_reply``, GET, DELETE; ``--start-n`` kernels one after the other) against the three
environments, the pool filled first (``manage.py lms_kernels_pool fill``, then waited on until every pooled
kernel is ready) so that every start can be a hit; then ``rtt`` and ``stream`` against a local kernel and a
docker kernel. Figures are medians over the rounds. Pool hits are checked, not assumed: during each pool run
the server's log must show a kernel served from the pool for every start ("... is served from the pool"),
and the Docker engine's events must show no container created for the pooled environment other than the
pool's own refills (a miss would start a kernel container of its own). The kernel rows themselves are
deleted by the harness's DELETE, so the database keeps no trace of where a kernel came from.

A side-by-side table goes to stderr; the last line on stdout is one JSON object with every figure, the
ratios, the targets and whether each was met, the pool checks, and the machine (CPUs, load average before and
after, the Docker engine's version, the image id, the commit measured). Exit status 0 when every target was
met, 2 when one was missed, 130 when interrupted. On exit (Ctrl-C too) uvicorn and its kernels are stopped,
the pool is drained, and every container left with this run's ``instance`` label is removed. The machine may
be shared: the load average is recorded; treat small differences as noise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import secrets
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
import kernels_vs_jupyter_server as base  # noqa: E402

SETTINGS_MODULE = "kernels_docker_settings"  # benchmarks/kernels_docker_settings.py
LOCAL, COLD, POOL, DOCKER = "local", "docker-cold", "docker-pool", "docker"
SLUGS = {LOCAL: "python3", COLD: "py-docker", POOL: "py-docker-pool", DOCKER: "py-docker"}
STATUS = re.compile(r"size (\d+), (\d+) ready, (\d+) starting, (\d+) stale")
START_KEYS = (
    "cold_start_ms_median",
    "cold_start_ms_min",
    "cold_start_ms_p95",
    "post_ms_median",
    "ws_connect_ms_median",
    "ws_to_kernel_info_ms_median",
    "delete_ms_median",
    "kernel_info_resends",
)
RTT_KEYS = ("p50_ms", "p95_ms", "p99_ms", "req_per_s")
STREAM_KEYS = ("mb_per_s", "first_output_ms", "wall_s")
POOL_HIT_MS, STREAM_RATIO, RTT_RATIO = 100.0, 0.9, 1.1
log = base.log


def docker_engine(image):
    try:
        import docker
    except ImportError:
        sys.exit("The Docker SDK is missing: run this with the project's Python (.venv/bin/python).")
    try:
        client = docker.from_env()
        version = client.version().get("Version")
    except docker.errors.DockerException as exc:
        sys.exit(f"No Docker engine answers ({exc}); is DOCKER_HOST set?")
    try:
        image_id = client.images.get(image).id
    except docker.errors.ImageNotFound:
        sys.exit(
            f"The kernel image {image} is missing: run `.venv/bin/python scripts/services.py up --install`, "
            "which builds it (or pass --image)."
        )
    return client, version, image_id


def create_environments(manage, a, image):
    code = f"""
import json
from lms_kernels.models import KernelEnvironment as E
a = json.loads({json.dumps(json.dumps({"slugs": SLUGS, "image": image, "pool": a.pool_size}))})
local, _ = E.objects.get_or_create(slug=a["slugs"]["local"], defaults={{"display_name": "Python 3"}})
limits = dict(backend="docker", image=a["image"], memory_limit={a.memory_mb * 1024 * 1024},
              cpu_limit={a.cpu_limit or None!r})
E.objects.create(slug=a["slugs"]["docker-cold"], display_name="Python in Docker", **limits)
E.objects.create(slug=a["slugs"]["docker-pool"], display_name="Python in Docker, pooled",
                 backend_options={{"pool_size": a["pool"]}}, **limits)
print(local.backend_alias())
"""
    alias = manage("shell", "-c", code).strip().splitlines()[-1]
    if alias != "local":
        raise RuntimeError(f"the python3 environment runs on backend {alias!r}, not 'local'")


def pool_status(manage):
    line = next(x for x in manage("lms_kernels_pool", "status").splitlines() if x.startswith(SLUGS[POOL]))
    size, ready, starting, stale = map(int, STATUS.search(line).groups())
    return {"line": line, "size": size, "ready": ready, "starting": starting, "stale": stale}


def fill_pool(manage, timeout=300.0):
    """Fill the pool, then wait for the server's own background refills to finish: every kernel ready."""
    filled = manage("lms_kernels_pool", "fill", SLUGS[POOL]).strip()
    deadline = time.monotonic() + timeout
    while True:
        status = pool_status(manage)
        if status["ready"] >= status["size"] and not status["starting"] and not status["stale"]:
            return {"fill": filled, "status": status["line"]}
        if time.monotonic() > deadline:
            raise RuntimeError(f"the pool did not fill within {timeout:.0f} s: {status['line']}")
        time.sleep(1.0)


def pool_check(client, instance, log_path, log_offset, t0, t1, start_n):
    """Hits and misses of one pool run: the server's log lines and the engine's container-create events."""
    from lms_kernels.internal.containers import LABELS

    lines = Path(log_path).read_bytes()[log_offset:].decode(errors="replace").splitlines()
    served = sum(1 for x in lines if "is served from the pool" in x and f"({SLUGS[POOL]})" in x)
    discarded = sum(1 for x in lines if "was not running; discarding it" in x and SLUGS[POOL] in x)
    labels = [f"{LABELS['instance']}={instance}", f"{LABELS['environment']}={SLUGS[POOL]}"]
    filters = {"type": "container", "event": "create", "label": labels}
    events = list(client.events(since=int(t0), until=int(t1) + 1, decode=True, filters=filters))
    cold = sum(1 for e in events if LABELS["pool"] not in e["Actor"]["Attributes"])
    return {
        "starts": start_n,
        "served_from_pool": served,
        "kernel_containers_created": cold,
        "pool_refills_created": len(events) - cold,
        "pooled_discarded_dead": discarded,
        "all_hits": served == start_n and cold == 0 and not discarded,
    }


def cleanup(procs, server, project_python, client, instance):
    """uvicorn (and its local kernels) first, so nothing refills the pool; then the pool; then every container
    left with this run's label."""
    from lms_kernels.internal.containers import LABELS

    procs.stop_all()
    if server is not None:
        try:
            out = base.manage_py(
                project_python, server.django_env, server.log_path, "lms_kernels_pool", "drain"
            )
            log(f"cleanup: {out.strip() or 'no pool'}")
        except Exception as exc:
            log(f"cleanup: draining the pool failed: {exc!r}")
    if client is not None:
        left = client.containers.list(all=True, filters={"label": f"{LABELS['instance']}={instance}"})
        for container in left:
            try:
                container.remove(force=True)
            except Exception as exc:
                log(f"cleanup: could not remove container {container.name}: {exc!r}")
        log(f"cleanup: {len(left)} container(s) of instance {instance} left, removed")


def report(groups, pool_checks, targets, meta):
    def row(title, scenario, variant, key, labels):
        values = [base.median_of(groups, lab, scenario, variant, key) if lab else None for lab in labels]
        local = values[0]
        ratios = [base.ratio(v, local) for v in values[1:]]
        return [title, *(base.fmt(v) for v in values), *(base.fmt(r) for r in ratios)]

    header = ["figure", LOCAL, DOCKER, "docker pool", "docker/local", "pool/local"]
    lines = [header]
    lines += [row(f"start: {k}", "start", None, k, (LOCAL, COLD, POOL)) for k in START_KEYS]
    lines += [row(f"rtt: {k}", "rtt", None, k, (LOCAL, DOCKER, None)) for k in RTT_KEYS]
    lines += [row(f"stream: {k}", "stream", 0, k, (LOCAL, DOCKER, None)) for k in STREAM_KEYS]
    widths = [max(len(str(x[i])) for x in lines) for i in range(len(header))]
    log("")
    log(
        f"kernels_docker: medians of {meta['rounds']} round(s), {meta['start_n']} starts per start run; "
        f"{meta['cpus']} CPUs; load avg at start {meta['loadavg_start']}, at end {meta['loadavg_end']}"
    )
    log(f"image {meta['image']} ({meta['image_id'][:19]}), Docker engine {meta['docker_engine']}")
    for i, x in enumerate(lines):
        log(
            " | ".join(
                str(c).ljust(w) if j == 0 else str(c).rjust(w)
                for j, (c, w) in enumerate(zip(x, widths, strict=True))
            )
        )
        if i == 0:
            log("-+-".join("-" * w for w in widths))
    hits = sum(c["served_from_pool"] for c in pool_checks)
    log(
        f"\npool runs: {hits} of {sum(c['starts'] for c in pool_checks)} starts served from the pool; "
        f"{sum(c['kernel_containers_created'] for c in pool_checks)} kernel container(s) created (misses)"
    )
    log("targets:")
    for name, t in targets.items():
        extra = f"  ({t['error']})" if t.get("error") else ""
        log(f"  {'MET   ' if t['met'] else 'MISSED'} {name}: {t['value']}, target {t['target']}{extra}")


def build_targets(groups, pool_checks):
    def failures(*keys):
        errs = [
            f"{lab}/{sc}: {g['errors'][0][:200]}"
            for lab, sc, v in keys
            if (g := groups.get((lab, sc, v))) and g["failed"]
        ]
        missing = [f"{lab}/{sc}: not run" for lab, sc, v in keys if (lab, sc, v) not in groups]
        return "; ".join(errs + missing) or None

    pool_ms = base.median_of(groups, POOL, "start", None, "cold_start_ms_median")
    all_hits = bool(pool_checks) and all(c["all_hits"] for c in pool_checks)
    err = failures((POOL, "start", None)) or (None if all_hits else "not every pool start was a verified hit")
    targets = {
        "pool_hit_start_median_ms": {
            "value": pool_ms,
            "target": f"<={POOL_HIT_MS:g} ms",
            "met": err is None and pool_ms is not None and pool_ms <= POOL_HIT_MS,
        }
    }
    if err:
        targets["pool_hit_start_median_ms"]["error"] = err
    for name, scenario, variant, key, bound, higher in (
        ("stream_docker_vs_local", "stream", 0, "mb_per_s", STREAM_RATIO, True),
        ("rtt_p50_docker_vs_local", "rtt", None, "p50_ms", RTT_RATIO, False),
    ):
        local = base.median_of(groups, LOCAL, scenario, variant, key)
        docker = base.median_of(groups, DOCKER, scenario, variant, key)
        r = base.ratio(docker, local)
        err = failures((LOCAL, scenario, variant), (DOCKER, scenario, variant))
        met = err is None and r is not None and (r >= bound if higher else r <= bound)
        targets[name] = {
            "value": r,
            "docker": docker,
            "local": local,
            "target": f"{'>=' if higher else '<='}{bound}",
            "met": met,
        }
        if err:
            targets[name]["error"] = err
    return targets


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="1 round, fewer starts and executes")
    p.add_argument("--rounds", type=int, help="interleaved rounds (default 3; --quick 1)")
    p.add_argument("--start-n", type=int, help="kernels per start run (default 10; --quick 5)")
    p.add_argument("--pool-size", type=int, help="pool_size of the pooled environment (default start-n + 2)")
    p.add_argument("--rtt-n", type=int, help="executes per rtt run (default 1000; --quick 200)")
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--stream-lines", type=int, default=10000, help="2 KiB lines per stream run")
    p.add_argument("--stream-timeout", type=float, default=60.0)
    p.add_argument("--timeout", type=float, default=60.0, help="harness per-request timeout (s)")
    p.add_argument("--harness-timeout", type=float, default=900.0, help="limit for one harness run (s)")
    default_image = os.environ.get("LMS_TEST_KERNEL_IMAGE") or "groundup-lms/test-kernel:py3"
    p.add_argument("--image", default=default_image, help="kernel image of the docker environments")
    p.add_argument("--memory-mb", type=int, default=512, help="memory limit of the docker environments")
    p.add_argument("--cpu-limit", default="1.5", help="CPU limit of the docker environments (0: none)")
    p.add_argument("--bench-venv", default=str(base.ROOT / ".venv-bench"))
    p.add_argument("--keep", metavar="DIR", help="copy raw JSON lines and server logs to DIR")
    a = p.parse_args(argv)
    for name, full, fast in (("rounds", 3, 1), ("start_n", 10, 5), ("rtt_n", 1000, 200)):
        if getattr(a, name) is None:
            setattr(a, name, fast if a.quick else full)
    a.cpu_limit = None if float(a.cpu_limit) == 0 else a.cpu_limit
    a.pool_size = a.pool_size or a.start_n + 2
    if not a.start_n + 2 <= a.pool_size <= 100:
        p.error("--pool-size must be at least --start-n + 2 (and at most 100)")
    return a


def main(argv=None):
    a = parse_args(argv)
    signal.signal(signal.SIGTERM, base._raise_interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    client, engine_version, image_id = docker_engine(a.image)
    project_python = sys.executable
    started = time.monotonic()
    meta = {
        "cpus": os.cpu_count(),
        "loadavg_start": base.loadavg(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "docker_engine": engine_version,
        "image": a.image,
        "image_id": image_id,
        "rounds": a.rounds,
        "start_n": a.start_n,
        "pool_size": a.pool_size,
        "memory_mb": a.memory_mb,
        "cpu_limit": a.cpu_limit,
        "quick": a.quick,
        "git": base.git_state(),
    }
    procs, server, rc = base.Processes(), None, 1
    instance = f"bench-{secrets.token_hex(4)}"
    work = Path(tempfile.mkdtemp(prefix="kdock-"))
    jsonl, harness_log = work / "harness.jsonl", work / "harness.log"
    pool_checks, pool_fills = [], []
    try:
        bench_python = base.ensure_bench_venv(Path(a.bench_venv), project_python, None, False)
        env = base.write_jupyter_dirs(work, project_python)
        (work / "rt").mkdir()
        extra_env = {"KERNELS_DOCKER_RUNTIME_DIR": str(work / "rt"), "KERNELS_DOCKER_INSTANCE": instance}
        server = base.start_ours(procs, project_python, env, work, False, SETTINGS_MODULE, extra_env)

        def manage(*args):
            return base.manage_py(project_python, server.django_env, server.log_path, *args)

        create_environments(manage, a, a.image)
        base.wait_ready(server)
        log(
            f"setup: the example project is up at {server.base_url} (pid {server.proc.pid}); instance {instance}"
        )
        common = [
            "--repeat",
            "1",
            "--timeout",
            str(a.timeout),
            "--start-n",
            str(a.start_n),
            "--rtt-n",
            str(a.rtt_n),
        ]
        common += [
            "--warmup",
            str(a.warmup),
            "--stream-lines",
            str(a.stream_lines),
            "--stream-timeout",
            str(a.stream_timeout),
        ]
        meta["harness_args"] = common

        def harness(label, scenarios):
            extra = [*common, "--kernel-name", SLUGS[label], "--scenarios", scenarios]
            rc_h, secs = base.run_harness(
                procs,
                bench_python,
                env,
                label,
                server.harness_args(),
                extra,
                jsonl,
                harness_log,
                a.harness_timeout,
            )
            log(
                f"  {label} [{scenarios}]: {secs:.0f} s, {'ok' if rc_h == 0 else f'FAILED (rc={rc_h}); see --keep'}"
            )

        for r in range(1, a.rounds + 1):
            for label in (LOCAL, COLD, POOL):
                if label == POOL:
                    pool_fills.append(fill_pool(manage))
                    log(f"  pool: {pool_fills[-1]['fill']}; {pool_fills[-1]['status']}")
                    offset, t0 = server.log_path.stat().st_size, time.time()
                log(f"round {r}/{a.rounds} start {label}: load {base.loadavg()} ...")
                harness(label, "start")
                if label == POOL:
                    check = pool_check(client, instance, server.log_path, offset, t0, time.time(), a.start_n)
                    pool_checks.append({"round": r, **check})
                    log(f"  pool check: {json.dumps(check)}")
            for label in (LOCAL, DOCKER):
                log(f"round {r}/{a.rounds} rtt,stream {label}: load {base.loadavg()} ...")
                harness(label, "rtt,stream")
        groups = base.collect([jsonl])
        meta["loadavg_end"] = base.loadavg()
        meta["seconds"] = round(time.monotonic() - started, 1)
        meta["pool_status_end"] = pool_status(manage)["line"]
        targets = build_targets(groups, pool_checks)
        report(groups, pool_checks, targets, meta)
        figures = {}
        for scenario, variant, keys, labels in (
            ("start", None, START_KEYS, (LOCAL, COLD, POOL)),
            ("rtt", None, RTT_KEYS, (LOCAL, DOCKER)),
            ("stream", 0, STREAM_KEYS, (LOCAL, DOCKER)),
        ):
            for key in keys:
                values = {lab: base.median_of(groups, lab, scenario, variant, key) for lab in labels}
                values.update({f"{lab}/local": base.ratio(values[lab], values[LOCAL]) for lab in labels[1:]})
                figures[f"{scenario} {key}"] = values
        runs = base.run_summary(groups)
        result = {
            "benchmark": "kernels_docker",
            "figures": figures,
            "targets": targets,
            "all_targets_met": all(t["met"] for t in targets.values()),
            "pool": {"checks": pool_checks, "fills": pool_fills},
            "runs": runs,
            "machine": meta,
        }
        print(json.dumps(result), flush=True)
        rc = 0 if result["all_targets_met"] else 2
    except KeyboardInterrupt:
        log("interrupted: stopping everything ...")
        rc = 130
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
        try:
            cleanup(procs, server, project_python, client, instance)
        finally:
            if a.keep:
                keep = Path(a.keep)
                keep.mkdir(parents=True, exist_ok=True)
                for path in work.iterdir():
                    if path.suffix in (".jsonl", ".log"):
                        shutil.copy(path, keep / path.name)
                log(f"raw JSON lines and logs copied to {keep}")
            shutil.rmtree(work, ignore_errors=True)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
    return rc


if __name__ == "__main__":
    sys.exit(main())
