"""tools/demo.py's uploads over HTTP, as a browser sends them (no browser): Gradio's upload route, then the page's
events through Gradio's queue. Each upload leaves the page's files in the session's folder and nothing else:
Gradio's own copies go with the session and no empty temporary file is left per file (Gradio's File and
UploadButton preprocessing opens one in its cache folder per file and per event and never removes it)."""
import json
import os
import uuid
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest

from integrations.mmseg.apis.demo_page.limits import UploadLimits
from integrations.mmseg.apis.demo_page.model import RunSettings
from integrations.mmseg.apis.demo_page.sessions import SessionStore
from tests.test_demo import png_declaring
from tests.tool_modules import load_tool

demo = load_tool("demo")


class NoModel:
    """What building the page asks of its model (these tests run nothing)."""

    prompt_model = None

    @staticmethod
    def default_settings() -> RunSettings:
        return RunSettings("fusion", "mean", False, "fp32")


def _files_in(folder):
    return sorted(os.path.join(parent, name) for parent, _, names in os.walk(folder) for name in names)


@pytest.fixture
def page(tmp_path, monkeypatch):
    """The page on 127.0.0.1 in this process, Gradio's folder ``tmp_path/gradio`` as tools/demo.py sets it."""
    for key, value in {**demo.PRIVATE_ENVIRONMENT, "GRADIO_TEMP_DIR": str(tmp_path / "gradio")}.items():
        monkeypatch.setenv(key, value)
    from integrations.mmseg.apis.demo_page.layout import build_page  # Gradio: after its environment is set
    store = SessionStore(str(tmp_path / "gradio" / "sessions"), transfers_root=str(tmp_path / "gradio"))
    blocks = build_page(NoModel(), store, UploadLimits(), "title", "about")
    blocks.launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True, share=False, ssr_mode=False,
                  footer_links=[], enable_monitoring=False, pwa=False, mcp_server=False)
    try:
        with httpx.Client(base_url=blocks.local_url.rstrip("/") + "/gradio_api", timeout=60, trust_env=False) as http:
            yield dict(blocks=blocks, store=store, http=http, gradio=tmp_path / "gradio")
    finally:
        store.close_all()
        blocks.close()


def _upload(http, paths):
    """POST the files to Gradio's upload route as the browser does: Gradio's copies' FileData, in order."""
    answer = http.post("/upload", params={"upload_id": uuid.uuid4().hex[:11]},
                       files=[("files", (os.path.basename(path), Path(path).read_bytes())) for path in paths])
    answer.raise_for_status()
    return [{"path": copy, "orig_name": os.path.basename(path), "size": os.path.getsize(path), "mime_type": None,
             "meta": {"_type": "gradio.FileData"}} for copy, path in zip(answer.json(), paths)]


def _trigger(page, session, name, data, success=True):
    """Run the page's event ``name`` as the browser does (join Gradio's queue, read its stream): its outputs."""
    fn_index, block_fn = next((index, block_fn) for index, block_fn in page["blocks"].fns.items()
                              if block_fn.fn is not None and block_fn.fn.__name__ == name)
    joined = page["http"].post("/queue/join", json=dict(data=data, fn_index=fn_index, session_hash=session,
                                                        trigger_id=block_fn.targets[0][0], event_data=None))
    joined.raise_for_status()
    with page["http"].stream("GET", "/queue/data", params={"session_hash": session}) as stream:
        for line in stream.iter_lines():
            message = json.loads(line[len("data:"):]) if line.startswith("data:") else {}
            if message.get("msg") == "process_completed":
                assert message["success"] is success, message
                return message["output"].get("data")
    raise AssertionError(f"{name}: the queue's stream ended without a result")


def test_uploads_leave_the_sessions_files_and_no_empty_temporary_file(page, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for name in ("s1.jpg", "q1.jpg", "q2.png"):
        cv2.imwrite(str(photos / name), rng.integers(0, 255, (60, 80, 3), dtype=np.uint8))
    mask = np.zeros((60, 80), np.uint8)
    mask[15:45, 20:60] = 255
    cv2.imwrite(str(photos / "s1_mask.png"), mask)
    (photos / "huge.png").write_bytes(png_declaring(12000, 9000))
    session, store = "one tab", page["store"]

    supports = [str(photos / name) for name in ("s1.jpg", "s1_mask.png")]
    outputs = _trigger(page, session, "add", [_upload(page["http"], supports), "clicks"])
    assert "s1.jpg: mask file" in outputs[4]
    assert [support.image.name for support in store.session(session).supports] == ["s1.jpg"]
    queries = [str(photos / name) for name in ("q1.jpg", "q2.png", "huge.png")]
    outputs = _trigger(page, session, "set_queries", [_upload(page["http"], queries)])
    assert "2 queries ready" in outputs[0] and "huge.png is 12000x9000" in outputs[1]
    again = _upload(page["http"], queries[:1])  # the field's files replaced by one: the others' copies go
    assert "1 query ready" in _trigger(page, session, "set_queries", [again])[0]

    mine = dict(again[0], path=str(photos / "q2.png"))  # a file on the server that is none of Gradio's uploads
    _trigger(page, session, "set_queries", [[mine]], success=False)  # refused by Gradio, unprocessed as processed

    state = store.session(session)
    assert [query.name for query in state.queries] == ["q1.jpg"]
    assert state.transfers == [again[0]["path"]]  # the copy Gradio keeps for the field, until the session ends
    assert [path for path in _files_in(page["gradio"]) if os.path.getsize(path) == 0] == []
    outside = [path for path in _files_in(page["gradio"]) if not path.startswith(state.folder + os.sep)]
    shown = [path for path in outside if os.path.basename(path).startswith("image.")]  # the support's picture
    assert len(shown) == 1 and sorted(set(outside) - set(shown)) == state.transfers
    store.close(session)
    assert _files_in(page["gradio"]) == shown  # Gradio's copy of an output: its delete_cache removes it
