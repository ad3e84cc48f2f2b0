"""Model rows read by SQL written once, for the reads that every request of an exam makes.

Built by the ORM, reading one row by its key costs three times the query itself in CPU
(bench/request_cpu.py): the user on every request, the learner's questions on every autosave.
A `Rows` writes its model's column list once per process and finds its fields' converters once
per thread (each thread has its own database connection); values go through those converters,
the fields' and the backend's, as the ORM's would.
"""

import threading
from functools import cached_property

from django.db import connection


class Rows:
    """Instances of `model` from rows whose columns are `columns()`: its concrete fields, in order."""

    def __init__(self, model):
        self.model = model
        self._local = threading.local()

    @cached_property
    def fields(self):
        return self.model._meta.concrete_fields

    @cached_property
    def names(self):
        return [field.attname for field in self.fields]

    def table(self):
        return connection.ops.quote_name(self.model._meta.db_table)

    def column(self, name):
        return f"{self.table()}.{connection.ops.quote_name(self.model._meta.get_field(name).column)}"

    def columns(self):
        return [f"{self.table()}.{connection.ops.quote_name(field.column)}" for field in self.fields]

    def instance(self, values):
        """The instance a row's values (its `columns()`, in order) make, as the ORM would load it."""
        converters = getattr(self._local, "converters", None)
        if converters is None:
            converters = self._local.converters = [_converters(field, self.model) for field in self.fields]
        values = [value if not convert else _convert(value, *convert) for value, convert in zip(values, converters)]
        return self.model.from_db(connection.alias, self.names, values)


def _converters(field, model):
    column = field.get_col(model._meta.db_table)
    found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
    return (found, column) if found else None


def _convert(value, converters, column):
    for convert in converters:
        value = convert(value, column, connection)
    return value
