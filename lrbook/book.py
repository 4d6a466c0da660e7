"""Build the book: execute every chapter with papermill, then render with Jupyter Book v1.

**The book's machinery, not the library's.** This module (like
:mod:`lrbook.notebook` and :func:`lrbook.plotting.book_style`) ships in the
package because the chapters import it, in Colab too, but it works on a
checkout of the book's repository: the folder with ``_toc.yml`` and
``notebooks/``. It finds that folder as :func:`find_root` says (``$LRBOOK_ROOT``,
the checkout this package was installed from in development mode, or the
working directory or one above it); installed from a wheel and run elsewhere,
its commands stop with a message saying so.

Usage (from the repository root)::

    python -m lrbook.book build --profile full        # execute all, render _build/html
    python -m lrbook.book build --profile quick --only 01_training_basics
    python -m lrbook.book execute --profile quick     # execute only
    python -m lrbook.book render --profile quick      # render what was executed
    python -m lrbook.book linkcheck --profile quick   # check external links (needs internet)
    python -m lrbook.book requirements --device auto  # requirements.txt for this machine (GPU: CUDA TF)

Notebooks are executed once, by papermill, into ``_build/executed/<profile>/``
(with a ``manifest.json``: per notebook wall time, parameters, device,
versions, success and the hash of its inputs). Jupyter Book then renders a
staged copy of the book in ``_build/src`` with execution turned off and
warnings as errors.

Builds are incremental: a notebook whose inputs (its cells, the lrbook
sources, the installed packages, its parameters and the device) hash to the
value recorded by its last successful execution is not executed again and is
reported as ``cached``; ``--force`` executes everything.

A failing notebook does not stop the others (``--keep-going``, the default):
every chapter is executed, every failure is reported at the end with its cell,
the build exits non-zero and nothing is rendered. The chapters that succeeded
are cached, so the rebuild after a fix executes only the one that failed.
``--fail-fast`` stops at the first failure instead. A failing notebook's
partial executed copy stays in the build folder for inspection.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from lrbook._validation import check, fail, fail_env, shown

__all__ = [
    "ROOT",
    "ROOT_ENV",
    "find_root",
    "notebooks",
    "has_nvidia_gpu",
    "requirements",
    "input_hash",
    "execute",
    "render",
    "main",
]

#: Environment variable naming the book's checkout (see :func:`find_root`).
ROOT_ENV = "LRBOOK_ROOT"


def _is_checkout(path: Path) -> bool:
    return (path / "_toc.yml").is_file() and (path / "notebooks").is_dir()


def find_root(cwd: Path | None = None) -> Path | None:
    """The book's checkout, or ``None`` when there is none to be found.

    In this order: ``$LRBOOK_ROOT`` (which must then be a checkout); the folder
    above this package, when it is one (an editable install or ``python -m``
    from the repository); ``cwd`` (default: the working directory) or the
    first folder above it that is one. A checkout is a folder with
    ``_toc.yml`` and ``notebooks/``.

    Raises:
        ValueError: if ``$LRBOOK_ROOT`` is set to a folder that is not a checkout.

    Example:
        >>> root = find_root()   # None outside a checkout (a wheel, elsewhere)
        >>> root is None or (root / "_toc.yml").is_file()
        True
    """
    named = os.environ.get(ROOT_ENV)
    if named:
        path = Path(named).expanduser().resolve()
        if not _is_checkout(path):
            fail_env(
                ROOT_ENV,
                named,
                "the path of the book's checkout (a folder with _toc.yml and notebooks/)",
            )
        return path
    beside = Path(__file__).resolve().parent.parent
    if _is_checkout(beside):
        return beside
    here = (cwd or Path.cwd()).resolve()
    for path in (here, *here.parents):
        if _is_checkout(path):
            return path
    return None


_FOUND = find_root()
#: The repository root (the folder holding ``_config.yml``); where no checkout
#: is found, the folder above the package, and :func:`main` refuses to run.
ROOT = _FOUND or Path(__file__).resolve().parent.parent
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
            raise SystemExit(
                f"error: --only names no notebook: {sorted(unknown)}; "
                f"have {[p.stem for p in found]}"
            )
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
    r"""``requirements.txt`` for ``device``: on a GPU the CPU TensorFlow becomes ``tensorflow[and-cuda]``.

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
        device = os.environ.get("LRBOOK_DEVICE") or (
            "gpu" if has_nvidia_gpu() else "cpu"
        )
    check("device", device, device in ("cpu", "gpu"), "'cpu', 'gpu' or 'auto'")
    if text is None:
        text = (ROOT / "requirements.txt").read_text()
    if device == "cpu":
        return text
    lines = text.splitlines(keepends=True)
    found = False
    for i, line in enumerate(lines):
        if line.startswith(TF_CPU + "=="):
            lines[i] = TF_GPU + line[len(TF_CPU) :]
            found = True
    if not found:
        fail(
            "text",
            shown(f"<{len(lines)} lines, none starting {TF_CPU}==>"),
            f"requirements that pin {TF_CPU}==<version> on a line of its own",
        )
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
    code = (
        "import json, lrbook.env as e; i = e.versions(); i['device'] = e.device_name(); "
        "i['precision'] = 'mixed_float16' if e.mixed_precision_requested() else 'float32'; "
        "print(json.dumps(i))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=_kernel_env(None),
        cwd=ROOT,
    )
    try:
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"error": out.stderr[-500:]}


