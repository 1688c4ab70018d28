"""Where settings come from: environment over crm.toml over defaults."""

from __future__ import annotations

import pytest

from crmcore.settings import SettingsError, load_settings, write_config_file, write_plugin_state


def test_defaults_put_sqlite_inside_home(tmp_path):
    settings = load_settings(home=tmp_path, env={})
    assert settings.database_url == f"sqlite:///{tmp_path / 'crm.sqlite'}"
    assert settings.home == tmp_path.resolve()
    assert settings.load_plugins is None


def test_config_file_overrides_defaults(tmp_path):
    write_config_file(
        tmp_path,
        {"database": {"url": "postgresql://db.example/crm"}, "plugins": {"geo": {"k": 1}}},
    )
    settings = load_settings(home=tmp_path, env={})
    assert settings.database_url == "postgresql://db.example/crm"
    assert settings.plugin_settings("geo") == {"k": 1}


def test_environment_overrides_config_file(tmp_path):
    write_config_file(tmp_path, {"database": {"url": "postgresql://file/crm"}, "language": "en"})
    env = {"CRM_DATABASE_URL": "sqlite:////tmp/env.sqlite", "CRM_LANGUAGE": "fa"}
    settings = load_settings(home=tmp_path, env=env)
    assert settings.database_url == "sqlite:////tmp/env.sqlite"
    assert settings.default_language == "fa"


def test_crm_home_from_environment(tmp_path):
    settings = load_settings(env={"CRM_HOME": str(tmp_path)})
    assert settings.home == tmp_path.resolve()


def test_load_plugins_allow_list_from_environment(tmp_path):
    settings = load_settings(home=tmp_path, env={"CRM_LOAD_PLUGINS": "geo, hr"})
    assert settings.load_plugins == ("geo", "hr")


def test_secret_key_comes_from_environment_only(tmp_path):
    write_config_file(tmp_path, {"secret_key": "in-file-is-ignored"})
    assert load_settings(home=tmp_path, env={}).secret_key == ""
    assert load_settings(home=tmp_path, env={"CRM_SECRET_KEY": "s3"}).secret_key == "s3"


def test_unsupported_database_url_is_a_clear_error(tmp_path):
    with pytest.raises(SettingsError, match="mysql://x"):
        load_settings(home=tmp_path, env={"CRM_DATABASE_URL": "mysql://x"})


def test_plugin_state_round_trips_through_the_file(tmp_path):
    write_config_file(tmp_path, {"language": "fa", "plugins": {"geo": {"radius": 5}}})
    write_plugin_state(tmp_path, "geo", enabled=False)
    settings = load_settings(home=tmp_path, env={})
    assert settings.disabled == ("geo",)
    assert settings.plugin_settings("geo") == {"radius": 5}
    assert settings.default_language == "fa"
    write_plugin_state(tmp_path, "geo", enabled=True)
    assert load_settings(home=tmp_path, env={}).enabled == ("geo",)
