"""`make` waits for apt's lock instead of failing (issue 20, finding 10).

Another apt or dpkg (unattended upgrades, a second `make`) holds a lock; apt 2.6's `apt-get
update` then fails at once whatever `DPkg::Lock::Timeout` says. A stand-in `apt-get` on PATH
fails with apt's own lock message a given number of times, then succeeds, and logs its calls.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
LOCKED = (
    "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 4242 (apt-get)\n"
    "E: Unable to lock directory /var/lib/apt/lists/"
)
FAKE_APT = """#!/bin/bash
echo "$*" >> "{log}"
if [ "$(grep -c . "{log}")" -le {failures} ]; then
  printf '%s\\n' "{message}" >&2
  exit 100
fi
"""


def _make(tmp_path: Path, *, failures: int, message: str = LOCKED, **variables: str):
    """Run `make system-packages` with the stand-in apt-get; return (the run, its apt calls)."""
    bin_dir, log = tmp_path / "bin", tmp_path / "apt.log"
    bin_dir.mkdir()
    apt = bin_dir / "apt-get"
    apt.write_text(FAKE_APT.format(log=log, failures=failures, message=message))
    apt.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    settings = {"SUDO": "", "APT_POLL": "0.1", **variables}
    run = subprocess.run(
        ["make", "--no-print-directory", "system-packages"]
        + [f"{k}={v}" for k, v in settings.items()],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return run, log.read_text().splitlines() if log.exists() else []


def test_make_waits_while_another_apt_holds_the_lock_then_installs(tmp_path):
    # Locked for the first two tries of `update`; the third gets through, then the install
    # (which also waits for dpkg's own lock through DPkg::Lock::Timeout).
    run, calls = _make(tmp_path, failures=2)
    assert run.returncode == 0, run.stdout + run.stderr
    assert calls == ["-o DPkg::Lock::Timeout=600 update -qq"] * 3 + [
        "-o DPkg::Lock::Timeout=600 install -y -qq chromium fonts-dejavu-core poppler-utils "
        "openjdk-17-jre-headless"
    ]
    assert run.stdout.count("waiting for apt's lock, held by another process") == 2


def test_make_stops_at_once_on_an_apt_error_that_is_not_a_lock(tmp_path):
    message = "E: Unable to locate package chromium"
    run, calls = _make(tmp_path, failures=1, message=message)
    assert run.returncode != 0
    assert calls == ["-o DPkg::Lock::Timeout=600 update -qq"]
    assert message in run.stderr and "waiting" not in run.stdout


@pytest.mark.parametrize("wait", ["0", "1"])
def test_make_gives_up_with_apts_message_when_the_lock_outlasts_apt_wait(tmp_path, wait):
    run, calls = _make(tmp_path, failures=1_000, APT_WAIT=wait)
    assert run.returncode != 0
    assert LOCKED.splitlines()[0] in run.stderr
    assert all(c == f"-o DPkg::Lock::Timeout={wait} update -qq" for c in calls)
