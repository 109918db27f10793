"""A finished run does not wait for Snakemake's next scheduling pass."""

import threading

from snakesweep.scheduler import cancel_pending_timers


def test_pending_timers_are_cancelled_so_the_process_can_exit():
    fired = []
    timer = threading.Timer(60, lambda: fired.append(True))
    timer.start()
    done = threading.Timer(0, lambda: None)
    done.start()
    done.join()

    assert cancel_pending_timers() == 1
    timer.join(timeout=5)
    assert not timer.is_alive()
    assert fired == []
    assert cancel_pending_timers() == 0
