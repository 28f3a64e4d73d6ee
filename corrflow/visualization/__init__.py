"""Plain functions to look at masks, keypoints, embeddings and attention; nothing registered.

- :mod:`.overlay`: id maps and heat maps over frames, side-by-side panels;
- :mod:`.features`: PCA colouring of embeddings, restricted-attention maps;
- :mod:`.keypoints`: keypoints with their trails;
- :mod:`.io`: mp4 / gif / png writers, reading a video or a folder of frames.
"""
from .features import (AttentionMap, attention_map, attention_maps, chained_attention_maps,
                       pca_colour_features, pixel_to_cell)
from .io import list_frame_files, read_frames, write_gif, write_images, write_video
from .keypoints import draw_keypoint_trails, draw_keypoints, joint_colours
from .overlay import (add_caption, colorize_mask, heatmap_to_rgb, hstack_images, overlay_heatmap,
                      overlay_masks)

__all__ = ['AttentionMap', 'attention_map', 'attention_maps', 'chained_attention_maps',
           'pca_colour_features', 'pixel_to_cell', 'list_frame_files', 'read_frames', 'write_gif',
           'write_images', 'write_video', 'draw_keypoint_trails', 'draw_keypoints',
           'joint_colours', 'add_caption', 'colorize_mask', 'heatmap_to_rgb', 'hstack_images',
           'overlay_heatmap', 'overlay_masks']
