"""Turning the tool's JSON reports into the package's dataclasses.

Fields match JSON keys by name without case or underscores (``rows_added`` <- ``rowsAdded``,
``source_dtype`` <- ``sourceDType``). Keys the dataclass does not know are ignored and fields the JSON
lacks get their default, so a newer or older binary still decodes.
"""
import dataclasses
import typing
from typing import Any, Dict, Type, TypeVar

T = TypeVar("T")


def _key(name: str) -> str:
    return name.replace("_", "").lower()


def decode(cls: Type[T], value: Any) -> T:
    """``value`` (parsed JSON) as an instance of ``cls`` (a dataclass, a list or dict of them, or a
    plain type)."""
    return _decode(cls, value)


def _decode(cls: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(cls)
    if origin is typing.Union:
        kinds = [arg for arg in typing.get_args(cls) if arg is not type(None)]
        return _decode(kinds[0], value) if len(kinds) == 1 else value
    if origin in (list, typing.List):
        (item,) = typing.get_args(cls) or (Any,)
        return [_decode(item, v) for v in value]
    if origin in (dict, typing.Dict):
        args = typing.get_args(cls)
        item = args[1] if len(args) == 2 else Any
        return {k: _decode(item, v) for k, v in value.items()}
    if dataclasses.is_dataclass(cls) and isinstance(value, dict):
        hints = _hints(cls)
        by_key: Dict[str, Any] = {_key(k): v for k, v in value.items()}
        kwargs = {}
        for field in dataclasses.fields(cls):
            if not field.init:
                continue
            key = _key(field.name)
            if key in by_key:
                kwargs[field.name] = _decode(hints[field.name], by_key[key])
            elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:  # type: ignore[misc]
                kwargs[field.name] = None
        return cls(**kwargs)
    return value


_hint_cache: Dict[type, Dict[str, Any]] = {}


def _hints(cls: type) -> Dict[str, Any]:
    if cls not in _hint_cache:
        _hint_cache[cls] = typing.get_type_hints(cls)
    return _hint_cache[cls]
