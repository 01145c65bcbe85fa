"""Entities, ids, errors and event names: the vocabulary of Maestro, with no I/O."""
