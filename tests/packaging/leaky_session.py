"""Not collected by default: ``test_leftovers.py`` runs it as a pytest session of its own."""

import subprocess


def test_starts_a_detached_process_and_leaves_it_running():
    # Like a kernel or a relay: in its own session, so it outlives whoever started it.
    subprocess.Popen(["sleep", "300"], start_new_session=True)
