"""One command-line flag per field of a settings dataclass, and the dataclass back from the flags.

Fields are declared with `contract.settings.setting(default, help, ...)`: the default and the help
live there once. A bool is --x/--no-x; a tuple with `item_type` takes "a,b,c"; a tuple without
one is repeated (--x A --x B); `choices`, `required` and `positional` shape the flag.
"""
import argparse
import dataclasses
from typing import Any, Collection, Optional, Type, TypeVar

T = TypeVar("T")


def add_flags(parser: argparse.ArgumentParser, cls: type,
              only: Optional[Collection[str]] = None, overrides_only: bool = False) -> None:
    """Flags for `cls`'s fields (or those named in `only`). With `overrides_only`, an absent flag
    leaves no value at all, so only the flags given override what comes from elsewhere (a
    preset); otherwise an absent flag means the field's default."""
    for field in dataclasses.fields(cls):
        if only is not None and field.name not in only:
            continue
        meta = field.metadata
        # argparse %-formats help texts: a literal '%' (e.g. "~25 % more") must be doubled.
        shown = "" if (meta.get("required") or meta.get("positional")
                       or field.default is None) else f" [default: {field.default!r}]"
        kwargs: dict = dict(help=(meta.get("help", "") + shown).replace("%", "%%"))
        if overrides_only:
            kwargs["default"] = argparse.SUPPRESS
        elif not _is_repeated(field):
            kwargs["default"] = field.default
        if meta.get("positional"):
            parser.add_argument(field.name, **kwargs)
            continue
        flag = "--" + field.name.replace("_", "-")
        kwargs.update(dest=field.name, required=bool(meta.get("required")))
        if field.type in (bool, "bool"):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, **kwargs)
        elif "item_type" in meta:
            item = meta["item_type"]
            parser.add_argument(flag, metavar="A,B,...", **kwargs,
                                type=lambda text, item=item: tuple(
                                    item(v) for v in text.split(",") if v.strip()))
        elif _is_repeated(field):
            parser.add_argument(flag, action="append", metavar="ARG", **kwargs)
        else:
            parser.add_argument(flag, type=field.type if callable(field.type) else str,
                                choices=meta.get("choices"), **kwargs)


def given(cls: type, args: argparse.Namespace) -> dict:
    """The values of `cls`'s fields among the parsed flags (repeated flags as tuples)."""
    values: dict = {}
    for field in dataclasses.fields(cls):
        if not hasattr(args, field.name):
            continue
        value: Any = getattr(args, field.name)
        if _is_repeated(field):
            value = tuple(value or ())
        values[field.name] = value
    return values


def from_flags(cls: Type[T], args: argparse.Namespace) -> T:
    return cls(**given(cls, args))


def _is_repeated(field: dataclasses.Field) -> bool:
    return "Tuple" in str(field.type) and "item_type" not in field.metadata