def _kernel_env(profile: str | None) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), env.get("PYTHONPATH")])
    )
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("KERAS_BACKEND", "tensorflow")
    env.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    if profile:
        env["LRBOOK_PROFILE"] = profile
    return env


#: lrbook files that are the build's own machinery, not code a chapter runs: a change to
#: them does not re-execute the chapters.
BUILD_ONLY_SOURCES = ("lrbook/book.py",)


def _notebook_cells(path: Path) -> list:
    """What of a notebook decides its output: kernelspec, cell types, sources, metadata."""
    nb = json.loads(Path(path).read_text())
    cells = []
    for cell in nb["cells"]:
        src = cell["source"]
        cells.append(
            [
                cell["cell_type"],
                "".join(src) if isinstance(src, list) else src,
                cell.get("metadata", {}),
            ]
        )
    return [nb.get("metadata", {}).get("kernelspec", {}), cells]


def _lrbook_sources(root: Path = ROOT) -> list:
    """(path, sha256) of every lrbook source a chapter can run."""
    files = sorted((root / "lrbook").rglob("*.py"))
    return [
        [f.relative_to(root).as_posix(), hashlib.sha256(f.read_bytes()).hexdigest()]
        for f in files
        if f.relative_to(root).as_posix() not in BUILD_ONLY_SOURCES
    ]


def _installed_packages() -> list:
    """The resolved environment: ``name==version`` of every installed distribution."""
    found = {
        f"{d.metadata['Name']}=={d.version}".lower()
        for d in importlib.metadata.distributions()
        if d.metadata["Name"]
    }
    return sorted(found)


def input_hash(
    path, parameters: dict, runtime: dict, *, packages=None, sources=None
) -> str:
    """SHA-256 of everything that decides a notebook's executed output.

    That is the notebook's cells (types, sources, tags and other metadata) and
    kernelspec, the lrbook source files (less ``BUILD_ONLY_SOURCES``), the
    installed packages with their versions, the papermill parameters, and the
    device and precision. Two executions with the same hash run the same code on
    the same inputs, so the build reuses the first.

    Args:
        path: the notebook.
        parameters: the papermill parameters it is executed with.
        runtime: the manifest's runtime record (``device``, ``precision``).
        packages: ``name==version`` strings (default: this environment's).
        sources: ``(path, sha256)`` pairs (default: this checkout's lrbook).

    Example:
        >>> nb = next(iter(notebooks()))
        >>> a = input_hash(nb, {"profile": "quick"}, {"device": "CPU"}, packages=[], sources=[])
        >>> a == input_hash(nb, {"profile": "full"}, {"device": "CPU"}, packages=[], sources=[])
        False
    """
    record = {
        "notebook": _notebook_cells(path),
        "lrbook": _lrbook_sources() if sources is None else sources,
        "packages": _installed_packages() if packages is None else packages,
        "parameters": parameters,
        "device": [runtime.get("device"), runtime.get("precision")],
    }
    return hashlib.sha256(
        json.dumps(record, sort_keys=True, default=str).encode()
    ).hexdigest()


