"""``$7$`` hashes: the same format as mosquitto_passwd, both ways."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from streetwatch.passwords import BadHash, hash_password, is_hash, new_password, verify_password


def test_a_hash_verifies_its_password_only() -> None:
    stored = hash_password("s3cret", iterations=1000)
    assert stored.startswith("$7$1000$") and is_hash(stored)
    assert verify_password("s3cret", stored)
    assert not verify_password("s3cret ", stored)
    assert hash_password("s3cret", iterations=1000) != stored  # a fresh salt each time


@pytest.mark.parametrize("broken", ["s3cret", "$6$abc$def", "$7$x$AAAA$AAAA", "$7$10$@@@@$AAAA", "$7$10$AAAA$AAAA"])
def test_what_is_not_a_hash_is_said_so(broken: str) -> None:
    assert not is_hash(broken)
    with pytest.raises(BadHash):
        verify_password("x", broken)


def test_new_passwords_are_long_and_different() -> None:
    passwords = {new_password() for _ in range(50)}
    assert len(passwords) == 50 and all(len(p) == 32 for p in passwords)


@pytest.mark.services  # mosquitto_passwd comes with the broker the fixtures need
def test_mosquitto_passwd_hashes_verify_here(tmp_path: Path) -> None:
    path = tmp_path / "passwords"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(path), "CG-1", "pa:ss wörd"], check=True)
    stored = path.read_text().strip().split(":", 1)[1]
    assert verify_password("pa:ss wörd", stored) and not verify_password("pass word", stored)
