from .davis_metric import DAVISMetric
from .jhmdb_metric import JHMDBMetric
from .vip_metric import VIPMetric

__all__ = ['DAVISMetric', 'JHMDBMetric', 'VIPMetric']
