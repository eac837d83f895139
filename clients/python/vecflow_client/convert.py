"""Plain Python values to request fields: enum numbers from names, Structs from mappings, ranking options."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from google.protobuf import struct_pb2

from vecflow_client.v1 import common_pb2

if TYPE_CHECKING:
    from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

EnumT = TypeVar("EnumT", bound=int)


def enum_value(enum: type[EnumT], prefix: str, value: int | str | None) -> EnumT:
    """An enum number from a number, a full name ("JOB_STATUS_RUNNING") or a short one ("running")."""
    # The stubs type each enum as its own int subclass; at run time its values are plain ints.
    if value is None or value == "":
        return cast(EnumT, 0)
    if isinstance(value, int):
        return cast(EnumT, value)
    name = value.upper().replace("-", "_")
    return cast(EnumT, int(cast("EnumTypeWrapper", enum).Value(name if name.startswith(prefix) else prefix + name)))


def to_struct(value: Mapping[str, Any] | struct_pb2.Struct) -> struct_pb2.Struct:
    if isinstance(value, struct_pb2.Struct):
        return value
    out = struct_pb2.Struct()
    out.update(dict(value))
    return out


def ranking(mode: int | str | None, score_threshold: float) -> common_pb2.RankingOptions:
    return common_pb2.RankingOptions(
        mode=enum_value(common_pb2.RankingMode, "RANKING_MODE_", mode), score_threshold=score_threshold
    )
