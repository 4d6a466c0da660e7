"""Build the book: execute every chapter with papermill, then render with Jupyter Book v1.

Usage (from the repository root)::

    python -m lrbook.book build --profile full        # execute all, render _build/html
    python -m lrbook.book build --profile quick --only 01_training_basics
    python -m lrbook.book execute --profile quick     # execute only
    python -m lrbook.book render --profile quick      # render what was executed
    python -m lrbook.book linkcheck --profile quick   # check external links (needs internet)
    python -m lrbook.book requirements --device auto  # requirements.txt for this machine (GPU: CUDA TF)

Notebooks are executed once, by papermill, into ``_build/executed/<profile>/``
(with a ``manifest.json``: per notebook wall time, parameters, device,
versions, success). Jupyter Book then renders a staged copy of the book in
``_build/src`` with execution turned off and warnings as errors. A failing
notebook stops the build with a non-zero exit naming it; its partial executed
copy stays in the build folder for inspection, and nothing is rendered.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["ROOT", "notebooks", "has_nvidia_gpu", "requirements", "execute", "render", "main"]

#: The repository root (the folder holding ``_config.yml``).
ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "_build"
#: Tag papermill gives the cell it injects; the build hides it from the page.
INJECTED_TAG = "injected-parameters"


def notebooks(only=None) -> list[Path]:
    """The chapter notebooks in table-of-contents order (``only``: names or stems to keep).

    Example:
        >>> [p.name for p in notebooks(["01_training_basics"])]
        ['01_training_basics.ipynb']
    """
    toc = (ROOT / "_toc.yml").read_text()
    found = []
    for line in toc.splitlines():
        line = line.strip()
        if line.startswith("- file:") and "notebooks/" in line:
            found.append(ROOT / (line.split(":", 1)[1].strip() + ".ipynb"))
    extra = sorted(set((ROOT / "notebooks").glob("*.ipynb")) - set(found))
    found += extra  # not in the TOC yet: still executed (and tested)
    if only:
        wanted = {Path(o).stem for o in only}
        unknown = wanted - {p.stem for p in found}
        if unknown:
            raise SystemExit(f"error: --only names no notebook: {sorted(unknown)}; "
                             f"have {[p.stem for p in found]}")
        found = [p for p in found if p.stem in wanted]
    return found


#: The TensorFlow requirement of each device; requirements.txt pins the CPU one.
TF_CPU = "tensorflow-cpu"
TF_GPU = "tensorflow[and-cuda]"


def has_nvidia_gpu() -> bool:
    """True when ``nvidia-smi -L`` lists at least one GPU (without importing TensorFlow).

    Example:
        >>> has_nvidia_gpu()  # doctest: +SKIP
        False
    """
    exe = shutil.which("nvidia-smi")
    if not exe:
        return False
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and "GPU" in out.stdout


def requirements(device: str = "auto", text: str | None = None) -> str:
    """``requirements.txt`` for ``device``: on a GPU the CPU TensorFlow becomes ``tensorflow[and-cuda]``.

    The version stays the one pinned in ``requirements.txt``; nothing else
    changes, so a GPU build runs the same code with the same versions.

    Args:
        device: ``"cpu"``, ``"gpu"`` or ``"auto"`` (``"gpu"`` when
            :func:`has_nvidia_gpu`; the environment variable ``LRBOOK_DEVICE``
            overrides ``"auto"``).
        text: the requirements to rewrite (default: the repository's file).

    Example:
        >>> requirements("gpu", "tensorflow-cpu==2.21.0\nkeras==3.15.1\n")
        'tensorflow[and-cuda]==2.21.0\nkeras==3.15.1\n'
    """
    if device == "auto":
        device = os.environ.get("LRBOOK_DEVICE") or ("gpu" if has_nvidia_gpu() else "cpu")
    if device not in ("cpu", "gpu"):
        raise ValueError(f"Argument `device` must be 'cpu', 'gpu' or 'auto'. Received: device={device!r}")
    if text is None:
        text = (ROOT / "requirements.txt").read_text()
    if device == "cpu":
        return text
    lines = text.splitlines(keepends=True)
    found = False
    for i, line in enumerate(lines):
        if line.startswith(TF_CPU + "=="):
            lines[i] = TF_GPU + line[len(TF_CPU):]
            found = True
    if not found:
        raise ValueError(f"Argument `text` must pin {TF_CPU}==<version> on a line of its own.")
    return "".join(lines)


def _executed_dir(profile: str, build: Path = BUILD) -> Path:
    return build / "executed" / profile


def _manifest_path(profile: str, build: Path = BUILD) -> Path:
    return _executed_dir(profile, build) / "manifest.json"


def _load_manifest(profile: str, build: Path = BUILD) -> dict:
    path = _manifest_path(profile, build)
    if path.exists():
        return json.loads(path.read_text())
    return {"profile": profile, "notebooks": {}}


def _hide_injected_cell(path: Path) -> None:
    """Tag papermill's injected-parameters cell ``remove-cell`` so the page does not show it."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    changed = False
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if INJECTED_TAG in tags and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]
            changed = True
    if changed:
        nbformat.write(nb, path)


