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
