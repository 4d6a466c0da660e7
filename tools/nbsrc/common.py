REPO = "lrbook/lrbook"

def badge(name):
    return (f"[![Open in Colab](../book/_static/colab-badge.svg)]"
            f"(https://colab.research.google.com/github/{REPO}/blob/main/notebooks/{name}.ipynb)")

def derived(quick_lines, extra=""):
    return f'''# Derived settings. The quick profile (CI) shrinks the work; nothing else changes.
import os

profile = profile or os.environ.get("LRBOOK_PROFILE") or "full"
if profile not in ("quick", "full"):
    raise ValueError(f"Argument `profile` must be 'quick' or 'full'. Received: profile={{profile!r}}")
QUICK = profile == "quick"
if QUICK:
{quick_lines}
{extra}'''

SETUP = '''# Setup: install lrbook in Colab, import TensorFlow quietly, seed, print versions.
import subprocess
import sys
import time

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "lrbook @ git+https://github.com/lrbook/lrbook@main"], check=True)

import lrbook

info = lrbook.setup(profile, seed=0)
T_START = time.perf_counter()

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from lrbook import data, models, plotting, stats, training
from lrbook.notebook import glue, glue_summary

plotting.book_style()
pd.set_option("display.precision", 4)'''
