"""Decoding what sockets send: JSON with a bounded depth, and a socket that sends what cannot
be decoded is closed (as the reference Socket.IO server does) rather than logged at length."""

from __future__ import annotations

import json
import logging
from typing import Any

import pydantic_core
import socketio

log = logging.getLogger("delivery.realtime")


class UndecodableMessage(ValueError):
    """A client message that is not the protocol's JSON (malformed, or nested too deeply)."""


class BoundedJson:
    """The `json` module python-socketio decodes packets with, parsing by pydantic's parser:
    it stops at 200 levels of nesting and 4300-digit numbers instead of recursing in Python."""

    @staticmethod
    def dumps(obj: Any, **kwargs: Any) -> str:
        """Encode as the standard library does."""
        return json.dumps(obj, **kwargs)

    @staticmethod
    def loads(data: str | bytes, **_: Any) -> Any:
        """Decode, raising `UndecodableMessage` for anything but bounded JSON."""
        try:
            return pydantic_core.from_json(data, allow_inf_nan=False)
        except ValueError as error:
            raise UndecodableMessage(str(error)) from None


class BoundedPacket(socketio.packet.Packet):
    """Socket.IO's text packet, decoded with `BoundedJson`."""

    json = BoundedJson


class BoundedServer(socketio.AsyncServer):
    """python-socketio's server, with packets decoded by `BoundedPacket`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(serializer=BoundedPacket, **kwargs)

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        try:
            await super()._handle_eio_message(eio_sid, data)
        except UndecodableMessage as error:
            log.warning("closing socket %s: could not decode its message (%s)", eio_sid, error)
            await self.eio.disconnect(eio_sid)
