"""What a file is (its type from its content) and what is inside it, and the transformations.

detect (type from magic bytes), limits (MediaLimits, Deadline), registry (types, parameters
validation), transforms (one job per type), jobs (run_job off the event loop, workspace),
metadata (extract_metadata); engines behind small interfaces: probe (PyAV), images
(Pillow), video (FFmpeg), documents (pypdfium2, python-docx, striprtf, TXT), language
(py3langid), ocr (RapidOCR); proc runs child processes under the limits.
"""
