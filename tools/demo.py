"""A page to segment your photos from a few marked examples, in the browser, for any hosted config.

    python tools/demo.py configs/crcnet_generated.py work_dirs/crcnet_generated/weights.pth [--port 7860]
        [--host 127.0.0.1] [--cfg-options k=v ...] [--device cuda] [--max-queries 100] [--max-file-mb 50]
        [--max-megapixels 64] [--cfg-options sam2_weights=sam2_hiera_large.pt]

Upload 1-10 support photos and mark the object on each (a mask file, painting, a box, clicks), upload the
photos to segment (or a zip), run with tools/infer.py's k-shot settings, look at the overlays and take one
zip of the masks, named as tools/infer.py names them. Private and offline: the page listens on 127.0.0.1
unless --host says otherwise, makes no share link, sends no analytics and loads nothing from outside;
each browser tab's files live in a temporary folder of its own, removed when the tab is closed, and the
page's whole temporary folder is removed when it stops (Ctrl-C).
"""
import argparse
import os
import os.path as osp
import shutil
import signal
import tempfile

from mmengine.config import Config, DictAction

from integrations.cli import run_tool
from integrations.mmseg.engine.checkpoint import UNSAFE_PICKLE_FLAG
from integrations.mmseg.engine.launch import configure_threads
from integrations.mmseg.engine.run_options import HOST_RUN_OPTIONS, resolve_config

# read by Gradio and huggingface_hub when they are imported: no analytics, no version check, no hub calls
PRIVATE_ENVIRONMENT = {"GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_SHARE": "False", "HF_HUB_OFFLINE": "1",
                       "HF_HUB_DISABLE_TELEMETRY": "1"}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="A page to segment your photos from a few marked examples")
    parser.add_argument("config", help="config file, e.g. configs/crcnet_generated.py")
    parser.add_argument("checkpoint", nargs="?",
                        help="weights (tools/train.py's weights.pth, a released checkpoint); optional where the "
                             "model has nothing trained")
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, default={},
                        help=f"override config entries, or the run options {', '.join(HOST_RUN_OPTIONS)} and "
                             "the weight files the config's model declares (an unknown key lists them)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 opens the page to "
                             "the network)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", type=int, help="longer side images are resized to (default: the config's test "
                                                 "size); a support whose object vanishes at it names the size to use")
    parser.add_argument("--max-queries", type=int, default=100, help="query photos per browser session")
    parser.add_argument("--max-file-mb", type=float, default=50, help="size of one uploaded file (or zip member)")
    parser.add_argument("--max-megapixels", type=float, default=64, help="pixels of one photo, in millions")
    parser.add_argument(UNSAFE_PICKLE_FLAG, action="store_true",
                        help="load a checkpoint that is not weights-only (a foreign or old full pickle) with the "
                             "full unpickler: this RUNS ANY CODE the file contains; only for files you trust")
    return parser.parse_args(argv)


def _stop(signum, frame):
    raise KeyboardInterrupt  # SIGTERM ends the page as Ctrl-C does: its temporary folder is removed


def main(argv=None) -> None:
    args = parse_args(argv)
    if not osp.isfile(args.config):
        raise FileNotFoundError(f"config file not found: {args.config}")
    os.environ.update(PRIVATE_ENVIRONMENT)
    root = tempfile.mkdtemp(prefix="crc-demo-")
    os.environ["GRADIO_TEMP_DIR"] = root  # Gradio's copies of uploads live beside the sessions' folders
    from integrations.mmseg.apis.demo_page.layout import CSS, build_page  # Gradio: after its environment is set
    from integrations.mmseg.apis.demo_page.limits import MEBIBYTE, UploadLimits
    from integrations.mmseg.apis.demo_page.model import PageModel
    from integrations.mmseg.apis.demo_page.sessions import SessionStore

    configure_threads()
    limits = UploadLimits(max_queries=args.max_queries, max_file_bytes=int(args.max_file_mb * MEBIBYTE),
                          max_pixels=int(args.max_megapixels * 1e6))
    store = SessionStore(osp.join(root, "sessions"), transfers_root=root)
    store.sweep_idle(600)
    signal.signal(signal.SIGTERM, _stop)
    try:
        cfg = resolve_config(Config.fromfile(args.config), args.cfg_options)
        model = PageModel(cfg, args.checkpoint, device=args.device, allow_full_pickle=args.unsafe_load_full_pickle,
                          size=args.size)
        weights = osp.basename(args.checkpoint) if args.checkpoint else "no checkpoint (frozen weight files only)"
        about = (f"Model `{osp.basename(args.config)}` with {weights}, on {args.device}. Mark the object on a few "
                 f"support photos, upload the photos to segment, run, take the masks. Everything stays on this "
                 f"machine: this tab's files are deleted when it is closed. Up to {limits.max_supports} supports "
                 f"and {limits.max_queries} queries, {limits.max_file_megabytes:.0f} MiB and "
                 f"{limits.max_megapixels:.0f} megapixels per photo.")
        page = build_page(model, store, limits, "Few-shot segmentation of your photos", about)
        page.launch(server_name=args.host, server_port=args.port, share=False, max_file_size=limits.max_file_bytes,
                    footer_links=[], enable_monitoring=False, ssr_mode=False, pwa=False, mcp_server=False,
                    show_error=False, css=CSS)
    except KeyboardInterrupt:
        pass
    finally:
        store.close_all()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    run_tool(main)
