"""keras-nash: neural architecture search for Keras (NASH, ENAS, EG-NAS, DARTS)."""

import setuptools

# TensorFlow ships as two distributions that must never both be installed:
# `tensorflow` (with GPU kernels; CUDA libraries only through its `and-cuda` extra) and
# `tensorflow-cpu` (x86-64 Linux/Windows only, no GPU code). keras-nash depends on neither
# directly, so it never drags the wrong one next to a user's own install; the extras choose:
#   pip install "keras-nash[cpu]"   CPU only, no CUDA wheel is downloaded
#   pip install "keras-nash[gpu]"   NVIDIA GPU (tensorflow with its CUDA wheels)
#   pip install keras-nash          keep the TensorFlow you already have
_X86 = "(platform_machine == 'x86_64' or platform_machine == 'AMD64')"
_NOT_X86 = "platform_machine != 'x86_64' and platform_machine != 'AMD64'"
_TF = "tensorflow>=2.16"
_MATPLOTLIB = "matplotlib>=3.7"

setuptools.setup(
    name="keras-nash",
    version="0.1.0",
    description="Neural architecture search for Keras: NASH, ENAS, EG-NAS and DARTS as keras-tuner tuners.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=setuptools.find_packages(include=["keras_nash", "keras_nash.*"]),
    package_data={"keras_nash": ["data/*.npz", "data/ptb_default/*.txt"]},
    python_requires=">=3.10",
    install_requires=[
        "keras>=3.5",
        # keras_nash reaches into keras-tuner 1.4's private modules (keras_tuner.src.engine).
        "keras-tuner>=1.4.7,<1.5",
        # keras-tuner imports tensorboard on every trial with the TF backend; TF 2.21 no
        # longer installs it.
        "tensorboard>=2.16",
        "tensorflow-datasets>=4.9",
        # tensorflow-datasets needs it on its download path (ModuleNotFoundError otherwise).
        "importlib_resources",
        "numpy>=1.26",
        "absl-py>=2.0",
    ],
    extras_require={
        "cpu": [
            f"tensorflow-cpu>=2.16; {_X86}",
            f"{_TF}; {_NOT_X86}",
        ],
        "gpu": ["tensorflow[and-cuda]>=2.16"],
        # The search plot (search.png) of the command line and the benches; without it the
        # command line writes no plot and says how to install it.
        "plot": [_MATPLOTLIB],
        # The tests check the plots too; pytest-xdist runs them on both cores (README's command);
        # ruff (formatter and linter, ruff.toml) is pinned: its formatting changes across releases.
        "test": ["pytest>=7", "pytest-xdist>=3.8", _MATPLOTLIB, "ruff==0.17.6"],
    },
    entry_points={"console_scripts": ["keras-nash=keras_nash.__main__:run"]},
)
