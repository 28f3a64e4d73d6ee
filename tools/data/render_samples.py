"""Render the sample data that ships in ``demo/``: ``python tools/data/render_samples.py``.

Everything is drawn by corrflow's own procedural renderer
(:func:`corrflow.datasets.synthetic.render_synthetic_video`), so the samples
carry the project's licence and need no download:

- ``demo/sample_clip.mp4`` and ``demo/sample_clip_mask.png``: a clip and the
  masks of its objects in frame 0 (indexed PNG), for ``tools/propagate.py``;
- ``demo/davis_sample/``: two sequences in the DAVIS-2017 layout (frames,
  every frame's annotation, ``ImageSets/2017/val.txt``), for ``tools/test.py
  ... davis``;
- ``demo/jhmdb_sample/``: one video in the JHMDB release layout, with 15
  "joints": points fixed on the objects, followed exactly by the renderer.

The same command writes the same files (the renderer is deterministic); ``--out``
writes them elsewhere.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
from scipy.io import savemat

from corrflow.datasets.synthetic import SyntheticScene, render_synthetic_video
from corrflow.evaluation.png_io import write_indexed_png

CLIP = dict(seed=7, frames=32, size=(256, 192))
DAVIS = dict(seeds={'synthetic-a': 11, 'synthetic-b': 23}, frames=8, size=(256, 192))
JHMDB = dict(seed=31, frames=10, size=(256, 192), video='synthetic/objects_1')
JPEG_QUALITY = 75
NUM_JOINTS = 15


def write_clip(out: Path) -> list[Path]:
    frames, masks = render_synthetic_video(CLIP['seed'], CLIP['frames'], CLIP['size'])
    clip, mask = out / 'sample_clip.mp4', out / 'sample_clip_mask.png'
    height, width = frames.shape[1:3]
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*'mp4v'), 10, (width, height))
    if not writer.isOpened():
        raise RuntimeError('OpenCV cannot write mp4 (mp4v) files on this machine')
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    write_indexed_png(str(mask), masks[0])
    return [clip, mask]


def write_davis(out: Path) -> list[Path]:
    root = out / 'davis_sample'
    written = []
    for name, seed in DAVIS['seeds'].items():
        frames, masks = render_synthetic_video(seed, DAVIS['frames'], DAVIS['size'])
        for t, (frame, mask) in enumerate(zip(frames, masks)):
            jpg = root / 'JPEGImages' / '480p' / name / f'{t:05d}.jpg'
            png = root / 'Annotations' / '480p' / name / f'{t:05d}.png'
            jpg.parent.mkdir(parents=True, exist_ok=True)
            png.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(jpg), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR),
                        [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            write_indexed_png(str(png), mask)
            written += [jpg, png]
    listing = root / 'ImageSets' / '2017' / 'val.txt'
    listing.parent.mkdir(parents=True, exist_ok=True)
    listing.write_text(''.join(f'{name}\n' for name in DAVIS['seeds']))
    return [*written, listing]


def joint_tracks(scene: SyntheticScene, num_frames: int) -> np.ndarray:
    """(T, 15, 2) screen (x, y) of 15 points fixed on the objects, front object first."""
    order = list(range(scene.num_objects))[::-1]
    tracks = np.zeros((num_frames, NUM_JOINTS, 2))
    for j in range(NUM_JOINTS):
        index = order[j % len(order)]
        radius = np.abs(scene.objects[index].outline).max()
        ring = j // len(order)
        angle = 2.399963 * j  # golden angle: points spread around each object
        local = 0.45 * radius * min(1.0, 0.35 + 0.3 * ring) * np.array(
            [np.cos(angle), np.sin(angle)])
        for t in range(num_frames):
            centre, theta, scale = scene.object_pose(index, t)
            c, s = np.cos(theta), np.sin(theta)
            tracks[t, j] = centre + scale * np.array([[c, -s], [s, c]]) @ local
    return tracks


def write_jhmdb(out: Path) -> list[Path]:
    root = out / 'jhmdb_sample'
    scene = SyntheticScene(JHMDB['seed'], JHMDB['size'])
    written = []
    for t in range(JHMDB['frames']):
        frame, _ = scene.render(t)
        path = root / 'Rename_Images' / JHMDB['video'] / f'{t + 1:05d}.jpg'
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        written.append(path)
    tracks = joint_tracks(scene, JHMDB['frames'])
    mat = root / 'joint_positions' / JHMDB['video'] / 'joint_positions.mat'
    mat.parent.mkdir(parents=True, exist_ok=True)
    # the release's convention: pos_img is 2 x 15 x T, 1-based pixels
    savemat(str(mat), {'pos_img': tracks.transpose(2, 1, 0) + 1.0})
    return [*written, mat]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description='Render the sample data of demo/')
    parser.add_argument('--out', default=str(Path(__file__).resolve().parents[2] / 'demo'),
                        help='output folder (default: demo/ of the repository)')
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    files = write_clip(out) + write_davis(out) + write_jhmdb(out)
    size = sum(p.stat().st_size for p in files)
    print(f'wrote {len(files)} files, {size / 1e6:.2f} MB, under {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
