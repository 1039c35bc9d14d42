import asyncio
import base64
import hashlib
import os
import sys
import threading
import types
from typing import Any

import pytest

from shared.crypto.frames import IntegrityError, new_data_key
from shared.crypto.keys import (
    EncryptionDisabledError,
    KeyRing,
    KeyUnwrapError,
    KeyVaultKeyWrapper,
    KeyWrapper,
    LocalKeyWrapper,
    UnknownKeyError,
)

OLD, NEW = os.urandom(32), os.urandom(32)


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def test_local_round_trip() -> None:
    wrapper = LocalKeyWrapper(OLD)
    dek = new_data_key()
    wrapped = wrapper.wrap(dek)
    assert len(wrapped) == 40 and dek not in wrapped
    assert wrapper.unwrap(wrapped) == dek
    assert isinstance(wrapper, KeyWrapper)


def test_rfc3394_test_vector() -> None:
    """RFC 3394 §4.6: 256-bit key data wrapped with a 256-bit KEK."""
    kek = bytes.fromhex("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F")
    data = bytes.fromhex("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F")
    expected = bytes.fromhex(
        "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21"
    )
    assert LocalKeyWrapper(kek).wrap(data) == expected
    assert LocalKeyWrapper(kek).unwrap(expected) == data


def test_key_id_is_a_fingerprint_not_the_key() -> None:
    wrapper = LocalKeyWrapper(OLD)
    assert wrapper.key_id == "local:" + hashlib.sha256(OLD).hexdigest()[:16]
    assert wrapper.key_id != LocalKeyWrapper(NEW).key_id
    for secret in (OLD.hex(), b64(OLD)):
        assert secret not in repr(wrapper) and secret not in wrapper.key_id


def test_wrong_key_fails() -> None:
    wrapped = LocalKeyWrapper(OLD).wrap(new_data_key())
    with pytest.raises(KeyUnwrapError):
        LocalKeyWrapper(NEW).unwrap(wrapped)


@pytest.mark.parametrize("damage", ["flip", "truncate", "short", "empty", "odd"])
def test_corrupted_wrapped_key_fails(damage: str) -> None:
    wrapped = LocalKeyWrapper(OLD).wrap(new_data_key())
    corrupted = {
        "flip": bytes([wrapped[0] ^ 1]) + wrapped[1:],
        "truncate": wrapped[:-8],
        "short": wrapped[:16],
        "empty": b"",
        "odd": wrapped + b"\x00",
    }[damage]
    with pytest.raises(KeyUnwrapError) as raised:
        LocalKeyWrapper(OLD).unwrap(corrupted)
    assert isinstance(raised.value, IntegrityError)  # one family for "stored data is bad"


def test_key_sizes_are_checked() -> None:
    with pytest.raises(ValueError):
        LocalKeyWrapper(os.urandom(16))
    with pytest.raises(ValueError):
        LocalKeyWrapper(OLD).wrap(os.urandom(16))


def test_ring_wraps_with_the_active_key() -> None:
    ring = KeyRing(LocalKeyWrapper(NEW), [LocalKeyWrapper(OLD)])
    dek, stored = ring.new_data_key()
    assert stored.key_id == LocalKeyWrapper(NEW).key_id == ring.active_key_id
    assert LocalKeyWrapper(NEW).unwrap(stored.wrapped) == dek
    assert ring.unwrap(stored.key_id, stored.wrapped) == dek


def test_rotation_keeps_old_files_readable() -> None:
    before = KeyRing.from_settings(b64(OLD), [])
    dek, stored = before.new_data_key()

    after = KeyRing.from_settings(b64(NEW), [b64(OLD)])
    assert after.active_key_id != stored.key_id
    assert after.unwrap(stored.key_id, stored.wrapped) == dek
    # Retiring the old key too early strands the files it wrapped.
    retired = KeyRing.from_settings(b64(NEW), [])
    with pytest.raises(UnknownKeyError):
        retired.unwrap(stored.key_id, stored.wrapped)


def test_unknown_key_id() -> None:
    ring = KeyRing(LocalKeyWrapper(NEW), [])
    with pytest.raises(UnknownKeyError):
        ring.unwrap("local:0000000000000000", b"\x00" * 40)


def test_id_of_another_key_fails_to_unwrap() -> None:
    ring = KeyRing(LocalKeyWrapper(NEW), [LocalKeyWrapper(OLD)])
    _, stored = ring.new_data_key()
    with pytest.raises(KeyUnwrapError):
        ring.unwrap(LocalKeyWrapper(OLD).key_id, stored.wrapped)


def test_disabled_ring_still_reads_old_files() -> None:
    _, stored = KeyRing.from_settings(b64(OLD), []).new_data_key()
    ring = KeyRing.from_settings("", [b64(OLD)])
    assert not ring.enabled and ring.active_key_id is None
    assert len(ring.unwrap(stored.key_id, stored.wrapped)) == 32
    with pytest.raises(EncryptionDisabledError):
        ring.new_data_key()
    assert not KeyRing.from_settings("  ", ["", " "]).key_ids


