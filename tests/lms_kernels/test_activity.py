"""The activity recorder: saves are batched, and nothing recorded during a save is left unsaved."""

import asyncio
import threading
import uuid

import pytest

from lms_kernels import activity

pytestmark = pytest.mark.asyncio


async def test_a_state_recorded_during_a_save_is_saved_without_another_message(monkeypatch, settings):
    settings.LMS_KERNELS = {"ACTIVITY_SAVE_INTERVAL": 0.01}
    saved, saving, release = [], threading.Event(), threading.Event()

    def slow_save(items):
        saving.set()
        release.wait(5)
        saved.append({key: pending.state for key, pending in items.items()})

    monkeypatch.setattr(activity, "_save", slow_save)
    recorder = activity.ActivityRecorder()
    kernel = uuid.uuid4()
    recorder.record(kernel, "idle")
    await asyncio.to_thread(saving.wait, 5)
    recorder.record(kernel, "busy")  # while the first save runs; then the kernel goes silent
    release.set()
    for _ in range(100):
        if len(saved) == 2:
            break
        await asyncio.sleep(0.02)
    assert saved == [{kernel: "idle"}, {kernel: "busy"}]


async def test_many_messages_make_few_saves(monkeypatch, settings):
    settings.LMS_KERNELS = {"ACTIVITY_SAVE_INTERVAL": 0.05}
    saves = []
    monkeypatch.setattr(activity, "_save", lambda items: saves.append(dict(items)))
    recorder = activity.ActivityRecorder()
    kernel = uuid.uuid4()
    for i in range(10_000):
        recorder.record(kernel, "busy" if i % 2 else None)
    await asyncio.sleep(0.3)
    assert len(saves) == 1 and saves[0][kernel][1] == "busy"
