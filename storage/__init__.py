"""Storage: SQLAlchemy models and repositories, migrations, department queues."""
