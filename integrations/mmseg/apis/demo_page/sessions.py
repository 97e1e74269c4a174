"""One temporary folder and one state per browser session; the folder is removed when the session ends.

Sessions are keyed by Gradio's session hash (a random string each browser tab makes and sends with its
requests); a session's folder is named by a fresh random token, so no path the page hands out says anything
about another session. The page closes a session when its tab goes (Gradio's ``unload``), when it has been
idle for ``max_idle_s``, and all of them when the server stops. Gradio's own copies of a session's uploads
(``transfers``, in its upload folder) go with the session.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from .supports import Support
from .uploads import UploadedImage


@dataclass
class Session:
    """A browser session's supports, queries and last results, and the folder holding their files.

    ``lock`` serialises the session's own events (a run, an upload, a click), which Gradio may run in
    different threads (a plain lock: a run holds it across the yields of a generator, which Gradio may
    resume in another thread).
    """

    folder: str
    supports: List[Support] = field(default_factory=list)
    queries: List[UploadedImage] = field(default_factory=list)
    last_used: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)
    runs: int = 0
    transfers: List[str] = field(default_factory=list)

    def subfolder(self, name: str, fresh: bool = False) -> str:
        """``folder/name``, made if missing; ``fresh`` empties it first."""
        path = os.path.join(self.folder, name)
        if fresh:
            shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path, exist_ok=True)
        return path

    def new_run_folder(self) -> str:
        """An empty folder for a run's results; the previous run's are removed. Each run's folder has a new name,
        so a browser never shows a picture it cached from an earlier run under the same address."""
        self.runs += 1
        return os.path.join(self.subfolder("runs", fresh=True), str(self.runs))


class SessionStore:
    """The live sessions under one root folder (the page's own temporary folder).

    Args:
        root (str): Folder in which each session gets a folder of its own.
        max_idle_s (float): A session unused this long is closed by :meth:`close_idle`.
        transfers_root (str, optional): Gradio's upload folder: only files under it are removed as transfers.
    """

    def __init__(self, root: str, max_idle_s: float = 6 * 3600, transfers_root: Optional[str] = None):
        self.root, self.max_idle_s = root, max_idle_s
        self.transfers_root = os.path.realpath(transfers_root) if transfers_root else None
        os.makedirs(root, exist_ok=True)
        self._sessions: Dict[str, Session] = {}
        self._lock = threading.Lock()

    def session(self, key: str) -> Session:
        """The session of ``key``, opened (with a new folder) on first use; idle sessions are closed on the way."""
        if not key:
            raise ValueError("a session needs its browser's session key")
        self.close_idle()
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                session = Session(tempfile.mkdtemp(prefix=f"{secrets.token_hex(8)}-", dir=self.root))
                self._sessions[key] = session
            session.last_used = time.monotonic()
            return session

    def close(self, key: str) -> None:
        """Forget the session of ``key`` and remove its folder (nothing when there is none)."""
        with self._lock:
            session: Optional[Session] = self._sessions.pop(key, None)
        if session is not None:
            with session.lock:  # a run in progress finishes first
                shutil.rmtree(session.folder, ignore_errors=True)
                self.remove_transfers(session.transfers)

    def remove_transfers(self, paths: List[str]) -> None:
        """Remove Gradio's copies of uploads (files under ``transfers_root``; any other path is left alone)."""
        for path in paths:
            real = os.path.realpath(path)
            if self.transfers_root and real.startswith(self.transfers_root + os.sep) and os.path.isfile(real):
                os.remove(real)
                with contextlib.suppress(OSError):  # Gradio's folder of the file (named by its hash), if now empty
                    os.rmdir(os.path.dirname(real))

    def sweep_idle(self, every_s: float) -> threading.Thread:
        """Close idle sessions every ``every_s`` seconds in a background thread, also while nobody uses the page."""
        def sweep():
            while True:
                time.sleep(every_s)
                self.close_idle()

        sweeper = threading.Thread(target=sweep, daemon=True, name="close-idle-sessions")
        sweeper.start()
        return sweeper

    def close_idle(self) -> None:
        now = time.monotonic()
        with self._lock:
            idle = [key for key, session in self._sessions.items() if now - session.last_used > self.max_idle_s]
        for key in idle:
            self.close(key)

    def close_all(self) -> None:
        for key in list(self._sessions):
            self.close(key)

    def __len__(self) -> int:
        return len(self._sessions)
