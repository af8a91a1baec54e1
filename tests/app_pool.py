"""Reusing test apps: an app is built once per test module and settings, each test gets a fresh database.

Building an app for every test (routes, templates, tables, demo data, cold caches)
was most of the unit tests' time. A test that asks for the `app` fixture now gets a
pooled app whose SQLite file holds exactly what create_app left in it, copied in
with SQLite's backup API, and whose own extension objects are as create_app made them.

An app is handed out again only if a test cannot tell it from a new one (but for the
time its demo rows were written, when the module first needed it):
- its settings are the test's settings (a class or module overriding them gets its own);
- it is the newest app of the process: create_app also sets process-wide things (a
  logger's level, a library's registries), and an app built since may have changed them;
- the test's database file is still empty (no other app of this test wrote to it);
- the test before left its config and routes as they were (else it is thrown away).
"""

import copy
import os
import sqlite3
import tempfile
import weakref
from contextlib import closing
from contextlib import contextmanager

import pytest
from flask import appcontext_pushed

# A RAM-backed folder, if the system has one (Linux does): the tests need no durability.
RAM_DISK = "/dev/shm" if os.path.isdir("/dev/shm") else None


@contextmanager
def sqlite_file(name):
    """A SQLiteFile in a new temporary folder, in memory where the system allows."""
    with tempfile.TemporaryDirectory(dir=RAM_DISK) as folder:
        yield SQLiteFile(os.path.join(folder, name))


class SQLiteFile:
    """The one SQLite file the apps of a test use: emptied before every test, refilled from snapshots."""

    def __init__(self, path):
        self.path = path
        self.url = f"sqlite:///{path}"

    def copy_from(self, source):
        """Make the file hold exactly what the `source` connection's database holds."""
        with closing(sqlite3.connect(self.path)) as target:
            source.backup(target)

    def empty(self):
        """No tables, no rows: as a new file (connections other apps still hold see it too)."""
        with closing(sqlite3.connect(":memory:")) as nothing:
            self.copy_from(nothing)

    def is_empty(self):
        """Whether no app has created anything in the file since it was emptied."""
        with closing(sqlite3.connect(self.path)) as connection:
            return connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0

    def snapshot(self):
        """An in-memory copy of the file as it is now."""
        copy_ = sqlite3.connect(":memory:")
        with closing(sqlite3.connect(self.path)) as connection:
            connection.backup(copy_)
        return copy_


class PooledApp:
    """An app, the settings it was built from, and what it was like when create_app returned."""

    def __init__(self, app, settings, database):
        self.app = app
        self.settings = dict(settings)
        self.database = database.snapshot()
        self.extensions = dict(app.extensions)
        # The service's own extension objects (its caches), attribute by attribute; a
        # dict they fill in place is put back as a copy of what it held at the start.
        self.attributes = {name: copied(vars(value)) for name, value in app.extensions.items()
                           if type(value).__module__.partition(".")[0] == app.import_name}
        self.fingerprint = fingerprint(app)

    def reset(self):
        """Put back the extensions as create_app left them: no cache a test filled survives."""
        self.app.extensions.clear()
        self.app.extensions.update(self.extensions)
        for name, attributes in self.attributes.items():
            value = vars(self.app.extensions[name])
            value.clear()
            value.update(copied(attributes))

    def close(self):
        """Close the snapshot and the app's database connections."""
        self.database.close()
        dispose_engines(self.app)


def copied(attributes):
    """The attributes, each dict among them copied: a cache fills its dict in place."""
    return {name: copy.copy(value) if isinstance(value, dict) else value for name, value in attributes.items()}


def fingerprint(app):
    """What a test could change on an app for good: its config and its routes."""
    return repr(dict(app.config)), [rule.rule for rule in app.url_map.iter_rules()]


def dispose_engines(app):
    """Close the connections the app's engine holds."""
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()


def database_path(app):
    """The SQLite file the app's engine opens."""
    with app.app_context():
        return app.extensions["sqlalchemy"].engine.url.database


class AppPool:
    """The apps of one test module, one per distinct settings."""

    def __init__(self, create_app, database):
        self.create_app = create_app
        self.database = database
        self.pooled = []
        self.seen = weakref.WeakSet()
        self.newest = None
        appcontext_pushed.connect(self.saw)

    def saw(self, app, **kwargs):
        """Note the newest app: create_app pushes an app context, so a new app shows up here first."""
        if app not in self.seen:
            self.seen.add(app)
            self.newest = weakref.ref(app)

    def get(self, settings):
        """An app for these settings on the empty database file: a pooled one if it may be, else a new one."""
        if not self.database.is_empty():
            return self.create_app(settings)  # another app of this test is already here: build as before
        for entry in self.pooled:
            if entry.settings == settings:
                if self.newest is not None and self.newest() is entry.app:
                    self.database.copy_from(entry.database)
                    return entry.app
                self.drop(entry)  # an app built since may have changed what this one set up
                break
        app = self.create_app(settings)
        if database_path(app) == self.database.path:  # settings may name another file
            self.pooled.append(PooledApp(app, settings, self.database))
        return app

    def release(self, app):
        """After a test: forget the caches it filled; throw the app away if the test changed it."""
        for entry in self.pooled:
            if entry.app is app:
                entry.reset()
                if fingerprint(app) != entry.fingerprint:
                    self.drop(entry)
                return

    def drop(self, entry):
        """Forget a pooled app."""
        self.pooled.remove(entry)
        entry.close()

    def close(self):
        """At the end of the module."""
        appcontext_pushed.disconnect(self.saw)
        for entry in list(self.pooled):
            self.drop(entry)


def pool_fixture(create_app):
    """The module-scoped `app_pool` fixture of one service's tests (its conftest: app_pool = pool_fixture(create_app))."""

    @pytest.fixture(scope="module")
    def app_pool(database_file):
        """The apps this module's tests share."""
        pool = AppPool(create_app, database_file)
        yield pool
        pool.close()

    return app_pool
