"""The SQL read model: models, sessions, migrations and the directory."""
