"""initData validation as Telegram documents it (core.telegram.org/bots/webapps, "Validating
data received via the Mini App"), against the published example (tma.js's docs: a real
client's initData with its bot token) and against every way it can be wrong."""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import quote, urlencode

import pytest

from bot.webapp.auth import InitDataError, secret_key, validate
from sim.telegram.web_apps import sign_init_data
from trading.config import ConfigError, load_settings

# A real client's initData and its bot's token, as published by Telegram Mini Apps' docs.
PUBLISHED = (
    "user=%7B%22id%22%3A279058397%2C%22first_name%22%3A%22Vladislav%20%2B%20-%20%3F%20%5C%2F%22%2C"
    "%22last_name%22%3A%22Kibenko%22%2C%22username%22%3A%22vdkfrost%22%2C%22language_code%22%3A%22ru%22%2C"
    "%22is_premium%22%3Atrue%2C%22allows_write_to_pm%22%3Atrue%2C%22photo_url%22%3A%22https%3A%5C%2F%5C%2F"
    "t.me%5C%2Fi%5C%2Fuserpic%5C%2F320%5C%2F4FPEE4tmP3ATHa57u6MqTDih13LTOiMoKoLDRG4PnSA.svg%22%7D"
    "&chat_instance=8134722200314281151&chat_type=private&auth_date=1733509682"
    "&signature=TYJxVcisqbWjtodPepiJ6ghziUL94-KNpG8Pau-X7oNNLNBM72APCpi_RKiUlBvcqo5L-LAxIc3dnTzcZX_PDg"
    "&hash=a433d8f9847bd6addcc563bff7cc82c89e97ea0d90c11fe5729cae6796a36d73"
)
PUBLISHED_TOKEN = "7342037359:AAHI25ES9xCOMPokpYoz-p8XVrZUdygo2J4"
TOKEN = "123456:LOCAL-DEMO-TOKEN"
NOW = 1_800_000_000


def fields(**extra: str) -> dict[str, str]:
    return {"auth_date": str(NOW - 10), "query_id": "AAH1", "user": json.dumps({"id": 1001, "first_name": "Ada",
            "username": "ada"}, separators=(",", ":")), **extra}


def test_the_published_example_validates_and_any_change_breaks_it():
    user = validate(PUBLISHED, secret_key(PUBLISHED_TOKEN), 3600, now=1733509682 + 5)
    assert (user.id, user.username, user.first_name) == (279058397, "vdkfrost", "Vladislav + - ? /")
    key = secret_key(PUBLISHED_TOKEN)
    for changed in (
        PUBLISHED.replace("signature=", "signatur3="),  # every field but hash is signed, signature too
        PUBLISHED.replace("chat_type=private", "chat_type=sender"),
        PUBLISHED.replace("279058397", "279058398"),
        PUBLISHED.replace("hash=a433", "hash=b433"),
    ):
        with pytest.raises(InitDataError):
            validate(changed, key, 3600, now=1733509682)
    with pytest.raises(InitDataError):  # another bot's token
        validate(PUBLISHED, secret_key(TOKEN), 3600, now=1733509682)


def test_the_steps_as_documented():
    """secret_key = HMAC_SHA256(key "WebAppData", bot token); hash = hex HMAC_SHA256(secret_key,
    data-check-string) where the string is key=value sorted by key, "\\n"-joined, hash left out."""
    f = fields(start_param="-1001")
    check = "\n".join(f"{k}={f[k]}" for k in sorted(f))
    key = hmac.new(b"WebAppData", TOKEN.encode(), hashlib.sha256).digest()
    raw = urlencode({**f, "hash": hmac.new(key, check.encode(), hashlib.sha256).hexdigest()}, quote_via=quote)
    assert raw == sign_init_data(TOKEN, f)  # the local Bot API signs as Telegram does
    user = validate(raw, secret_key(TOKEN), 3600, now=NOW)
    assert (user.id, user.who, user.start_param) == (1001, "@ada", "-1001")


def test_expired_future_duplicated_and_malformed_are_refused():
    key = secret_key(TOKEN)
    assert validate(sign_init_data(TOKEN, fields()), key, 3600, now=NOW).id == 1001
    cases = {
        "expired": sign_init_data(TOKEN, fields(auth_date=str(NOW - 3601))),
        "future": sign_init_data(TOKEN, fields(auth_date=str(NOW + 120))),
        "no auth_date": sign_init_data(TOKEN, {k: v for k, v in fields().items() if k != "auth_date"}),
        "no user": sign_init_data(TOKEN, {k: v for k, v in fields().items() if k != "user"}),
        "user not JSON": sign_init_data(TOKEN, fields(user="1001")),
        "user id a bool": sign_init_data(TOKEN, fields(user='{"id":true}')),
        "no hash": urlencode(fields()),
        "twice": sign_init_data(TOKEN, fields()) + "&auth_date=" + str(NOW),
        "empty": "",
        "not a query": "%%%",
        "non-ascii": sign_init_data(TOKEN, fields()) + "é",
        "huge": "a=" + "x" * 5000,
    }
    for name, raw in cases.items():
        with pytest.raises(InitDataError):
            validate(raw, key, 3600, now=NOW)
            pytest.fail(name)
    assert validate(sign_init_data(TOKEN, fields(auth_date=str(NOW - 3599))), key, 3600, now=NOW).id == 1001


def test_webapp_settings():
    s = load_settings(environ={}, env_file=None)
    assert (s.webapp_url, s.webapp_port, s.webapp_host, s.webapp_auth_max_age) == ("", 8080, "0.0.0.0", 3600)
    s = load_settings(environ={"WEBAPP_URL": "https://bot.example.com/", "PORT": "5000"}, env_file=None)
    assert (s.webapp_url, s.webapp_port) == ("https://bot.example.com", 5000)
    s = load_settings(environ={"WEBAPP_URL": "http://127.0.0.1:8080", "PORT": "5000", "WEBAPP_PORT": "7000",
                               "WEBAPP_AUTH_MAX_AGE": "600"}, env_file=None)
    assert (s.webapp_port, s.webapp_auth_max_age) == (7000, 600)
    for env, line in (
        ({"WEBAPP_URL": "http://bot.example.com"}, "WEBAPP_URL: http://bot.example.com is http; Telegram opens Mini Apps only over https"),
        ({"WEBAPP_URL": "ftp://x"}, "WEBAPP_URL: 'ftp://x' must start with https:// or http://"),
        ({"WEBAPP_URL": "https://x.example/?a=1"}, "WEBAPP_URL"),
        ({"WEBAPP_PORT": "http"}, "WEBAPP_PORT: 'http' is not a TCP port (0 to 65535)"),
        ({"PORT": "70000"}, "PORT: '70000' is not a TCP port (0 to 65535)"),
        ({"WEBAPP_AUTH_MAX_AGE": "1"}, "WEBAPP_AUTH_MAX_AGE: must be at least 10"),
    ):
        with pytest.raises(ConfigError) as e:
            load_settings(environ=env, env_file=None)
        assert str(e.value).startswith(line), e.value
