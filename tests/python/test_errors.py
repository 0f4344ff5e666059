"""Errors as exceptions on every rank: mismatch, invalid arguments (C's gate and the binding's
own checks on one rank only), timeout with a short TACL_TIMEOUT, and a peer killed with
SIGKILL or dying of an uncaught exception (PeerLost on every survivor within seconds)."""
import os
import tempfile

import pytest

from launch import run_ranks, expect_ok


def test_mismatch_invalid_timeout():
    expect_ok(run_ranks(2, "errors_ranks.py", ["errors"], env={"TACL_TIMEOUT": "3"}), 2, "errors")


@pytest.mark.parametrize("mode", ["dead", "uncaught"])
def test_dead_peer(mode):
    """kill -9 of a rank, or a rank dying of an uncaught exception (which must exit at once,
    not wait in the world's leave for ranks that wait for it): PeerLost on every survivor."""
    n = 3
    with tempfile.TemporaryDirectory() as d:
        p = run_ranks(n, "errors_ranks.py", [mode], env={"T_OUT": d, "TACL_TIMEOUT": "60"},
                      run_opts=["--grace", "40"], timeout=150)
        want = 128 + 9 if mode == "dead" else 1
        assert p.returncode == want, "tacl run should report the failed rank: %d\n%s\n%s" % (
            p.returncode, p.stdout, p.stderr)
        for r in range(n - 1):
            path = os.path.join(d, "rank%d.txt" % r)
            assert os.path.exists(path), "rank %d wrote nothing\n%s\n%s" % (r, p.stdout, p.stderr)
            line = open(path).read().strip()
            name, status, secs = line.split()[:3]
            assert name == "PeerLost" and status == "3", line
            assert float(secs) < 30, line
            assert "rank %d" % (n - 1) in line or "peer" in line, line
            assert line.endswith("then PeerLost"), line
