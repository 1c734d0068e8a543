"""Project settings. lifegate needs nothing here: its hooks register themselves through the
``kedro.hooks`` entry point and read ``conf/<env>/lifegate.yml``."""
