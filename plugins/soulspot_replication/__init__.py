"""The `replication` plugin: Litestream ships every database change to a replica, so the
database can be brought back to any second of the retention window."""
