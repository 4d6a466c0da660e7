"""The running environment: quiet TensorFlow import, profiles, device and versions.

Every chapter's setup cell calls :func:`setup`. Nothing here trains anything.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import platform
import sys

from lrbook._validation import one_of

__all__ = [
    "PROFILES",
    "device_name",
    "in_colab",
    "mixed_precision_requested",
    "quiet_import_tensorflow",
    "resolve_profile",
    "setup",
    "versions",
]

#: Environment variable that turns on mixed precision (``mixed_float16``) in :func:`setup`.
MIXED_PRECISION_ENV = "LRBOOK_MIXED_PRECISION"

#: The profiles a chapter knows. ``quick`` is what CI runs (under about a
#: minute a notebook on 2 CPU cores); ``full`` is what the rendered book shows.
PROFILES = ("quick", "full")

#: Environment variable that selects the profile when a notebook runs with its
#: default parameters (nbval, a plain Jupyter session).
PROFILE_ENV = "LRBOOK_PROFILE"


def resolve_profile(profile: str | None = None) -> str:
    """Return the profile to run under.

    An explicit ``profile`` (what papermill injects) wins; ``None`` reads
    ``$LRBOOK_PROFILE`` and falls back to ``"full"``.

    Raises:
        ValueError: if the profile is not one of :data:`PROFILES`.

    Example:
        >>> resolve_profile("quick")
        'quick'
    """
    if profile is None:
        value = os.environ.get(PROFILE_ENV) or "full"
        if value not in PROFILES:
            raise ValueError(
                f"Environment variable `{PROFILE_ENV}` must be one of {PROFILES} "
                f"(or unset: 'full'). Received: {PROFILE_ENV}={value!r}"
            )
        return value
    return one_of("profile", profile, PROFILES)


@contextlib.contextmanager
def _silenced_fd(fd: int):
    """Point file descriptor ``fd`` at /dev/null for the duration of the block.

    TensorFlow's C++ logging writes to fd 2 directly, below Python's
    ``sys.stderr``, so redirecting the Python object is not enough.
    """
    try:
        saved = os.dup(fd)
    except OSError:  # no such descriptor (some embedded interpreters)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os.dup2(devnull, fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


def quiet_import_tensorflow():
    """Import TensorFlow (and Keras) without its C++ start-up log lines.

    Sets ``TF_CPP_MIN_LOG_LEVEL=2`` unless the user chose a level, selects the
    TensorFlow backend for Keras unless one is chosen, and silences file
    descriptor 2 while the import runs. oneDNN stays on.

    Returns:
        The ``tensorflow`` module.

    Example:
        >>> tf = quiet_import_tensorflow()  # instead of `import tensorflow as tf`
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    with _silenced_fd(2):
        tf = importlib.import_module("tensorflow")
        importlib.import_module("keras")
        # The first device query prints the CPU-feature banner; do it here.
        tf.config.list_physical_devices()
    with contextlib.suppress(Exception):
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    tf.get_logger().setLevel("ERROR")
    return tf


def device_name() -> str:
    """A short description of the accelerator TensorFlow sees, or the CPU.

    Example:
        Not run as a doctest (the answer is the machine's):

        >>> device_name()  # doctest: +SKIP
        'CPU (2 cores, x86_64)'
    """
    tf = quiet_import_tensorflow()
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        names = []
        for gpu in gpus:
            details = {}
            with contextlib.suppress(Exception):
                details = tf.config.experimental.get_device_details(gpu)
            names.append(details.get("device_name", gpu.name))
        return f"{len(gpus)} x GPU ({', '.join(sorted(set(names)))})"
    return f"CPU ({os.cpu_count()} cores, {platform.machine()})"


def versions() -> dict:
    """Versions of Python, TensorFlow, Keras, NumPy and lrbook.

    Example:
        >>> sorted(versions())
        ['keras', 'lrbook', 'numpy', 'python', 'tensorflow']
        >>> versions()["keras"] == keras.__version__
        True
    """
    tf = quiet_import_tensorflow()
    import keras
    import numpy

    from lrbook import __version__

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "lrbook": __version__,
    }


def in_colab() -> bool:
    """True inside Google Colab.

    Example:
        >>> in_colab()   # anywhere but Colab
        False
    """
    return "google.colab" in sys.modules


def mixed_precision_requested(value: bool | None = None) -> bool:
    """Whether to train in mixed precision: ``value`` if given, else ``$LRBOOK_MIXED_PRECISION``.

    The variable counts as on for ``1``, ``true``, ``yes`` or ``on``.

    Example:
        >>> mixed_precision_requested(True), mixed_precision_requested(False)
        (True, False)
    """
    if value is not None:
        if not isinstance(value, bool):
            raise ValueError(
                f"Argument `mixed_precision` must be True, False or None. Received: {value!r}"
            )
        return value
    raw = os.environ.get(MIXED_PRECISION_ENV, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ValueError(
        f"Argument `${MIXED_PRECISION_ENV}` must be 1/0, true/false, yes/no or on/off. "
        f"Received: {raw!r}"
    )


def setup(
    profile: str | None = None,
    *,
    seed: int = 0,
    verbose: bool = True,
    mixed_precision: bool | None = None,
) -> dict:
    """The setup every chapter runs: quiet import, seeds, profile, versions, precision.

    Args:
        profile: the notebook's ``profile`` parameter (``None`` reads
            ``$LRBOOK_PROFILE``).
        seed: global seed for Python, NumPy and the backend.
        verbose: print one line with profile, device and versions.
        mixed_precision: train in ``mixed_float16`` (Keras's global dtype
            policy; the book's models keep float32 logits). ``None`` reads
            ``$LRBOOK_MIXED_PRECISION`` (off by default): that is how a GPU
            build turns it on for every chapter without editing them. Worth it
            on GPUs with tensor cores; on a CPU it is slower.

    Returns:
        A dict with ``profile``, ``device``, ``precision`` and the :func:`versions`.

    Example:
        >>> info = setup("quick", mixed_precision=False)  # a chapter's setup cell
        profile=quick | device=... | precision=float32 | python ... keras ...
        >>> info["profile"], info["precision"]
        ('quick', 'float32')
    """
    profile = resolve_profile(profile)
    quiet_import_tensorflow()
    import keras

    from lrbook.training import set_seed

    set_seed(seed)
    policy = (
        "mixed_float16" if mixed_precision_requested(mixed_precision) else "float32"
    )
    keras.mixed_precision.set_global_policy(policy)
    info = {
        "profile": profile,
        "device": device_name(),
        "precision": policy,
        **versions(),
    }
    if verbose:
        print(
            f"profile={profile} | device={info['device']} | precision={policy} | "
            + " ".join(
                f"{k} {v}"
                for k, v in info.items()
                if k not in ("profile", "device", "precision")
            )
        )
    return info