def _failure(err: BaseException) -> dict:
    """The failing cell of a papermill error, as far as it is known."""
    info = {"error": f"{type(err).__name__}: {str(err)[-2000:]}"}
    if getattr(err, "ename", None) is not None:
        info.update(
            cell_index=getattr(err, "cell_index", None),
            execution_count=getattr(err, "exec_count", None),
            exception=f"{err.ename}: {err.evalue}",
            cell_source=(getattr(err, "source", "") or "")[:1000],
        )
    return info


def _failure_report(failures: list) -> str:
    lines = [
        f"[lrbook.book] FAILED: {len(failures)} notebook(s); nothing was rendered."
    ]
    for f in failures:
        where = (
            f" in cell {f['cell_index']} (execution count {f.get('execution_count')})"
            if f.get("cell_index") is not None
            else ""
        )
        lines.append(
            f"  - {f['notebook']} (profile={f['profile']}){where}: "
            f"{f.get('exception') or f['error'].splitlines()[0][:300]}"
        )
        source = (f.get("cell_source") or "").strip().splitlines()
        if source:
            lines += ["      | " + line for line in source[:6]]
        lines.append(f"    partial executed copy: {f['partial']}")
    return "\n".join(lines)


def execute(
    profile: str,
    only=None,
    parameters: dict | None = None,
    *,
    paths=None,
    build: Path = BUILD,
    force: bool = False,
    keep_going: bool = True,
) -> dict:
    """Execute notebooks with papermill under ``profile``; return the manifest.

    A notebook whose :func:`input_hash` equals the one recorded by its last
    successful execution (and whose executed copy is still there) is not
    executed again: it is reported as ``cached`` and keeps that run's record.

    Args:
        profile: ``"quick"`` or ``"full"``.
        only: notebook stems to execute (default: all in the TOC).
        parameters: extra papermill parameters for every notebook.
        paths: explicit notebook paths (overrides ``only``; used by the tests).
        build: the build folder (default ``_build``).
        force: execute every notebook even when its inputs are unchanged.
        keep_going: after a failure, execute the remaining notebooks and report
            every failure at the end (default); ``False`` stops at the first.

    Raises:
        SystemExit: (non-zero) when any notebook failed, naming each with its
            failing cell and the path of its partial executed copy.

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
    packages, sources = _installed_packages(), _lrbook_sources()
    failures = []
    # The kernel inherits this process's environment: point it at this checkout.
    saved_env = dict(os.environ)
    os.environ.clear()
    os.environ.update(_kernel_env(profile))
    try:
        for nb_path in paths if paths is not None else notebooks(only):
            nb_path = Path(nb_path).resolve()
            rel = (
                nb_path.relative_to(ROOT).as_posix()
                if nb_path.is_relative_to(ROOT)
                else str(nb_path)
            )
            target = out_dir / nb_path.name
            params = {"profile": profile, **(parameters or {})}
            digest = input_hash(
                nb_path, params, runtime, packages=packages, sources=sources
            )
            last = manifest["notebooks"].get(rel, {})
            if (
                not force
                and last.get("success")
                and last.get("input_hash") == digest
                and target.exists()
            ):
                last["cached"] = True
                print(
                    f"[lrbook.book] cached {rel} (profile={profile}; executed "
                    f"{last.get('started', '?')} in {last.get('wall_time_s', '?')} s)",
                    flush=True,
                )
                continue
            work = build / "work" / profile / nb_path.stem
            work.mkdir(parents=True, exist_ok=True)
            print(f"[lrbook.book] executing {rel} (profile={profile})", flush=True)
            t0 = time.perf_counter()
            entry = {
                "notebook": rel,
                "profile": profile,
                "parameters": params,
                "started": _dt.datetime.now(_dt.timezone.utc).isoformat(
                    timespec="seconds"
                ),
                "input_hash": digest,
                "cached": False,
                **runtime,
            }
            try:
                papermill.execute_notebook(
                    str(nb_path),
                    str(target),
                    parameters=params,
                    cwd=str(work),
                    kernel_name="python3",
                    progress_bar=False,
                    log_output=False,
                )
            except BaseException as err:  # noqa: BLE001 - record, then go on or stop
                entry.update(
                    success=False,
                    wall_time_s=round(time.perf_counter() - t0, 1),
                    partial=str(target),
                    **_failure(err),
                )
                manifest["notebooks"][rel] = entry
                _write_manifest(profile, manifest, build)
                failures.append(entry)
                print(str(err)[-3000:], file=sys.stderr)
                print(
                    f"[lrbook.book]   FAILED after {entry['wall_time_s']} s", flush=True
                )
                if isinstance(err, KeyboardInterrupt) or not keep_going:
                    break
                continue
            _hide_injected_cell(target)
            entry.update(success=True, wall_time_s=round(time.perf_counter() - t0, 1))
            manifest["notebooks"][rel] = entry
            _write_manifest(profile, manifest, build)
            print(f"[lrbook.book]   ok in {entry['wall_time_s']} s", flush=True)
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
    _write_manifest(profile, manifest, build)
    if failures:
        report = _failure_report(failures)
        print(report, file=sys.stderr, flush=True)
        raise SystemExit(report)
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
            _stage_notebook(
                done, src / "notebooks" / nb_path.name, manifest["notebooks"][rel]
            )
    if missing or failed:
        raise SystemExit(
            f"[lrbook.book] cannot render profile {profile!r}: "
            + (f"not executed: {missing}. " if missing else "")
            + (f"failed: {failed}. " if failed else "")
            + f"Run: python -m lrbook.book execute --profile {profile}"
        )
    shutil.copy2(_manifest_path(profile), src / "book" / "manifest.json")
    (src / "book" / "results.md").write_text(
        results_page(profile, src / "notebooks", manifest)
    )
    return src


def run_record(entry: dict) -> str:
    """One sentence on the run that produced a page: date, profile, device, versions, cached.

    Example:
        >>> run_record({"started": "2026-12-03T09:00:00+00:00", "profile": "full",
        ...             "wall_time_s": 61.5, "device": "CPU", "lrbook": "0.1.0",
        ...             "tensorflow": "2.21.0", "keras": "3.15.1", "cached": True})
        'Executed on 2026-12-03 at 09:00 UTC in 62 s (full profile, CPU, lrbook 0.1.0, TensorFlow 2.21.0, Keras 3.15.1); this build reused that run, since nothing it depends on has changed.'
    """
    started = entry.get("started", "?")
    try:
        when = _dt.datetime.fromisoformat(started).astimezone(_dt.timezone.utc)
        started = f"on {when:%Y-%m-%d} at {when:%H:%M} UTC"
    except (TypeError, ValueError):
        started = f"at {started}"
    wall = entry.get("wall_time_s")
    text = (
        f"Executed {started}"
        + (f" in {wall:.0f} s" if isinstance(wall, (int, float)) else "")
        + f" ({entry.get('profile', '?')} profile, {entry.get('device', '?')}, "
        f"lrbook {entry.get('lrbook', '?')}, TensorFlow {entry.get('tensorflow', '?')}, "
        f"Keras {entry.get('keras', '?')})"
    )
    if entry.get("cached"):
        text += "; this build reused that run, since nothing it depends on has changed"
    return text + "."


def _stage_notebook(done: Path, dest: Path, entry: dict) -> None:
    """Copy an executed notebook into the staged book, with its run record as a footer."""
    import nbformat

    nb = nbformat.read(done, as_version=4)
    footer = nbformat.v4.new_markdown_cell("---\n\n*" + run_record(entry) + "*")
    footer.metadata["tags"] = ["lrbook-run-record"]
    nb.cells.append(footer)
    nbformat.write(nb, dest)


def _title(nb_file: Path) -> str:
    nb = json.loads(nb_file.read_text())
    for cell in nb["cells"]:
        src = (
            "".join(cell["source"])
            if isinstance(cell["source"], list)
            else cell["source"]
        )
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
        + (
            " (the quick profile is CI's small version: its numbers are not the book's)."
            if profile == "quick"
            else "."
        ),
        f"This site was rendered on {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d at %H:%M} UTC; each "
        "chapter below says when its notebook was executed (a chapter whose inputs had not "
        "changed keeps the run that produced it).",
        "",
    ]
    for nb_path in notebooks():
        done = executed / nb_path.name
        rel = nb_path.relative_to(ROOT).as_posix()
        entry = manifest["notebooks"].get(rel, {})
        heads = (
            json.loads(read_glued(done).get(HEADLINES_NAME, "[]"))
            if done.exists()
            else []
        )
        lines += [f"## {_title(done)}", "", f"[Read the chapter](../{rel}).", ""]
        if heads:
            lines += ["| result | value | n | setting |", "|---|---|---|---|"]
            for h in heads:
                lines.append(
                    f"| {h['label']} | {h['value']} | {h['n'] if h['n'] is not None else ''} "
                    f"| {h['note']} |"
                )
            lines.append("")
        lines += [
            run_record(entry) + f" Parameters: `{entry.get('parameters', {})}`.",
            "",
        ]
    return "\n".join(lines) + "\n"


def render(profile: str, builder: str = "html") -> Path:
    """Render the executed notebooks of ``profile`` into ``_build/html`` (warnings are errors).

    ``builder="linkcheck"`` checks every external link instead (needs the internet; not in CI).

    Example:
        >>> render("quick")  # doctest: +SKIP
        PosixPath('.../_build/html')
    """
    src = _stage(profile)
    cmd = [
        sys.executable,
        "-m",
        "jupyter_book",
        "build",
        str(src),
        "--path-output",
        str(ROOT),
        "-W",
        "-n",
        "--keep-going",
        "--builder",
        builder,
    ]
    jb = shutil.which("jupyter-book", path=str(Path(sys.executable).parent))
    if jb:
        cmd = [jb, *cmd[3:]]
    print("[lrbook.book] rendering:", " ".join(cmd), flush=True)
    result = subprocess.run(cmd, cwd=ROOT)
    if result.returncode != 0:
        raise SystemExit(
            f"[lrbook.book] FAILED: Jupyter Book exited with {result.returncode}"
        )
    if builder != "html":
        return BUILD / builder
    html = BUILD / "html"
    print(f"[lrbook.book] site: {html / 'index.html'}", flush=True)
    return html


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lrbook.book", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "command",
        choices=["build", "execute", "render", "linkcheck", "list", "requirements"],
    )
    parser.add_argument("--profile", default="full", choices=["quick", "full"])
    parser.add_argument(
        "--only", nargs="+", metavar="NAME", help="notebooks to execute (stems)"
    )
    parser.add_argument(
        "--device",
        default="auto",
        choices=["auto", "cpu", "gpu"],
        help="requirements: the TensorFlow build to install",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="execute every notebook, even those whose inputs are unchanged",
    )
    going = parser.add_mutually_exclusive_group()
    going.add_argument(
        "--keep-going",
        dest="keep_going",
        action="store_true",
        default=True,
        help="after a failure, execute the other notebooks and report every "
        "failure at the end (the default)",
    )
    going.add_argument(
        "--fail-fast",
        dest="keep_going",
        action="store_false",
        help="stop at the first failing notebook",
    )
    args = parser.parse_args(argv)
    if _FOUND is None:
        parser.exit(
            2,
            f"python -m lrbook.book: no checkout of the book here. These commands build the "
            f"book from its repository (a folder with _toc.yml and notebooks/): run them "
            f"there, or set {ROOT_ENV} to it. The lrbook library itself needs none of this.\n",
        )
    if args.command == "requirements":
        print(requirements(args.device), end="")
        return 0
    if args.command == "list":
        for p in notebooks(args.only):
            print(p.relative_to(ROOT).as_posix())
        return 0
    t0 = time.perf_counter()
    if args.command in ("build", "execute"):
        execute(args.profile, args.only, force=args.force, keep_going=args.keep_going)
    if args.command in ("build", "render"):
        render(args.profile)
    if args.command == "linkcheck":
        render(args.profile, builder="linkcheck")
    print(f"[lrbook.book] done in {time.perf_counter() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
