"""Installation script for corrflow."""
from pathlib import Path

from setuptools import find_packages, setup


def read_version() -> str:
    namespace: dict = {}
    exec(Path('corrflow/version.py').read_text(), namespace)
    return namespace['__version__']


setup(
    name='corrflow',
    version=read_version(),
    description='Self-supervised video correspondence: training and label propagation',
    long_description=Path('README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.9',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'benchmarks')),
    install_requires=[
        'torch', 'torchvision', 'mmengine>=0.10,<0.11', 'mmcv-lite>=2.0',
        'opencv-python', 'numpy', 'scipy', 'pillow', 'av', 'tensorboard',
    ],
    zip_safe=False,
)
