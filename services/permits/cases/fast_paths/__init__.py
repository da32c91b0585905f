"""The intake's fast paths, each behind one seam that may decline (the caller then takes the plain
path) and switched off by a setting of :class:`services.common.settings.PermitsSettings`:

- :mod:`.group_commit` (``PERMITS_GROUP_COMMIT``): concurrent intakes written together;
- :mod:`.one_statement` (``PERMITS_ONE_STATEMENT_WRITES``): a change's rows of several tables in
  one statement.

The hot intake route (``PERMITS_HOT_INTAKE``) is :mod:`services.common.hot`, registered by
:mod:`services.permits.cases.intake_api`. ``tests/permits/test_fast_paths.py`` and
``tests/permits/test_hot_intake.py`` hold each to its plain path through the HTTP API.
"""
