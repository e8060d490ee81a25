from __future__ import annotations

from pathlib import Path

import pytest

from streetwatch.config import ConfigError, DatabaseUrl, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in ("STREETWATCH_DATABASE_URL", "STREETWATCH_MQTT_URL", "STREETWATCH_DATA_DIR",
                "STREETWATCH_CONFIG", "STREETWATCH_TIMEZONE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults_are_embedded_sqlite_in_data_dir() -> None:
    settings = load_settings()
    assert settings.database.backend == "sqlite"
    assert settings.database.sqlite_path == Path(".streetwatch/streetwatch.db")
    assert settings.mqtt_url == "mqtt://127.0.0.1:1883"


def test_data_dir_moves_the_default_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREETWATCH_DATA_DIR", "/var/lib/sw")
    assert load_settings().database.sqlite_path == Path("/var/lib/sw/streetwatch.db")


@pytest.mark.parametrize(
    ("url", "backend", "path"),
    [
        ("postgresql://u@db:5432/streetwatch", "postgresql", None),
        ("postgres://db/sw", "postgresql", None),
        ("sqlite:///data/sw.db", "sqlite", Path("data/sw.db")),
        ("sqlite:////var/lib/sw.db", "sqlite", Path("/var/lib/sw.db")),
    ],
)
def test_database_url_selects_backend(url: str, backend: str, path: Path | None) -> None:
    parsed = DatabaseUrl.parse(url)
    assert (parsed.backend, parsed.sqlite_path) == (backend, path)


def test_environment_overrides_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "streetwatch.toml"
    config.write_text('mqtt_url = "mqtt://broker.file:1884"\ntimezone = "UTC"\n[store]\nbatch_size = 123\n')
    monkeypatch.setenv("STREETWATCH_MQTT_URL", "mqtt://broker.env:1885")
    settings = load_settings(config)
    assert settings.mqtt_url == "mqtt://broker.env:1885"
    assert settings.timezone == "UTC"
    assert settings.store.batch_size == 123


def test_streetwatch_toml_in_cwd_is_read_by_default(tmp_path: Path) -> None:
    (tmp_path / "streetwatch.toml").write_text('timezone = "Europe/Berlin"\n')
    assert load_settings().timezone == "Europe/Berlin"


def test_bad_env_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREETWATCH_DATABASE_URL", "mysql://x")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert str(err.value) == (
        "STREETWATCH_DATABASE_URL (environment): unsupported scheme 'mysql'; use postgresql://… or sqlite:///path"
    )


def test_bad_nested_env_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREETWATCH_STORE__BATCH_SIZE", "0")
    with pytest.raises(ConfigError, match=r"^STREETWATCH_STORE__BATCH_SIZE \(environment\): .*greater than 0"):
        load_settings()


def test_bad_file_value_names_the_key_and_file(tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text('timezone = "Mars/Olympus"\n[gateway]\npoll_timeout_s = -1\nbogus = 1\n')
    with pytest.raises(ConfigError) as err:
        load_settings(config)
    message = str(err.value)
    assert f"timezone (in {config}): unknown time zone 'Mars/Olympus'" in message
    assert f"gateway.poll_timeout_s (in {config}): Input should be greater than 0" in message
    assert f"gateway.bogus (in {config}): unknown setting" in message
    assert "\n" not in message


def test_unreadable_toml_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "broken.toml"
    config.write_text("timezone = \n")
    with pytest.raises(ConfigError, match=rf"^config file {config}: not valid TOML"):
        load_settings(config)


def test_missing_config_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREETWATCH_CONFIG", "/nonexistent/sw.toml")
    with pytest.raises(ConfigError, match=r"^STREETWATCH_CONFIG \(environment\): config file"):
        load_settings()
