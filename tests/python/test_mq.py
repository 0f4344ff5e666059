"""tacl.MessageQueue over libtacl's tacl_mq_* on 3 ranks. Skipped only when the loaded libtacl
lacks the message queue (tacl_mq_create not exported)."""
import pytest

import tacl
from launch import run_ranks, expect_ok


def test_message_queue():
    if not tacl.mq.available():
        pytest.skip("the loaded libtacl (%s) does not export tacl_mq_create: it was built "
                    "without the message queue" % tacl.library_path())
    expect_ok(run_ranks(3, "mq_ranks.py"), 3, "mq")
