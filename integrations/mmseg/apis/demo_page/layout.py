"""The Gradio page of ``tools/demo.py``: components and the events that call the page's logic, nothing more.

Every event names its browser session (``gr.Request.session_hash``) and works on that session's state
alone (:class:`SessionStore`); what it shows comes from :mod:`drawing`, what it does from :mod:`supports`,
:mod:`queries` and :mod:`runs`.
"""
from __future__ import annotations

from typing import List, Optional

import gradio as gr

from crc_modules import FUSIONS
from crc_modules.kshot import KSHOT_MODES
from crc_modules.precision import PRECISIONS
from integrations.foundation import PROMPT_WEIGHTS_OPTION

from .drawing import ADD_HEX, BRUSH_OPACITY, REMOVE_HEX, editor_value, marks_picture, strokes
from .limits import UploadLimits
from .model import PageModel, RunSettings
from .queries import read_queries
from .runs import run_queries
from .sessions import Session, SessionStore
from .supports import add_supports

CLICKS, PAINT = "clicks", "paint"  # the two ways to mark a support, one tab each
PROGRESS = gr.Progress()  # Gradio hands each run its own tracker in place of this default
TOOL_LABELS = {"box": "Box: click two opposite corners", "positive": "+ point on the object",
               "negative": "− point on the background"}
CSS = """
.gradio-container {max-width: 1500px !important}
#messages-supports, #messages-queries, #messages-run {color: var(--body-text-color-subdued)}
#messages-run p, #messages-supports p, #messages-queries p {margin: 0.1em 0}
#results .grid-wrap.fixed-height {max-height: none}
"""


def _messages(messages: List[str]) -> str:
    return "\n".join(f"- {message}" for message in messages)


def _support_choices(session: Session) -> List[str]:
    return [f"{index + 1} · {support.image.name}" for index, support in enumerate(session.supports)]


def _support_status(session: Session) -> str:
    if not session.supports:
        return "No support yet: add 1-10 photos of the object (a `NAME_mask.png` uploaded with `NAME.jpg` is its mask)."
    return "\n".join(f"{index + 1}. {support.status()}" for index, support in enumerate(session.supports))


def _query_status(session: Session) -> str:
    if not session.queries:
        return "No query yet: upload the photos to segment, or one zip of them."
    names = ", ".join(query.name for query in session.queries[:8])
    more = f" and {len(session.queries) - 8} more" if len(session.queries) > 8 else ""
    return f"**{len(session.queries)} quer{'ies' if len(session.queries) > 1 else 'y'} ready**: {names}{more}"


def uploaded_paths(files) -> List[str]:
    """The paths of Gradio's copies of an upload field's files, from the field's value as its event receives it
    unprocessed: a FileData dict, a list of them, or paths (the page's own calls); none for an empty field.

    The page's upload events run with ``preprocess=False``: Gradio's File and UploadButton preprocessing (type
    "filepath") gives the same paths but opens an empty ``NamedTemporaryFile(delete=False)`` in Gradio's folder per
    file and per event and drops it (gradio/components/file.py and upload_button.py, ``_process_single_file``),
    one 0-byte file left per upload for as long as the page runs. Gradio still checks, unprocessed, that every path
    is one of its uploads before the event sees it.
    """
    if files is None:
        return []
    return [item["path"] if isinstance(item, dict) else str(item)
            for item in (files if isinstance(files, (list, tuple)) else [files])]


