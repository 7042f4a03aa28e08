"""The registry of button actions: arguments are signed, unknown names refused, no repeats."""

from __future__ import annotations

import pytest

import bot.status_buttons  # noqa: F401  (registers the status actions)
from bot import buttons
from bot.buttons import (
    BUTTON_ACTIONS,
    BadButton,
    PressResult,
    Signer,
    button,
    button_action,
    split_action,
)

CHAT = -100123


def test_status_actions_are_registered_with_their_admin_flags() -> None:
    assert {n: a.admin for n, a in BUTTON_ACTIONS.items() if n.startswith(("status:", "stream:"))} == {
        "status:refresh": False, "stream:start": True, "stream:stop": True,
    }


def test_an_argument_is_part_of_the_signature() -> None:
    signer = Signer("123:token")

    @button_action("test:arg")
    async def run(p, arg: str) -> PressResult:  # type: ignore[no-untyped-def]
        return PressResult("ok")

    try:
        data = button(signer, CHAT, "Go", "test:arg", "17").callback_data
        press = signer.verify(CHAT, data)
        handler, arg = split_action(press.action)
        assert handler is not None and handler.name == "test:arg" and arg == "17"
        forged = data.replace("test:arg/17", "test:arg/18")
        with pytest.raises(BadButton):
            signer.verify(CHAT, forged)
        with pytest.raises(BadButton):
            signer.verify(CHAT - 1, data)  # another chat
    finally:
        del BUTTON_ACTIONS["test:arg"]


def test_unknown_names_and_repeats_are_refused() -> None:
    assert split_action("nope/1") == (None, "1")
    with pytest.raises(ValueError, match="registered twice"):
        buttons.button_action("status:refresh")(lambda p, a: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError, match="no button action"):
        button(Signer("123:token"), CHAT, "x", "never:registered")
