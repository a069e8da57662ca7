"""Factories: pools of workers fed with keyed jobs (ractor's ``factory`` module).

A factory is an actor that routes :class:`Job` s (a key and a message) to workers, holds the
jobs waiting for them, and knows which jobs each worker has, so that none is lost when a
worker dies: :func:`spawn_factory` starts one with its own workers (a :class:`Worker`
subclass), :func:`spawn_group_factory` one whose workers are a process group spanning nodes
(started with :func:`serve_workers`).

Routing modes: :class:`KeyPersistent`, :class:`Queuer`, :class:`StickyQueuer`,
:class:`RoundRobin`, :class:`CustomHashing`. Waiting jobs can have priorities and a bound
(:class:`DiscardSettings`); jobs that cannot be done go to a discard handler with a
:class:`DiscardReason`. A :class:`DeadMansSwitch` finds stuck workers, a
:class:`CapacityController` sizes the pool, :class:`LifecycleHooks` observe the factory, and
``await factory.stats()`` reports :class:`FactoryStats`. :func:`factory_child` makes a factory
a supervisor's child.
"""

from __future__ import annotations

from ._factory import (
    Factory,
    FactoryChild,
    FactoryStats,
    factory_child,
    spawn_factory,
    spawn_group_factory,
)
from ._job import (
    CapacityController,
    CustomHashing,
    DeadMansSwitch,
    DiscardController,
    DiscardMode,
    DiscardReason,
    DiscardSettings,
    Job,
    KeyPersistent,
    LifecycleHooks,
    Queuer,
    RoundRobin,
    Routing,
    StickyQueuer,
)
from ._worker import Worker, WorkerContext, serve_workers

__all__ = [
    "CapacityController",
    "CustomHashing",
    "DeadMansSwitch",
    "DiscardController",
    "DiscardMode",
    "DiscardReason",
    "DiscardSettings",
    "Factory",
    "FactoryChild",
    "FactoryStats",
    "Job",
    "KeyPersistent",
    "LifecycleHooks",
    "Queuer",
    "RoundRobin",
    "Routing",
    "StickyQueuer",
    "Worker",
    "WorkerContext",
    "factory_child",
    "serve_workers",
    "spawn_factory",
    "spawn_group_factory",
]
