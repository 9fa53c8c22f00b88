"""Observable instruments shared by every live owner on one meter provider.

The SDK keeps the first registration of an instrument name and silently reuses it, with
its callbacks, for later ones; so a second worker (or test) registering
``brokerjobs.job.in_flight`` with its own callback would never be observed. Instead one
instrument per (provider, name) is registered, whose callback asks every live owner.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable
from typing import Any, Literal

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation

Kind = Literal["gauge", "up_down_counter"]
Observe = Callable[[Any], Iterable[Observation]]
"""Called with the owner (held weakly: the function must not reference it)."""

_lock = threading.Lock()
_owners: dict[tuple[int, str], weakref.WeakKeyDictionary[Any, Observe]] = {}
_providers: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
_global: set[str] = set()


def observe(
    owner: object,
    observe_fn: Observe,
    name: str,
    kind: Kind,
    *,
    unit: str,
    description: str,
    meter_provider: MeterProvider | None = None,
) -> None:
    """Report ``observe_fn(owner)`` under ``name`` for as long as ``owner`` lives."""
    key = (id(meter_provider) if meter_provider is not None else 0, name)
    with _lock:
        owners = _owners.setdefault(key, weakref.WeakKeyDictionary())
        owners[owner] = observe_fn
        registered = _providers.setdefault(meter_provider, set()) if meter_provider else _global
        if name in registered:
            return
        registered.add(name)
    meter = (
        meter_provider.get_meter("brokerjobs")
        if meter_provider is not None
        else metrics.get_meter("brokerjobs")
    )

    def callback(options: CallbackOptions) -> Iterable[Observation]:
        with _lock:
            live = list(owners.items())
        for each, function in live:
            yield from function(each)

    create = (
        meter.create_observable_gauge
        if kind == "gauge"
        else meter.create_observable_up_down_counter
    )
    create(name, callbacks=[callback], unit=unit, description=description)
