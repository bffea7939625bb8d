"""Starting the desktop app: the window first, the model loads behind it."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time

log = logging.getLogger(__name__)

# packaging/DESKTOP_ID.desktop: the icon and window grouping on Wayland desktops.
DESKTOP_ID = "dev.assistant.Assistant"
_T0 = time.perf_counter()


def has_display() -> bool:
    if sys.platform in ("win32", "darwin"):
        return True
    if os.environ.get("QT_QPA_PLATFORM", "").startswith(("offscreen", "minimal")):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def create_window(app):  # -> MainWindow
    """The composition root: the shared services, then the window over them
    (``window.services``; the desktop around it is built in ``run``)."""
    from assistant.core.base.errors import SettingsError
    from assistant.core.base.paths import get_paths
    from assistant.core.chat.session import open_session
    from assistant.core.config.settings import Settings, load_settings
    from assistant.core.history.store import HistoryStore
    from assistant.ui.chat.main_window import MainWindow
    from assistant.ui.common.message import Messages
    from assistant.ui.services.engine_client import EngineClient
    from assistant.ui.services.live_settings import LiveSettings
    from assistant.ui.services.parts import AppServices
    from assistant.ui.services.push_to_talk import PushToTalk

    paths = get_paths().ensure()
    problem = None
    try:
        settings = load_settings(paths)
    except SettingsError as e:
        settings, problem = Settings(), str(e)
    store = HistoryStore(paths.history_db, paths.backups_dir)
    # The hourly backup, when due, on a thread of its own (it uses its own connection).
    threading.Thread(target=store.backup_if_due, name="backup", daemon=True).start()
    messages = Messages()
    live = LiveSettings(paths, settings, messages)
    # The chat session (its own history connection; memory works through it) is used
    # on the engine runner's thread, which loads the model there too.
    session = open_session(paths, settings)
    engine = EngineClient(session, live)
    memory = session.memory
    ptt = PushToTalk(lambda: live.current.voice)
    ptt.open_microphone()  # now, not after the models: a first press keeps its words
    services = AppServices(paths, store, messages, live, engine, memory, ptt)
    window = MainWindow(services)
    for part in (messages, live, engine, ptt):
        part.setParent(window)  # they live as long as the window
    if problem:
        messages.show_banner(f"{problem}\nUsing default settings until it is fixed.", "settings")
    return window


def connect_quick(quick, window) -> None:  # QuickPrompt, MainWindow
    """The quick prompt's conversations show in the window, and continue there."""
    quick.asked.connect(window.conversation_saved)
    quick.answer_saved.connect(window.conversation_saved)
    quick.continue_requested.connect(window.continue_conversation)


def create_desktop(app, window, server):  # -> Desktop
    """The app around the window: the quick prompt, tray, hotkeys and the instance
    socket, wired to the window (what closing it does, what Quit does)."""
    from assistant.ui.quick.quick_prompt import QuickPrompt
    from assistant.ui.shell.desktop import Desktop

    quick = QuickPrompt(window.services)
    connect_quick(quick, window)
    desktop = Desktop(app, window, quick, window.services, server, window.open_settings)
    window.set_close_policy(desktop.keep_running, desktop.quit)
    return desktop


def offer_restore(problem: str) -> bool:
    """A damaged history at start: offer the newest good backup. True when restored."""
    from PySide6.QtWidgets import QMessageBox

    from assistant.core.base.paths import get_paths
    from assistant.core.history import backups

    paths = get_paths()
    newest = backups.newest_good(paths.backups_dir)
    if newest is None:
        return False
    box = QMessageBox(QMessageBox.Icon.Warning, "Assistant", problem)
    box.setInformativeText(
        f"A backup from {newest.when} passes its check. Restoring it brings back your "
        "conversations and memories as they were then; the damaged file is kept aside."
    )
    restore = box.addButton(
        f"Restore the backup from {newest.when}", QMessageBox.ButtonRole.AcceptRole
    )
    box.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(restore)
    box.exec()
    if box.clickedButton() is not restore:
        return False
    done = backups.restore(paths.history_db, paths.backups_dir, newest)
    log.warning(
        "history restored from %s; the damaged file is %s", done.backup.path, done.set_aside
    )
    return True


def install_error_hook(window) -> None:
    """An exception in a slot is logged and shown in the status bar; the app stays up."""
    from assistant.core.base.errors import AssistantError

    def hook(exc_type, exc, tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        if isinstance(exc, AssistantError):
            message = str(exc)
        else:
            log.error("unexpected error in the window", exc_info=(exc_type, exc, tb))
            message = f"Something went wrong: {exc_type.__name__}: {exc}. Details are in the log."
        window.services.messages.info(message, 15000)

    sys.excepthook = hook


def run(argv: list[str] | None = None, request: dict | None = None) -> int:
    """Start the app, or hand ``request`` to the one already running and return.

    ``request``: {"cmd": "show"} (the default), {"cmd": "quick", "text": …} or
    {"cmd": "ptt"}. Quick prompts and push-to-talk start without the main window.
    """
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from assistant.core.base.errors import AssistantError, HistoryDamagedError
    from assistant.core.base.paths import get_paths
    from assistant.ui.shell.single_instance import InstanceServer

    request = request or {"cmd": "show"}
    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    app.setApplicationName("Assistant")
    app.setDesktopFileName(DESKTOP_ID)
    server = InstanceServer(get_paths().instance_socket)
    if server.claim(request) is not None:
        log.info("handed %s to the running instance", request.get("cmd"))
        print("The assistant is already running; it got the request.", file=sys.stderr)
        return 0
    try:
        try:
            window = create_window(app)
        except HistoryDamagedError as e:
            if not offer_restore(e.message):
                raise
            window = create_window(app)
    except AssistantError as e:
        server.close()
        QMessageBox.critical(None, "Assistant", str(e))
        return 1
    from assistant.ui.common.icons import app_icon

    app.setWindowIcon(app_icon())
    install_error_hook(window)
    desktop = create_desktop(app, window, server)
    # SIGTERM (logout, `kill`) quits like the tray's Quit: the socket is removed and
    # a running answer is saved. Python sees signals only when it runs, so wake it.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: QTimer.singleShot(0, desktop.quit))
    wake = QTimer(app)
    wake.timeout.connect(lambda: None)
    wake.start(300)
    if request.get("cmd") in ("quick", "ptt"):
        QTimer.singleShot(0, lambda: desktop.handle(request))
    else:
        window.show()
    shown = time.perf_counter() - _T0
    log.info("started in %.3f s (%s)", shown, request.get("cmd"))
    if os.environ.get("ASSISTANT_REPORT_STARTUP"):
        print(f"window-shown {shown:.4f}", flush=True)
        QTimer.singleShot(0, desktop.quit)
    code = app.exec()
    desktop.close()
    from assistant.ui.dialogs.documents_window import wait_for_scans
    from assistant.ui.services.engine_client import engine_threads_running

    # A document scan commits file by file; give it a moment, then leave anyway.
    if not wait_for_scans(timeout_ms=5_000) or engine_threads_running():
        # The model is still busy (e.g. loading) and cannot be interrupted; the history
        # is already committed, so leave without waiting for it.
        logging.shutdown()
        os._exit(code)
    return code
