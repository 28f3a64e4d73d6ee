"""Pure numpy metric functions (no I/O): DAVIS J&F, JHMDB PCK, VIP mIoU."""
from .davis import (DEFAULT_BOUND_TH, boundary_radius, db_iou, db_statistics, disk_kernel,
                    evaluate_frame, evaluate_sequence, f_measure, num_objects, seg_to_boundary)
from .keypoints import (DEFAULT_ALPHAS, accumulate_pck, keypoint_decoding, pck, pck_hits,
                        pck_protocol)
from .segmentation import VIP_CLASSES, intersect_and_union, mean_iou, per_class_iou

__all__ = [
    'DEFAULT_ALPHAS', 'DEFAULT_BOUND_TH', 'VIP_CLASSES', 'accumulate_pck', 'boundary_radius',
    'db_iou', 'db_statistics', 'disk_kernel', 'evaluate_frame', 'evaluate_sequence',
    'f_measure', 'intersect_and_union', 'keypoint_decoding', 'mean_iou', 'num_objects', 'pck',
    'pck_hits', 'pck_protocol', 'per_class_iou', 'seg_to_boundary',
]
