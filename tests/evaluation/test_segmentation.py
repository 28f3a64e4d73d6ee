"""VIP mIoU: per-class intersection / union with ignore index, NaN for absent classes."""
import numpy as np
import pytest

from corrflow.evaluation.functional import (VIP_CLASSES, intersect_and_union, mean_iou,
                                            per_class_iou)


def test_vip_classes():
    assert len(VIP_CLASSES) == 20
    assert VIP_CLASSES[0] == 'background' and VIP_CLASSES[3] == 'sun-glasses'
    assert VIP_CLASSES[12] == 'torso-skin' and VIP_CLASSES[-1] == 'left-shoe'


def test_intersect_and_union_hand_computed():
    gt = np.array([[0, 0, 1, 1],
                   [2, 2, 255, 255]], np.uint8)
    pred = np.array([[0, 1, 1, 1],
                     [2, 0, 2, 3]], np.uint8)  # last two pixels ignored (GT 255)
    inter, union = intersect_and_union(pred, gt, num_classes=4)
    # class 0: pred {(0,0), (1,1)}, gt {(0,0), (0,1)} -> I 1, U 3
    # class 1: pred {(0,1), (0,2), (0,3)}, gt {(0,2), (0,3)} -> I 2, U 3
    # class 2: pred {(1,0)}, gt {(1,0), (1,1)} -> I 1, U 2; class 3: only on ignored pixels
    np.testing.assert_array_equal(inter, [1, 2, 1, 0])
    np.testing.assert_array_equal(union, [3, 3, 2, 0])
    iou = per_class_iou(inter, union)
    np.testing.assert_allclose(iou[:3], [1 / 3, 2 / 3, 1 / 2])
    assert np.isnan(iou[3])
    assert mean_iou(inter, union) == pytest.approx((1 / 3 + 2 / 3 + 1 / 2) / 3)


def test_accumulation_over_frames_and_absent_class():
    gt1 = np.array([[0, 1]], np.uint8)
    gt2 = np.array([[0, 0]], np.uint8)
    pred1 = np.array([[0, 1]], np.uint8)
    pred2 = np.array([[1, 0]], np.uint8)
    total_i = np.zeros(20, np.int64)
    total_u = np.zeros(20, np.int64)
    for pred, gt in ((pred1, gt1), (pred2, gt2)):
        i, u = intersect_and_union(pred, gt)
        total_i += i
        total_u += u
    # class 0: I 2, U 3; class 1: I 1, U 2; the 18 other classes never appear (NaN, skipped)
    assert mean_iou(total_i, total_u) == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert np.isnan(mean_iou(np.zeros(3), np.zeros(3)))


def test_out_of_range_ids_raise():
    with pytest.raises(ValueError, match='prediction'):
        intersect_and_union(np.array([[20]]), np.array([[0]]))
    with pytest.raises(ValueError, match='GT'):
        intersect_and_union(np.array([[0]]), np.array([[21]]))
    with pytest.raises(ValueError):
        intersect_and_union(np.zeros((2, 2)), np.zeros((2, 3)))
    # a wrong prediction on an ignored pixel is not an error
    inter, union = intersect_and_union(np.array([[250]]), np.array([[255]]))
    assert inter.sum() == union.sum() == 0