def build_page(model: PageModel, store: SessionStore, limits: UploadLimits, title: str, about: str) -> gr.Blocks:
    """The page over ``model``; ``title`` and ``about`` (Markdown) head it. Launch it with ``css=CSS``."""
    defaults = model.default_settings()
    clicks_help = (f"A box or clicks become a mask at once ({model.prompt_model}); paint over it to correct it."
                   if model.prompt_model
                   else "No SAM2 in this model: **a box becomes a filled rectangle** and clicks are off "
                        f"(a config's `{PROMPT_WEIGHTS_OPTION}` run option adds SAM2). Paint for a finer mask.")

    def to_editor(session: Session, index: Optional[int]):
        """The editor's value for support ``index`` (painting starts from its mask as shown), or empty."""
        if index is None or not 0 <= index < len(session.supports):
            return None
        session.supports[index].start_painting()
        return editor_value(session.supports[index])

    def support_view(session: Session, index: Optional[int], view: str):
        """Picker, editor, click picture, which support they show, and the status list. The editor is loaded only
        while its tab is open: loading it is the page's slowest step (the browser re-encodes its picture)."""
        choices = _support_choices(session)
        editor = to_editor(session, index) if view == PAINT else gr.update()
        if index is None or not session.supports:
            return (gr.update(choices=choices, value=None), editor, None, -1, _support_status(session))
        return (gr.update(choices=choices, value=choices[index]), editor, marks_picture(session.supports[index]),
                index, _support_status(session))

    def add(files, view, request: gr.Request):
        session = store.session(request.session_hash)
        with session.lock:
            before = len(session.supports)
            uploads = uploaded_paths(files)
            messages = add_supports(session.supports, uploads, session.subfolder("supports"), limits)
            store.remove_transfers(uploads)  # copied into the session's folder; the page shows none
            index = before if len(session.supports) > before else (len(session.supports) - 1 if session.supports
                                                                     else None)
            return (*support_view(session, index, view), _messages(messages), None)

    def pick(choice, view, request: gr.Request):
        session = store.session(request.session_hash)
        with session.lock:
            choices = _support_choices(session)
            return (*support_view(session, choices.index(choice) if choice in choices else None, view), "")

    def open_painting(shown, request: gr.Request):
        session = store.session(request.session_hash)
        with session.lock:
            return to_editor(session, shown), PAINT

    def paint(value, shown, request: gr.Request):
        session = store.session(request.session_hash)
        with session.lock:
            unchanged = gr.update(), gr.update(), gr.update()  # the editor reports back what the page sets too
            if value is None or not 0 <= shown < len(session.supports) or value.get("background") is None:
                return unchanged
            support = session.supports[shown]
            try:
                changed = support.paint(*strokes(value.get("layers") or [], support.preview.shape[:2]))
            except ValueError as err:
                return gr.update(), gr.update(), _messages([str(err)])
            return (marks_picture(support), _support_status(session), "") if changed else unchanged

    def click(tool_label, shown, event: gr.SelectData, request: gr.Request):
        """A click on the support (its tab is open, the editor's is not: the editor is loaded when it opens)."""
        session = store.session(request.session_hash)
        with session.lock:
            if not 0 <= shown < len(session.supports) or event.index is None:
                return gr.update(), gr.update(), ""
            tool = next(key for key, label in TOOL_LABELS.items() if label == tool_label)
            support = session.supports[shown]
            message = support.click(*event.index, tool, model.prompt_mask if model.prompt_model else None)
            return marks_picture(support), _support_status(session), _messages([message])

    def clear(shown, view, request: gr.Request):
        session = store.session(request.session_hash)
        with session.lock:
            if 0 <= shown < len(session.supports):
                session.supports[shown].clear()
            return (*support_view(session, shown if 0 <= shown < len(session.supports) else None, view), "")

    def remove(shown, view, request: gr.Request):
        session = store.session(request.session_hash)
        with session.lock:
            if 0 <= shown < len(session.supports):
                del session.supports[shown]
            index = min(shown, len(session.supports) - 1) if session.supports else None
            return (*support_view(session, index, view), "")

    def set_queries(files, request: gr.Request):
        session = store.session(request.session_hash)
        with session.lock:
            uploads = uploaded_paths(files)
            session.queries, messages = read_queries(uploads, session.subfolder("queries", fresh=True), limits)
            store.remove_transfers([path for path in session.transfers if path not in uploads])
            session.transfers = uploads  # listed by the upload field until replaced or the session ends
            return _query_status(session), _messages(messages)

    def run(kshot_mode, kshot_fusion, multi_scale, precision, request: gr.Request, progress=PROGRESS):
        session = store.session(request.session_hash)
        settings = RunSettings(kshot_mode, kshot_fusion, bool(multi_scale), precision)
        for update in run_queries(model, session, settings,
                                  lambda done, total, what: progress((done, total), desc=what, unit="queries")):
            yield (update.gallery, _messages(update.messages),
                   gr.update(value=update.zip_path, visible=update.zip_path is not None))

    def close(request: gr.Request):
        store.close(request.session_hash)

    with gr.Blocks(title=title, analytics_enabled=False, delete_cache=(3600, 3600)) as page:
        gr.Markdown(f"# {title}\n{about}", elem_id="about")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                gr.Markdown("### 1 · Supports: photos of the object, marked")
                with gr.Row():
                    add_button = gr.UploadButton("+ Add support photos",
                                                 file_count="multiple", variant="primary", elem_id="add-supports")
                    remove_button = gr.Button("Remove this support", size="md", elem_id="remove-support")
                picker = gr.Radio([], label="Support shown", elem_id="support-picker")
                shown = gr.Number(-1, visible=False, precision=0, elem_id="support-shown")
                view = gr.Textbox(CLICKS, visible=False, elem_id="mark-view")  # which tab marks the support
                with gr.Tabs(selected=CLICKS):
                    with gr.Tab("Box or clicks", id=CLICKS, elem_id="tab-clicks") as clicks_tab:
                        tool = gr.Radio(list(TOOL_LABELS.values()), value=TOOL_LABELS["box"], show_label=False,
                                        elem_id="click-tool")
                        gr.Markdown(clicks_help, elem_id="clicks-help")
                        picture = gr.Image(interactive=False, height=480, show_label=False, buttons=["fullscreen"],
                                           elem_id="support-clicks")
                    with gr.Tab("Paint", id=PAINT, elem_id="tab-paint") as paint_tab:
                        editor = gr.ImageEditor(
                            type="numpy", image_mode="RGBA", sources=(), transforms=(), layers=False,
                            format="png", height=520, label="Paint: green adds to the object, red removes from it",
                            brush=gr.Brush(colors=[(ADD_HEX, BRUSH_OPACITY), (REMOVE_HEX, BRUSH_OPACITY)],
                                           color_mode="fixed"),
                            elem_id="support-editor")
                with gr.Row():
                    clear_button = gr.Button("Clear this support's marks", size="md", elem_id="clear-marks")
                support_status = gr.Markdown(_support_status(Session("")), elem_id="support-status")
                support_messages = gr.Markdown(elem_id="messages-supports")
            with gr.Column(scale=2):
                gr.Markdown("### 2 · Queries: the photos to segment")
                query_files = gr.File(file_count="multiple", label="Query photos, or one zip of them",
                                      height=160, elem_id="queries")
                query_status = gr.Markdown(_query_status(Session("")), elem_id="query-status")
                query_messages = gr.Markdown(elem_id="messages-queries")
                gr.Markdown("### 3 · Settings (as tools/infer.py's flags)")
                kshot_mode = gr.Radio(list(KSHOT_MODES), value=defaults.kshot_mode, label="k-shot mode (--kshot-mode)",
                                      info="fusion: one prediction per support, fused; finetune: tune on the "
                                           "supports first (k > 1); both", elem_id="kshot-mode")
                kshot_fusion = gr.Radio(list(FUSIONS), value=defaults.kshot_fusion,
                                        label="Fusion (--kshot-fusion)", info="mean of probabilities, or HSNet's vote",
                                        elem_id="kshot-fusion")
                with gr.Row():
                    precision = gr.Radio(list(PRECISIONS), value=defaults.precision, label="Precision (--precision)",
                                         elem_id="precision")
                    multi_scale = gr.Checkbox(defaults.multi_scale, label="Multi-scale (--multi-scale)",
                                              elem_id="multi-scale")
                run_button = gr.Button("▶ Segment the queries", variant="primary", size="lg", elem_id="run")
        gr.Markdown("### 4 · Results")
        run_messages = gr.Markdown(elem_id="messages-run")
        gallery = gr.Gallery(label="Masks over the queries", columns=4, height="auto", object_fit="contain",
                             buttons=["fullscreen"], elem_id="results")
        download = gr.DownloadButton("Download all masks (.zip, named as tools/infer.py names them)", visible=False,
                                     variant="primary", elem_id="download")

        shown_support = [picker, editor, picture, shown, support_status]
        # the upload fields' values unprocessed (their files' paths read by uploaded_paths): no empty file per upload
        add_button.upload(add, [add_button, view], [*shown_support, support_messages, add_button], preprocess=False)
        picker.input(pick, [picker, view], [*shown_support, support_messages])
        paint_tab.select(open_painting, shown, [editor, view])
        clicks_tab.select(lambda: CLICKS, None, view)
        editor.input(paint, [editor, shown], [picture, support_status, support_messages], trigger_mode="always_last",
                     show_progress="hidden")
        picture.select(click, [tool, shown], [picture, support_status, support_messages])
        clear_button.click(clear, [shown, view], [*shown_support, support_messages])
        remove_button.click(remove, [shown, view], [*shown_support, support_messages])
        query_files.change(set_queries, query_files, [query_status, query_messages], preprocess=False)
        run_button.click(run, [kshot_mode, kshot_fusion, multi_scale, precision], [gallery, run_messages, download],
                         concurrency_limit=1)
        page.unload(close)
    return page
