import pytest

from edge_gateway.settings import SETTINGS, load_settings, markdown_table
from ingress_common.config import ConfigError


def test_defaults_are_the_seed_limits() -> None:
    s = load_settings(env={})
    assert (s.max_connections, s.max_frame_bytes, s.idle_timeout_s, s.session_timeout_s) == (
        10, 65536, 10.0, 60.0)
    assert s.max_buffer_bytes == int(1.4 * 1024 * 1024)
    assert s.kafka_topic == "speech.audio.ingress"
    assert s.threads > s.max_connections


def test_precedence_is_file_then_env_then_cli(tmp_path) -> None:
    config = tmp_path / "gw.toml"
    config.write_text('max_connections = 3\nidle_timeout_s = 4.5\n[kafka_config]\n'
                      '"security.protocol" = "SSL"\n')
    s = load_settings(cli={"idle_timeout_s": "2"},
                      env={"GATEWAY_MAX_CONNECTIONS": "5", "KAFKA_CONFIG_SASL_MECHANISM": "PLAIN"},
                      config_file=str(config))
    assert s.max_connections == 5
    assert s.idle_timeout_s == 2.0
    assert s.kafka_config == {"security.protocol": "SSL", "sasl.mechanism": "PLAIN"}


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"GATEWAY_MAX_CONNECTIONS": "zero"}, "GATEWAY_MAX_CONNECTIONS"),
        ({"GATEWAY_MAX_CONNECTIONS": "0"}, "GATEWAY_MAX_CONNECTIONS"),
        ({"GATEWAY_IDLE_TIMEOUT_S": "-1"}, "GATEWAY_IDLE_TIMEOUT_S"),
        ({"GATEWAY_BIND": "8000"}, "GATEWAY_BIND"),
        ({"KAFKA_CREATE_TOPIC": "perhaps"}, "KAFKA_CREATE_TOPIC"),
        ({"GATEWAY_LOG_LEVEL": "LOUD"}, "GATEWAY_LOG_LEVEL"),
        ({"KAFKA_CONFIG_ACKS": "1"}, "kafka_config.acks"),
    ],
)
def test_bad_values_name_the_setting(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env=env)
    assert info.value.setting == named
    assert named in str(info.value)


def test_unknown_key_in_config_file_is_refused(tmp_path) -> None:
    config = tmp_path / "gw.toml"
    config.write_text("max_conections = 3\n")
    with pytest.raises(ConfigError, match="max_conections"):
        load_settings(env={}, config_file=str(config))


def test_origins_are_parsed_and_normalised() -> None:
    s = load_settings(env={"GATEWAY_ALLOWED_ORIGINS": "https://a.example/, http://b:8080"})
    assert s.allowed_origins == ("https://a.example", "http://b:8080")


def test_markdown_table_lists_every_setting() -> None:
    table = markdown_table()
    assert all(f"`{s.env}`" in table for s in SETTINGS)
