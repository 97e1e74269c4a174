"""The logic of ``tools/demo.py``'s page, one job per file and no Gradio outside ``layout.py``.

``limits`` (what a session may upload), ``uploads`` (uploaded files -> checked images in a session's folder),
``zip_input`` (images out of an uploaded zip), ``supports`` (a support and how it is marked: mask file,
painting, box, clicks), ``drawing`` (what the page shows: marks over a support, overlays of results),
``sessions`` (one temporary folder per browser session, removed when it ends), ``model`` (the predictor,
loaded once and shared under a lock), ``runs`` (segmenting a session's queries, the masks zip) and
``layout`` (the Gradio page over them; Gradio comes with the ``[demo]`` extra). ``browser`` drives the page in
headless Chromium with Selenium (the ``[test]`` extra) for ``tools/analysis/demo_screenshot.py`` and the browser
tests. Nothing here is imported by ``integrations.mmseg.apis``: the host imports without Gradio or Selenium.
"""
