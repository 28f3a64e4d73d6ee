"""A YouTube-VOS-layout fixture built from the DAVIS subset, with an object that starts late.

Video ``cut``: 10 frames of ``car-shadow`` (object 2, from frame 0), then 40
frames of ``blackswan`` (object 5, first annotated at frame 10). Video
``dog``: 30 frames of ``dog`` (object 3, from frame 0). Ids are not
contiguous. Frames are the DAVIS frames at a quarter of their size (213x120)
and are taken as the 30 fps release: ``all_frames/JPEGImages`` holds every
frame, ``valid/JPEGImages`` every 5th (the listed frames), so object 5 starts
at listed frame 2. ``valid/Annotations`` holds each object's mask at its first
frame only (as the val split); ``train/`` is the same split with the GT of
every listed frame (for local scoring).
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from corrflow.evaluation.png_io import write_indexed_png

SCALE = 4
#: video -> [(DAVIS sequence, first DAVIS frame, frames, object id, category)]
VIDEOS = {
    'cut': [('car-shadow', 0, 10, 2, 'car'), ('blackswan', 0, 40, 5, 'swan')],
    'dog': [('dog', 0, 30, 3, 'dog')],
}
LISTED_EVERY = 5


def _read(path: Path, mask: bool) -> np.ndarray:
    if mask:
        from PIL import Image
        with Image.open(path) as img:
            ids = np.asarray(img)
        h, w = ids.shape
        return cv2.resize(ids, (w // SCALE, h // SCALE), interpolation=cv2.INTER_NEAREST)
    img = cv2.imread(str(path))
    h, w = img.shape[:2]
    return cv2.resize(img, (w // SCALE, h // SCALE), interpolation=cv2.INTER_AREA)


def write_ytvos_fixture(root: Path, davis_root: Path) -> dict:
    """Write ``root/{all_frames,valid,train}``; returns facts the tests check against.

    Returns:
        dict: per video ``frames`` (all), ``listed`` (names), ``gt`` ((T_all, H, W)
        GT ids of every frame) and ``starts`` ({id: all-frames index}).
    """
    facts, meta = {}, {'videos': {}}
    for video, parts in VIDEOS.items():
        frames, gt, starts, objects = [], [], {}, {}
        for seq, first, count, obj, category in parts:
            starts[obj] = len(frames)
            for t in range(first, first + count):
                frames.append(_read(davis_root / 'JPEGImages' / '480p' / seq / f'{t:05d}.jpg',
                                    False))
                ids = _read(davis_root / 'Annotations' / '480p' / seq / f'{t:05d}.png', True)
                gt.append(np.where(ids > 0, obj, 0).astype(np.uint8))
            objects[obj] = category
        names = [f'{t:05d}' for t in range(len(frames))]
        listed = names[::LISTED_EVERY]
        for t, (name, frame) in enumerate(zip(names, frames)):
            for split in ('all_frames',) + (('valid', 'train') if name in listed else ()):
                folder = root / split / 'JPEGImages' / video
                folder.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(folder / f'{name}.jpg'), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
            if name in listed:
                write_indexed_png(str(root / 'train' / 'Annotations' / video / f'{name}.png'),
                                  gt[t])
        for obj, t in starts.items():
            write_indexed_png(str(root / 'valid' / 'Annotations' / video / f'{names[t]}.png'),
                              np.where(gt[t] == obj, obj, 0).astype(np.uint8))
        meta['videos'][video] = {'objects': {
            str(obj): {'category': objects[obj],
                       'frames': [n for n, g in zip(names, gt) if n in listed and (g == obj).any()
                                  or names.index(n) == starts[obj]]}
            for obj in starts}}
        facts[video] = dict(frames=names, listed=listed, gt=np.stack(gt), starts=starts)
    for split in ('valid', 'train'):
        (root / split / 'meta.json').write_text(json.dumps(meta, indent=1))
    return facts
