"""Loading llama.cpp through llama-cpp-python, with its errors made readable.

Imported lazily (``import llama_cpp`` takes a while), so nothing pays for it
until a model is actually opened.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import re
import threading
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assistant.core.base.errors import ModelError
from assistant.core.engine.gguf_file import GGUFInfo

log = logging.getLogger("assistant.llama_cpp")

_lock = threading.Lock()
_recent_errors: deque[str] = deque(maxlen=8)
_callback: Any = None  # keep a reference: ctypes must not free it
_backends_ready = False


class _KeepStreams:
    """Stands in for llama-cpp-python's ``suppress_stdout_stderr``, which points the
    whole process's stdout and stderr (the file descriptors and ``sys.stdout``) at
    /dev/null while a model loads: everything other threads print meanwhile was lost
    (the CLI's messages, the app's start-up report). llama.cpp's own log comes through
    our callback instead, so nothing needs silencing."""

    def __init__(self, disable: bool = True) -> None:
        pass

    def __enter__(self) -> _KeepStreams:
        return self

    def __exit__(self, *_: object) -> None:
        return None


def _install_log_callback() -> None:
    """Route llama.cpp's log to our logger instead of raw stderr lines."""
    global _callback
    if _callback is not None:
        return
    import llama_cpp
    from llama_cpp import _internals
    from llama_cpp import llama as llama_module

    _internals.suppress_stdout_stderr = _KeepStreams  # type: ignore[misc,assignment]
    llama_module.suppress_stdout_stderr = _KeepStreams  # type: ignore[misc,assignment]

    # ggml: 1 debug, 2 info, 3 warn, 4 error, 5 continues the previous line. Its warnings
    # (e.g. a context longer than the model was trained for) are for the log file: what
    # the user must know, the app says itself.
    levels = {3: logging.INFO, 4: logging.ERROR}
    last = [logging.DEBUG]

    @llama_cpp.llama_log_callback
    def _cb(level: int, text: bytes, _user: ctypes.c_void_p) -> None:
        lvl = last[0] if level == 5 else levels.get(level, logging.DEBUG)
        last[0] = lvl
        msg = text.decode("utf-8", "replace").rstrip()
        if not msg:
            return
        if lvl >= logging.ERROR:
            _recent_errors.append(msg)
        log.log(lvl if lvl < logging.ERROR else logging.DEBUG, "%s", msg)

    _callback = _cb
    llama_cpp.llama_log_set(_callback, ctypes.c_void_p(0))


def _load_cpu_backend() -> None:
    """Load the CPU backend of a build that keeps it in separate libraries.

    The desktop bundle's llama.cpp (built with GGML_BACKEND_DL and one CPU library per
    x86-64 generation) picks the library that fits this CPU at run time, from a folder:
    by default the executable's (python's, or the bundle's binary's) and the current
    one, neither of which holds them. They lie beside libllama, so that folder is searched.
    A build with the CPU backend linked in has it registered already and is left alone.
    Call with ``_lock`` held.
    """
    global _backends_ready
    if _backends_ready:
        return
    from llama_cpp import llama_cpp as bindings

    # Through libllama's handle, so these are the ggml it is linked to: the bindings also
    # open lib/libggml.so by path, a copy of libggml.so.0 with its own empty registry.
    lib = bindings._lib
    lib.ggml_backend_reg_count.argtypes = []
    lib.ggml_backend_reg_count.restype = ctypes.c_size_t
    if lib.ggml_backend_reg_count() == 0:
        folder = Path(lib._name).parent
        lib.ggml_backend_load_all_from_path.argtypes = [ctypes.c_char_p]
        lib.ggml_backend_load_all_from_path.restype = None
        lib.ggml_backend_load_all_from_path(str(folder).encode())
        if lib.ggml_backend_reg_count() == 0:
            raise ModelError(
                f"llama.cpp found no CPU backend library (libggml-cpu-*) in {folder}.",
                "Reinstall the app; its llama.cpp libraries are incomplete.",
            )
        log.info("llama.cpp CPU code: %s", _loaded_cpu_variant() or "unknown")
    _backends_ready = True


