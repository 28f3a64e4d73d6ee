from .metrics import DAVISMetric, JHMDBMetric, VIPMetric

__all__ = ['DAVISMetric', 'JHMDBMetric', 'VIPMetric']