def _runtime_info() -> dict:
    """Device and versions, taken in a subprocess so the build process stays TensorFlow-free."""
    code = ("import json, lrbook.env as e; i = e.versions(); i['device'] = e.device_name(); "
            "i['precision'] = 'mixed_float16' if e.mixed_precision_requested() else 'float32'; "
            "print(json.dumps(i))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=_kernel_env(None), cwd=ROOT)
    try:
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"error": out.stderr[-500:]}


def _kernel_env(profile: str | None) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("KERAS_BACKEND", "tensorflow")
    env.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    if profile:
        env["LRBOOK_PROFILE"] = profile
    return env


def execute(profile: str, only=None, parameters: dict | None = None, *, paths=None,
            build: Path = BUILD) -> dict:
    """Execute notebooks with papermill under ``profile``; return the manifest.

    Args:
        profile: ``"quick"`` or ``"full"``.
        only: notebook stems to execute (default: all in the TOC).
        parameters: extra papermill parameters for every notebook.
        paths: explicit notebook paths (overrides ``only``; used by the tests).
        build: the build folder (default ``_build``).

    Raises:
        SystemExit: (non-zero) on the first failing notebook, naming it and
            the path of its partial executed copy.

    Example:
        >>> manifest = execute("quick", only=["01_training_basics"])  # doctest: +SKIP
        >>> manifest["notebooks"]["notebooks/01_training_basics.ipynb"]["wall_time_s"]  # doctest: +SKIP
    """
    import papermill

    from lrbook.env import resolve_profile

    resolve_profile(profile)
    out_dir = _executed_dir(profile, build) / "notebooks"
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = _load_manifest(profile, build)
    runtime = _runtime_info()
    manifest.update(profile=profile, runtime=runtime)
    # The kernel inherits this process's environment: point it at this checkout.
    saved_env = dict(os.environ)
    os.environ.clear()
    os.environ.update(_kernel_env(profile))
    try:
        for nb_path in paths if paths is not None else notebooks(only):
            nb_path = Path(nb_path).resolve()
            rel = nb_path.relative_to(ROOT).as_posix() if nb_path.is_relative_to(ROOT) else str(nb_path)
            target = out_dir / nb_path.name
            work = build / "work" / profile / nb_path.stem
            work.mkdir(parents=True, exist_ok=True)
            params = {"profile": profile, **(parameters or {})}
            print(f"[lrbook.book] executing {rel} (profile={profile})", flush=True)
            t0 = time.perf_counter()
            entry = {"notebook": rel, "profile": profile, "parameters": params,
                     "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                     **runtime}
            try:
                papermill.execute_notebook(
                    str(nb_path), str(target), parameters=params, cwd=str(work),
                    kernel_name="python3", progress_bar=False, log_output=False,
                )
            except BaseException as err:  # noqa: BLE001 - record, then stop the build
                entry.update(success=False, wall_time_s=round(time.perf_counter() - t0, 1),
                             error=f"{type(err).__name__}: {str(err)[-2000:]}")
                manifest["notebooks"][rel] = entry
                _write_manifest(profile, manifest, build)
                print(str(err)[-3000:], file=sys.stderr)
                raise SystemExit(
                    f"[lrbook.book] FAILED: {rel} (profile={profile}). "
                    f"Partial executed copy kept at {target}; nothing was rendered."
                ) from None
            _hide_injected_cell(target)
            entry.update(success=True, wall_time_s=round(time.perf_counter() - t0, 1))
            manifest["notebooks"][rel] = entry
            _write_manifest(profile, manifest, build)
            print(f"[lrbook.book]   ok in {entry['wall_time_s']} s", flush=True)
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
    return manifest


def _write_manifest(profile: str, manifest: dict, build: Path = BUILD) -> None:
    path = _manifest_path(profile, build)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def _stage(profile: str) -> Path:
    """Copy the book's sources and the executed notebooks into ``_build/src``."""
    src = BUILD / "src"
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "book", src / "book")
    executed = _executed_dir(profile) / "notebooks"
    manifest = _load_manifest(profile)
    missing, failed = [], []
    (src / "notebooks").mkdir()
    for nb_path in notebooks():
        rel = nb_path.relative_to(ROOT).as_posix()
        done = executed / nb_path.name
        if not done.exists():
            missing.append(rel)
        elif not manifest["notebooks"].get(rel, {}).get("success"):
            failed.append(rel)
        else:
            shutil.copy2(done, src / "notebooks" / nb_path.name)
    if missing or failed:
        raise SystemExit(
            f"[lrbook.book] cannot render profile {profile!r}: "
            + (f"not executed: {missing}. " if missing else "")
            + (f"failed: {failed}. " if failed else "")
            + f"Run: python -m lrbook.book execute --profile {profile}"
        )
    shutil.copy2(_manifest_path(profile), src / "book" / "manifest.json")
    (src / "book" / "results.md").write_text(results_page(profile, src / "notebooks", manifest))
    return src


