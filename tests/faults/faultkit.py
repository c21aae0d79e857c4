"""Helpers of the fault suite: run the CLI, and make real file-system failures.

Disk full and read-only directories are produced for real where the machine allows it: the command
runs in a user + mount namespace (`unshare --user --map-root-user --mount`, util-linux) on a tiny
tmpfs (a real ENOSPC from the kernel) or on a read-only bind mount (a real EROFS). Where user
namespaces are not permitted, the same command runs under RLIMIT_FSIZE (a real EFBIG from the
kernel at the write call; Python ignores SIGXFSZ) or, for read-only, under `chmod a-w` when the
tests do not run as root. No write call is mocked.
"""

from __future__ import annotations

import functools
import os
import resource
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from forgetmap.cli.main import main

PY = sys.executable


def cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    """Run `forgetmap ARGS` in-process: (exit code, stdout, stderr)."""
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line_error(code: int, err: str, *needles: str) -> str:
    """Assert the CLI failed with exit 2 and exactly one line on stderr containing `needles`."""
    assert code == 2, err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


def forgetmap_argv(*args: object) -> list[str]:
    return [PY, "-m", "forgetmap", *map(str, args)]


@functools.cache
def namespaces_allowed() -> bool:
    """Whether this machine lets an unprivileged user namespace mount a tmpfs."""
    try:
        r = subprocess.run(
            ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
             "mount -t tmpfs -o size=64k tmpfs /mnt 2>/dev/null || "
             "mount -t tmpfs -o size=64k tmpfs /tmp"],
            capture_output=True, timeout=30,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


def run_sh(script: str, env: dict[str, str] | None = None, timeout: int = 300):
    return subprocess.run(
        ["sh", "-c", script], capture_output=True, text=True, env=env, timeout=timeout
    )


def on_full_disk(
    setup: list[list[str]], failing: list[str], mount: Path, copy_to: Path, env: dict[str, str]
) -> tuple[int, str, str]:
    """Run the `setup` commands (they must succeed), fill the disk, run `failing`; afterwards copy
    `mount`'s content to `copy_to` for inspection. Returns (exit code, stderr, errno word) of the
    failing command.

    With namespaces: `mount` is a 2 MiB tmpfs, filled up by a filler file before `failing`
    (ENOSPC). Without: `failing` runs under RLIMIT_FSIZE=0 (EFBIG)."""
    mount.mkdir(parents=True, exist_ok=True)
    if namespaces_allowed():
        q = shlex.join
        rc_file, err_file = copy_to.parent / "rc", copy_to.parent / "stderr"
        script = "\n".join(
            [
                "set -e",
                f"mount -t tmpfs -o size=2m tmpfs {q([str(mount)])}",
                *(q(c) for c in setup),
                f"dd if=/dev/zero of={q([str(mount / 'filler')])} bs=4k 2>/dev/null || true",
                "set +e",
                f"{q(failing)} 2> {q([str(err_file)])}; echo $? > {q([str(rc_file)])}",
                f"rm -f {q([str(mount / 'filler')])}",
                f"cp -a {q([str(mount)])} {q([str(copy_to)])}",
            ]
        )
        r = subprocess.run(
            ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script],
            capture_output=True, text=True, env=env, timeout=600,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        return int(rc_file.read_text()), err_file.read_text(), "No space left on device"
    for c in setup:
        subprocess.run(c, check=True, env=env, capture_output=True, timeout=600)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))

    r = subprocess.run(
        failing, capture_output=True, text=True, env=env, timeout=600, preexec_fn=limit
    )
    subprocess.run(["cp", "-a", str(mount), str(copy_to)], check=True)
    return r.returncode, r.stderr, "File too large"


def on_read_only(directory: Path, command: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run `command` while `directory` is read-only: (exit code, stderr)."""
    if os.geteuid() != 0:
        mode = directory.stat().st_mode
        directory.chmod(0o555)
        try:
            r = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
        finally:
            directory.chmod(mode)
        return r.returncode, r.stderr
    assert namespaces_allowed(), "running as root without user namespaces: cannot make a dir RO"
    d = shlex.quote(str(directory))
    script = f"mount --bind {d} {d} && mount -o remount,bind,ro {d} && exec {shlex.join(command)}"
    r = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    return r.returncode, r.stderr


def visible_files(root: Path) -> list[Path]:
    """Files a reader would see (no dot-prefixed temp files or dirs)."""
    return sorted(
        p for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )  # fmt: skip
