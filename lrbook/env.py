"""The running environment: the Keras backend, quiet TensorFlow import, profiles, device and versions.

Every chapter's setup cell calls :func:`setup`. Nothing here trains anything.

lrbook runs on any Keras 3 backend: TensorFlow (the book's, and Keras's
default), JAX or PyTorch. The backend-neutral modules import Keras through
:func:`import_keras`, which loads TensorFlow (quietly) only when TensorFlow is
the backend; the TensorFlow-only parts (:mod:`lrbook.quantize`,
:mod:`lrbook.distributed`, the ``tensorflow_datasets`` loader) call
:func:`require_tensorflow`, which raises an ``ImportError`` naming the backend
and what to install. The backend is chosen as Keras chooses it: the
``KERAS_BACKEND`` environment variable, else ``~/.keras/keras.json``, else
TensorFlow.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import os
import platform
import sys

from lrbook._validation import check, fail_env, one_of

__all__ = [
    "BACKENDS",
    "PROFILES",
    "backend",
    "device_name",
    "import_keras",
    "in_colab",
    "mixed_precision_requested",
    "quiet_import_tensorflow",
    "require_tensorflow",
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
            fail_env(PROFILE_ENV, value, f"one of {PROFILES} (or unset: 'full')")
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


#: The Keras backends lrbook supports, with the package each runs on.
BACKENDS = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}


def _chosen_backend() -> str | None:
    """The backend the user chose before Keras was imported: ``$KERAS_BACKEND``, then keras.json."""
    value = os.environ.get("KERAS_BACKEND")
    if value:
        return value
    home = os.environ.get("KERAS_HOME") or os.path.join(
        os.path.expanduser("~"), ".keras"
    )
    with contextlib.suppress(OSError, ValueError, AttributeError):
        with open(os.path.join(home, "keras.json")) as f:
            value = json.load(f).get("backend")
        if isinstance(value, str) and value:
            return value
    return None


def backend() -> str:
    """The name of the Keras backend lrbook runs on (``"tensorflow"``, ``"jax"``, ``"torch"``).

    Keras's own answer once Keras is imported; before, the one it will choose:
    ``$KERAS_BACKEND``, else the ``backend`` of ``~/.keras/keras.json``
    (``$KERAS_HOME/keras.json``), else TensorFlow. Importing nothing.

    Example:
        >>> backend() == keras.backend.backend()
        True
    """
    keras_module = sys.modules.get("keras")
    if keras_module is not None and hasattr(keras_module, "backend"):
        return keras_module.backend.backend()
    return _chosen_backend() or "tensorflow"


def import_keras():
    """Import Keras on the backend the user chose, TensorFlow by default, quietly.

    What every backend-neutral module of lrbook does instead of ``import keras``:
    with no backend chosen (no ``$KERAS_BACKEND``, no ``keras.json``) it sets
    ``KERAS_BACKEND=tensorflow``, Keras's own default; when the backend is
    TensorFlow it imports TensorFlow through :func:`quiet_import_tensorflow`;
    any other backend never loads TensorFlow.

    Returns:
        The ``keras`` module.

    Raises:
        ImportError: when the backend's package is not installed (the message
            names the backend and what to install, or how to choose another).

    Example:
        >>> import_keras().backend.backend() == backend()
        True
    """
    if "keras" not in sys.modules and _chosen_backend() is None:
        os.environ["KERAS_BACKEND"] = "tensorflow"
    name = backend()
    package = BACKENDS.get(name, name)
    if name in BACKENDS and package not in sys.modules:
        if importlib.util.find_spec(package) is None:
            raise ImportError(
                f"Keras's backend is {name!r}, but the {package!r} package is not "
                f"installed. Install it ({_INSTALL[name]}) or choose an installed "
                "backend before importing Keras, e.g. KERAS_BACKEND=jax with "
                "pip install 'jax[cpu]'."
            )
    if name == "tensorflow":
        quiet_import_tensorflow()
    return importlib.import_module("keras")


#: What to install for each backend (CPU builds).
_INSTALL = {
    "tensorflow": "pip install tensorflow-cpu, or tensorflow",
    "jax": "pip install 'jax[cpu]'",
    "torch": "pip install torch",
}


def require_tensorflow(feature: str):
    """TensorFlow, for a TensorFlow-only ``feature``; an ``ImportError`` on any other backend.

    Args:
        feature: what needs it, for the message (e.g. ``"lrbook.quantize (the
            TFLite converter, tf.lite)"``).

    Returns:
        The ``tensorflow`` module (imported quietly).

    Raises:
        ImportError: when Keras runs on another backend, or TensorFlow is not
            installed; the message names the backend and what to install.

    Example:
        >>> try:
        ...     tf = require_tensorflow("tf.lite")
        ... except ImportError as error:  # on JAX or PyTorch: says what to do
        ...     tf = error
        >>> (backend() == "tensorflow") == (getattr(tf, "__name__", "") == "tensorflow")
        True
    """
    name = backend()
    if name != "tensorflow":
        raise ImportError(
            f"{feature} needs TensorFlow as the Keras backend, and Keras is running on "
            f"{name!r}. Install TensorFlow ({_INSTALL['tensorflow']}) and set "
            "KERAS_BACKEND=tensorflow before Keras is imported (a new process)."
        )
    if importlib.util.find_spec("tensorflow") is None:
        raise ImportError(
            f"{feature} needs TensorFlow, which is not installed. Install it "
            f"({_INSTALL['tensorflow']})."
        )
    return quiet_import_tensorflow()


def quiet_import_tensorflow():
    """Import TensorFlow (and Keras) without its C++ start-up log lines.

    Sets ``TF_CPP_MIN_LOG_LEVEL=2`` unless the user chose a level, selects the
    TensorFlow backend for Keras unless a backend is chosen (``$KERAS_BACKEND``
    or ``keras.json``) or Keras is already imported, and silences file
    descriptor 2 while the import runs. oneDNN stays on. The backend-neutral
    modules call :func:`import_keras` instead, which comes here only on the
    TensorFlow backend.

    Returns:
        The ``tensorflow`` module.

    Raises:
        ImportError: TensorFlow is not installed (the message names the Keras
            backend and what to install).

    Example:
        >>> if backend() == "tensorflow":  # the book's backend
        ...     tf = quiet_import_tensorflow()  # instead of `import tensorflow as tf`
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "keras" not in sys.modules and _chosen_backend() is None:
        os.environ["KERAS_BACKEND"] = "tensorflow"
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    if importlib.util.find_spec("tensorflow") is None:
        raise ImportError(
            "This needs TensorFlow, which is not installed (Keras's backend is "
            f"{backend()!r}). Install it ({_INSTALL['tensorflow']}); lrbook's "
            "backend-neutral modules work without it."
        )
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
    """A short description of the accelerator the Keras backend sees, or the CPU.

    Example:
        Not run as a doctest (the answer is the machine's):

        >>> device_name()  # doctest: +SKIP
        'CPU (2 cores, x86_64)'
    """
    name = backend()
    cpu = f"CPU ({os.cpu_count()} cores, {platform.machine()})"
    if name == "jax":
        import jax

        gpus = [d for d in jax.devices() if d.platform != "cpu"]
        if gpus:
            kinds = sorted({getattr(d, "device_kind", d.platform) for d in gpus})
            return f"{len(gpus)} x GPU ({', '.join(kinds)})"
        return cpu
    if name == "torch":
        import torch

        if torch.cuda.is_available():
            count = torch.cuda.device_count()
            kinds = sorted({torch.cuda.get_device_name(i) for i in range(count)})
            return f"{count} x GPU ({', '.join(kinds)})"
        return cpu
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
    return cpu


def versions() -> dict:
    """Versions of Python, the Keras backend, Keras, NumPy and lrbook.

    The backend's version is under its package's name: ``"tensorflow"`` (the
    book's), ``"jax"`` or ``"torch"``.

    Example:
        >>> info = versions()
        >>> sorted(set(info) - set(BACKENDS.values()))
        ['keras', 'lrbook', 'numpy', 'python']
        >>> info["keras"] == keras.__version__, BACKENDS[backend()] in info
        (True, True)
    """
    keras = import_keras()
    import numpy

    from lrbook import __version__

    package = BACKENDS.get(backend(), backend())
    return {
        "python": platform.python_version(),
        package: importlib.import_module(package).__version__,
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
        return check(
            "mixed_precision", value, isinstance(value, bool), "True, False or None"
        )
    raw = os.environ.get(MIXED_PRECISION_ENV, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    fail_env(
        MIXED_PRECISION_ENV,
        os.environ[MIXED_PRECISION_ENV],
        "1/0, true/false, yes/no or on/off (or unset: off)",
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
    keras = import_keras()

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