def _title(nb_file: Path) -> str:
    nb = json.loads(nb_file.read_text())
    for cell in nb["cells"]:
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "markdown" and src.startswith("# "):
            return src.splitlines()[0][2:].strip()
    return nb_file.stem


def results_page(profile: str, executed: Path, manifest: dict) -> str:
    """The "Results at a glance" page: every chapter's headlines, read from its executed copy."""
    from lrbook.notebook import HEADLINES_NAME, read_glued

    runtime = manifest.get("runtime", {})
    lines = [
        "# Results at a glance",
        "",
        "The headline numbers of every chapter, read by the build from the executed notebooks",
        "(nothing on this page is typed by hand). Follow a chapter's link for the setting, the",
        "figures and the caveats.",
        "",
        f"These results come from the **{profile}** profile on **{runtime.get('device', '?')}** "
        f"({runtime.get('precision', 'float32')}), with "
        f"TensorFlow {runtime.get('tensorflow', '?')}, Keras {runtime.get('keras', '?')}, "
        f"NumPy {runtime.get('numpy', '?')} and lrbook {runtime.get('lrbook', '?')}"
        + (" (the quick profile is CI's small version: its numbers are not the book's)."
           if profile == "quick" else "."),
        "",
    ]
    for nb_path in notebooks():
        done = executed / nb_path.name
        rel = nb_path.relative_to(ROOT).as_posix()
        entry = manifest["notebooks"].get(rel, {})
        heads = json.loads(read_glued(done).get(HEADLINES_NAME, "[]")) if done.exists() else []
        lines += [f"## {_title(done)}", "", f"[Read the chapter](../{rel}).", ""]
        if heads:
            lines += ["| result | value | n | setting |", "|---|---|---|---|"]
            for h in heads:
                lines.append(f"| {h['label']} | {h['value']} | {h['n'] if h['n'] is not None else ''} "
                             f"| {h['note']} |")
            lines.append("")
        lines += [f"Executed in {entry.get('wall_time_s', '?')} s "
                  f"(started {entry.get('started', '?')}, parameters `{entry.get('parameters', {})}`).", ""]
    return "\n".join(lines) + "\n"


def render(profile: str, builder: str = "html") -> Path:
    """Render the executed notebooks of ``profile`` into ``_build/html`` (warnings are errors).

    ``builder="linkcheck"`` checks every external link instead (needs the internet; not in CI).

    Example:
        >>> render("quick")  # doctest: +SKIP
        PosixPath('.../_build/html')
    """
    src = _stage(profile)
    cmd = [sys.executable, "-m", "jupyter_book", "build", str(src), "--path-output", str(ROOT),
           "-W", "-n", "--keep-going", "--builder", builder]
    jb = shutil.which("jupyter-book", path=str(Path(sys.executable).parent))
    if jb:
        cmd = [jb, *cmd[3:]]
    print("[lrbook.book] rendering:", " ".join(cmd), flush=True)
    result = subprocess.run(cmd, cwd=ROOT)
    if result.returncode != 0:
        raise SystemExit(f"[lrbook.book] FAILED: Jupyter Book exited with {result.returncode}")
    if builder != "html":
        return BUILD / builder
    html = BUILD / "html"
    print(f"[lrbook.book] site: {html / 'index.html'}", flush=True)
    return html


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lrbook.book", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["build", "execute", "render", "linkcheck", "list", "requirements"])
    parser.add_argument("--profile", default="full", choices=["quick", "full"])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="notebooks to execute (stems)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "gpu"],
                        help="requirements: the TensorFlow build to install")
    args = parser.parse_args(argv)
    if args.command == "requirements":
        print(requirements(args.device), end="")
        return 0
    if args.command == "list":
        for p in notebooks(args.only):
            print(p.relative_to(ROOT).as_posix())
        return 0
    t0 = time.perf_counter()
    if args.command in ("build", "execute"):
        execute(args.profile, args.only)
    if args.command in ("build", "render"):
        render(args.profile)
    if args.command == "linkcheck":
        render(args.profile, builder="linkcheck")
    print(f"[lrbook.book] done in {time.perf_counter() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