def test_from_settings_validation_does_not_leak_the_key() -> None:
    short = b64(os.urandom(16))
    for bad in [short, "not base64!!", b64(OLD)[:-2]]:
        with pytest.raises(ValueError) as raised:
            KeyRing.from_settings(bad, [])
        assert bad not in str(raised.value)
    with pytest.raises(ValueError):
        KeyRing.from_settings(b64(NEW), [short])


def test_duplicate_keys_are_harmless() -> None:
    ring = KeyRing.from_settings(b64(NEW), [b64(NEW), b64(OLD), b64(OLD)])
    assert len(ring.key_ids) == 2
    assert b64(NEW) not in repr(ring)


# --- Key Vault (no Azure: a stand-in for azure.keyvault.keys.crypto) -------------------------


class FakeCryptographyClient:
    def __init__(self, key: str, credential: Any) -> None:
        self.key, self.credential = key, credential
        self.local = LocalKeyWrapper(hashlib.sha256(key.encode()).digest())

    def wrap_key(self, algorithm: str, key: bytes) -> Any:
        assert algorithm == "RSA-OAEP-256"
        return types.SimpleNamespace(key_id=self.key, encrypted_key=self.local.wrap(key))

    def unwrap_key(self, algorithm: str, encrypted_key: bytes) -> Any:
        assert algorithm == "RSA-OAEP-256"
        return types.SimpleNamespace(key_id=self.key, key=self.local.unwrap(encrypted_key))


@pytest.fixture
def fake_key_vault(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("azure.keyvault.keys.crypto")
    module.CryptographyClient = FakeCryptographyClient  # type: ignore[attr-defined]
    module.KeyWrapAlgorithm = types.SimpleNamespace(rsa_oaep_256="RSA-OAEP-256")  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "azure.keyvault.keys.crypto", module)


URL = "https://vault.vault.azure.net/keys/files/0123456789abcdef"


@pytest.mark.usefixtures("fake_key_vault")
def test_key_vault_wrapper_in_a_ring() -> None:
    credential = object()
    wrapper = KeyVaultKeyWrapper(URL, credential)
    assert wrapper.key_id == URL
    assert wrapper._client.credential is credential
    ring = KeyRing(wrapper, [LocalKeyWrapper(OLD)])
    dek, stored = ring.new_data_key()
    assert stored.key_id == URL
    assert ring.unwrap(URL, stored.wrapped) == dek


@pytest.mark.usefixtures("fake_key_vault")
@pytest.mark.parametrize(
    "url",
    [
        "https://vault.vault.azure.net/keys/files",  # no version
        "http://vault.vault.azure.net/keys/files/v1",
        "https://vault.vault.azure.net/secrets/files/v1",
    ],
)
def test_key_vault_url_must_name_a_version(url: str) -> None:
    with pytest.raises(ValueError):
        KeyVaultKeyWrapper(url, object())


class _CountingWrapper(LocalKeyWrapper):
    __slots__ = ("calls",)

    def __init__(self, master_key: bytes) -> None:
        super().__init__(master_key)
        self.calls = 0

    def unwrap(self, wrapped: bytes) -> bytes:
        self.calls += 1
        return super().unwrap(wrapped)


def test_unwrapped_keys_are_cached_briefly_and_boundedly() -> None:
    now = [0.0]
    wrapper = _CountingWrapper(OLD)
    ring = KeyRing(wrapper, clock=lambda: now[0])
    dek, wrapped = ring.new_data_key()
    assert ring.unwrap(wrapped.key_id, wrapped.wrapped) == dek
    assert ring.unwrap(wrapped.key_id, wrapped.wrapped) == dek
    assert wrapper.calls == 1  # the second read of the file unwrapped nothing
    now[0] += KeyRing.CACHE_SECONDS + 1
    assert ring.unwrap(wrapped.key_id, wrapped.wrapped) == dek
    assert wrapper.calls == 2  # expired: unwrapped again
    for _ in range(KeyRing.CACHE_SIZE + 10):
        ring.unwrap(*ring.new_data_key()[1])
    assert len(ring._cache) == KeyRing.CACHE_SIZE


class _RemoteWrapper(LocalKeyWrapper):
    """Stands for Key Vault: a network call (``remote``) that must not run on the loop."""

    __slots__ = ("remote", "threads")

    def __init__(self, master_key: bytes) -> None:
        super().__init__(master_key)
        self.remote = True
        self.threads: list[str] = []

    def wrap(self, dek: bytes) -> bytes:
        self.threads.append(threading.current_thread().name)
        return super().wrap(dek)

    def unwrap(self, wrapped: bytes) -> bytes:
        self.threads.append(threading.current_thread().name)
        return super().unwrap(wrapped)


def test_a_remote_wrapper_is_called_off_the_event_loop_and_once_per_key() -> None:
    wrapper = _RemoteWrapper(OLD)
    ring = KeyRing(wrapper)

    async def scenario() -> None:
        dek, wrapped = await ring.new_data_key_async()
        for _ in range(5):  # five ranges, five requests: one unwrap
            assert await ring.unwrap_async(wrapped.key_id, wrapped.wrapped) == dek

    asyncio.run(scenario())
    assert len(wrapper.threads) == 2
    assert threading.main_thread().name not in wrapper.threads
