"""Acknowledgement tokens: they verify whatever characters their nonce and MAC hold."""

from __future__ import annotations

from duty.ack_links import AckSigner


def test_ack_tokens_whose_nonce_and_mac_hold_dashes_verify() -> None:
    signer = AckSigner(b"k" * 32)
    for nonce in ("a-b-c-d-", "--------", "AbCd_-_-"):
        token = signer.sign(9, expires=2_000_000_000, nonce=nonce)
        assert signer.verify(token, now=0).nonce == nonce
    tokens = [signer.sign(9, expires=2_000_000_000) for _ in range(200)]
    macs_with_dash = [t for t in tokens if "-" in t[-16:]]
    assert macs_with_dash and all(signer.verify(t, now=0).alert_id == 9 for t in macs_with_dash)
