"""Department queues: the database-backed default and the Redis Streams one."""

from storage.queues.base import DepartmentQueue, QueueEntry, QueueStats
from storage.queues.redis import RedisDepartmentQueue
from storage.queues.sql import SqlDepartmentQueue

__all__ = ["DepartmentQueue", "QueueEntry", "QueueStats", "RedisDepartmentQueue", "SqlDepartmentQueue"]
