from .davis_metric import DAVISMetric
from .jhmdb_metric import JHMDBMetric
from .vip_metric import VIPMetric
from .ytvos_metric import YouTubeVOSMetric

__all__ = ['DAVISMetric', 'JHMDBMetric', 'VIPMetric', 'YouTubeVOSMetric']
