import logging

from trading.logsafe import RedactSecrets


def test_secrets_are_redacted_from_every_record(caplog):
    logger = logging.getLogger("test.logsafe")
    caplog.handler.addFilter(RedactSecrets(["123456:SECRET-TOKEN", "binance-secret-xyz"]))
    with caplog.at_level(logging.INFO):
        logger.info("POST https://api.telegram.org/bot%s/getUpdates", "123456:SECRET-TOKEN")
        logger.warning("signature with binance-secret-xyz failed")
    text = caplog.text
    assert "SECRET-TOKEN" not in text and "binance-secret-xyz" not in text
    assert text.count("***") == 2


def test_tracebacks_and_printed_lines_are_redacted_too():
    import io

    from trading.logsafe import redact, setup_logging

    token = "123456:SECRET-TOKEN"
    buf = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = setup_logging("INFO", [token], stream=buf)
    try:
        try:
            raise RuntimeError(f"error page for POST /bot{token}/sendMessage")
        except RuntimeError:
            logging.getLogger("test.logsafe").exception("send failed")
        logging.getLogger("test.logsafe").warning("url %s", "/bot123456%3ASECRET-TOKEN/getMe")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    text = buf.getvalue()
    assert "Traceback" in text and "SECRET-TOKEN" not in text
    assert redact(f"cannot reach https://x/bot{token}/getMe", [token]) == "cannot reach https://x/bot***/getMe"


def test_the_masking_rule_covers_prefixes_suffixes_encodings_and_the_token_hash():
    from trading.logsafe import Masker, mask_bounded, register

    key = "vmPUZq7Rk2XbN4cW8sLdT1yHfJ6gA0eMzUoViQ3pBnC5tYxEwKrS9aDlGjh8FmOh"
    secret = "s3cr/t+with=odd&chars:0123456789"
    token = "7654321:AAE-hash_part_of_the_token_xyz"
    m = Masker([key, secret, token])
    assert m.mask(f"X-MBX-APIKEY={key[:25]}") == "X-MBX-APIKEY=***", "a prefix left by a cut"
    assert m.mask(f"…{key[-12:]} end") == "…*** end", "a suffix"
    assert m.mask(f"key {key[:7]} is short") == f"key {key[:7]} is short", "7 characters are not a secret"
    assert "***" in m.mask("sig=s3cr%2Ft%2Bwith%3Dodd%26chars%3A0123456789") and "0123456789" not in m.mask(
        "sig=s3cr%2Ft%2Bwith%3Dodd%26chars%3A0123456789"
    )
    assert m.mask(f"/bot{token}/getMe") == "/bot***/getMe"
    assert m.mask("bot 7654321: hash AAE-hash_part_of") == "bot 7654321: hash ***", "the bot id is public"
    register([key])
    cut = mask_bounded("x" * 150 + key, 160)
    assert len(cut) <= 160 and key[:8] not in cut and "vmPUZq7R"[:8] not in cut
