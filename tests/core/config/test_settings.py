from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from assistant.core.base.errors import SettingsError
from assistant.core.base.paths import get_paths
from assistant.core.config.settings import (
    SCHEMA_VERSION,
    Settings,
    load_settings,
    save_settings,
    set_value,
)


def test_assistant_home_holds_everything(assistant_home):
    p = get_paths().ensure()
    for d in (p.config_dir, p.data_dir, p.cache_dir):
        assert d.is_relative_to(assistant_home)
    assert p.history_db.is_relative_to(assistant_home)


def test_defaults_when_missing_and_round_trip():
    s = load_settings()
    assert s == Settings()
    s = set_value(s, "generation.temperature", 0.2)
    f = save_settings(s)
    data = json.loads(f.read_text())
    assert data["schema_version"] == SCHEMA_VERSION
    assert load_settings().generation.temperature == 0.2


def test_bad_value_names_the_key():
    f = get_paths().settings_file
    f.parent.mkdir(parents=True)
    f.write_text(json.dumps({"generation": {"temperature": 5}}))
    with pytest.raises(SettingsError) as e:
        load_settings()
    msg = str(e.value)
    assert "generation.temperature" in msg and "5" in msg and "\n" not in msg
    assert "settings reset" in msg


def test_unknown_key_and_broken_json():
    f = get_paths().settings_file
    f.parent.mkdir(parents=True)
    f.write_text(json.dumps({"model": {"n_ctxx": 100}}))
    with pytest.raises(SettingsError, match=r"Unknown setting 'model\.n_ctxx'"):
        load_settings()
    f.write_text('{"model": ')
    with pytest.raises(SettingsError, match="not valid JSON"):
        load_settings()


def test_newer_schema_is_refused_not_overwritten():
    f = get_paths().settings_file
    f.parent.mkdir(parents=True)
    f.write_text(json.dumps({"schema_version": SCHEMA_VERSION + 1}))
    with pytest.raises(SettingsError, match="newer version"):
        load_settings()
    assert json.loads(f.read_text())["schema_version"] == SCHEMA_VERSION + 1


def test_set_value_conveniences():
    s = set_value(Settings(), "generation.seed", 5)
    assert set_value(s, "generation.seed", "").generation.seed is None
    assert set_value(s, "generation.seed", None).generation.seed is None
    assert set_value(s, "generation.stop", "END").generation.stop == ["END"]
    assert set_value(s, "generation.stop", ["a", "b"]).generation.stop == ["a", "b"]
    assert set_value(s, "chat.system_prompt", "").chat.system_prompt == ""
    with pytest.raises(SettingsError, match="managed by the assistant"):
        set_value(s, "schema_version", 2)
    with pytest.raises(SettingsError, match=r"model\.n_ctx"):
        set_value(s, "model.n_ctx", "")


def test_set_value_validates():
    with pytest.raises(SettingsError, match=r"model\.n_ctx"):
        set_value(Settings(), "model.n_ctx", 10)
    with pytest.raises(SettingsError, match="Unknown setting"):
        set_value(Settings(), "model.nope", 1)
    with pytest.raises(SettingsError, match="Unknown setting"):
        set_value(Settings(), "model", 1)


def test_a_models_own_values_apply_to_that_file_only():
    from assistant.core.config.settings import ModelSettings

    m = ModelSettings.model_validate(
        {
            "n_ctx": 4096,
            "n_threads": 4,
            "per_model": {
                "big.gguf": {"n_ctx": 16384, "n_gpu_layers": 20, "chat_template": "chatml"},
                "empty.gguf": {"n_ctx": None, "chat_template": "  "},
            },
        }
    )
    big = m.for_file("/models/big.gguf")
    assert (big.n_ctx, big.n_threads, big.n_gpu_layers, big.chat_template) == (
        16384,
        4,  # not its own: the model section's
        20,
        "chatml",
    )
    other = m.for_file("other.gguf")
    assert (other.n_ctx, other.n_gpu_layers, other.chat_template) == (4096, -1, None)
    assert "empty.gguf" not in m.per_model  # nothing of its own is no entry
    assert big.per_model == {} and other == m.model_copy(update={"per_model": {}})


def test_per_model_keys_are_file_names_and_values_are_checked():
    from assistant.core.config.settings import ModelSettings

    with pytest.raises(ValidationError, match="file name, without a folder"):
        ModelSettings.model_validate({"per_model": {"/models/a.gguf": {"n_ctx": 2048}}})
    with pytest.raises(ValidationError, match="greater than or equal to 256"):
        ModelSettings.model_validate({"per_model": {"a.gguf": {"n_ctx": 10}}})
    with pytest.raises(ValidationError, match="Extra inputs"):
        ModelSettings.model_validate({"per_model": {"a.gguf": {"n_batch": 10}}})
