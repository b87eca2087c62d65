"""The plumbing every Zhongshu service shares: gRPC server and clients, identity, errors,
database and unit of work, outbox and event consumers, metrics, tracing, migrations.

Services import from here; nothing here imports a service.
"""
