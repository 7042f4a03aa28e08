import logging

from bot.logsafe import RedactSecrets


def test_secrets_are_redacted_from_every_record(caplog):
    logger = logging.getLogger("test.logsafe")
    caplog.handler.addFilter(RedactSecrets(["123456:SECRET-TOKEN", "binance-secret-xyz"]))
    with caplog.at_level(logging.INFO):
        logger.info("POST https://api.telegram.org/bot%s/getUpdates", "123456:SECRET-TOKEN")
        logger.warning("signature with binance-secret-xyz failed")
    text = caplog.text
    assert "SECRET-TOKEN" not in text and "binance-secret-xyz" not in text
    assert text.count("***") == 2