def _loaded_cpu_variant() -> str | None:
    """The CPU library llama.cpp picked (e.g. "haswell"), from the process's mappings."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None
    found = re.search(r"libggml-cpu-([\w.-]+?)\.so", maps)
    return found.group(1) if found else None


def cpu_code() -> str:
    """Which CPU code llama.cpp runs: the variant picked at run time, or the built-in one."""
    with _lock:
        _load_cpu_backend()
    variant = _loaded_cpu_variant()
    return f"{variant} (picked for this CPU at run time)" if variant else "compiled in"


class _NoChatHandler:
    """Stands in for llama-cpp-python's own template compiler during load.

    We render templates ourselves (see chat_template.py); its compile step
    would fail a load on a malformed template we are about to override.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def to_chat_handler(self) -> None:
        return None


@contextlib.contextmanager
def _without_chat_handlers() -> Iterator[None]:
    from llama_cpp import llama as llama_module

    real = llama_module.llama_chat_format.Jinja2ChatFormatter
    llama_module.llama_chat_format.Jinja2ChatFormatter = _NoChatHandler  # type: ignore[misc]
    try:
        yield
    finally:
        llama_module.llama_chat_format.Jinja2ChatFormatter = real  # type: ignore[misc]


def load_llama(info: GGUFInfo, n_ctx: int, n_threads: int, n_batch: int, n_gpu_layers: int) -> Any:
    """Open the model or raise ModelError with the reason llama.cpp gave."""
    import llama_cpp

    _install_log_callback()
    with _lock:
        _load_cpu_backend()
        _recent_errors.clear()
        try:
            with _without_chat_handlers():
                return llama_cpp.Llama(
                    model_path=str(info.path),
                    n_ctx=n_ctx,
                    n_threads=n_threads,
                    n_threads_batch=n_threads,
                    n_batch=min(n_batch, n_ctx),
                    n_gpu_layers=n_gpu_layers,
                    chat_format="chatml",  # unused: we apply templates ourselves
                    verbose=False,
                )
        except (ValueError, RuntimeError, OSError) as e:
            raise _load_error(info, e) from e


def load_vocab_only(info: GGUFInfo) -> None:
    """Open just the vocabulary (fast): llama.cpp refuses an unknown architecture here."""
    import llama_cpp

    _install_log_callback()
    with _lock:
        _load_cpu_backend()
    level = log.level
    log.setLevel(logging.ERROR)  # a vocab-only load warns about its empty context
    with _lock:
        _recent_errors.clear()
        try:
            with _without_chat_handlers():
                llm = llama_cpp.Llama(
                    model_path=str(info.path), vocab_only=True, chat_format="chatml", verbose=False
                )
            llm.close()
        except (ValueError, RuntimeError, OSError) as e:
            raise _load_error(info, e) from e
        finally:
            log.setLevel(level)


def _load_error(info: GGUFInfo, exc: Exception) -> ModelError:
    detail = next(
        (m for m in reversed(_recent_errors) if "error" in m.lower()),
        _recent_errors[-1] if _recent_errors else str(exc),
    )
    detail = detail.split("error loading model:")[-1].strip().rstrip(".")
    name = Path(info.path).name
    if "unknown model architecture" in detail:
        return ModelError(
            f"Cannot load {name}: its architecture '{info.architecture}' is not supported "
            "by this llama.cpp build.",
            "Update llama-cpp-python, or pick another model.",
        )
    if "alloc" in detail.lower() or "memory" in detail.lower():
        return ModelError(
            f"Cannot load {name}: not enough memory ({detail}).",
            "Lower model.n_ctx or model.n_gpu_layers, or pick a smaller model.",
        )
    return ModelError(
        f"Cannot load {name} ({info.architecture}): {detail}.",
        "The file may be damaged or unsupported; download it again or pick another model.",
    )
