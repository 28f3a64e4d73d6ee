"""Tiny data writers and helpers shared by the dataset tests."""
import logging
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import pytest
from mmengine.logging import MMLogger

def frame_image(index: int, size: tuple[int, int] = (40, 32)) -> np.ndarray:
    """A (H, W, 3) uint8 BGR test frame whose grey level encodes its index (8 * index)."""
    w, h = size
    img = np.full((h, w, 3), (8 * index) % 256, np.uint8)
    img[: h // 2, : w // 2] = (255, 40, 0)  # a coloured corner, for the colour classes
    return img


@pytest.fixture
def write_frames() -> Callable[[Path, list[str]], list[Path]]:
    """Write tiny image files named ``names`` (frame i gets frame_image(i)) into a folder."""

    def write(folder: Path, names: list[str]) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for i, name in enumerate(names):
            path = folder / name
            assert cv2.imwrite(str(path), frame_image(i))
            paths.append(path)
        return paths

    return write


@pytest.fixture
def write_video() -> Callable[..., Path]:
    """Write a tiny mp4 (OpenCV 'mp4v') whose frame i has grey level 8 * i."""

    def write(path: Path, num_frames: int, fps: float = 30.0,
              size: tuple[int, int] = (64, 48)) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), fps, size)
        assert writer.isOpened()
        for i in range(num_frames):
            writer.write(frame_image(i, size))
        writer.release()
        return path

    return write


@pytest.fixture
def log_records():
    """Records logged through the current MMLogger during the test."""
    logger = MMLogger.get_current_instance()
    records: list[logging.LogRecord] = []
    handler = logging.Handler(level=logging.DEBUG)
    handler.emit = records.append
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)
