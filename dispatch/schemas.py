"""Request shapes of dispatch."""

from __future__ import annotations

from pydantic import Field, StrictBool, model_validator

from app.validation import Schema


class ShiftRequest(Schema):
    online: StrictBool
    lat: float | None = Field(default=None, ge=-90, le=90)
    lng: float | None = Field(default=None, ge=-180, le=180)

    @model_validator(mode="after")
    def _position_when_online(self) -> ShiftRequest:
        if (self.lat is None) != (self.lng is None):
            raise ValueError("send both lat and lng, or neither")
        if self.online and self.lat is None:
            raise ValueError("lat and lng are required to go on shift")
        return self


class LocationRequest(Schema):
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)
