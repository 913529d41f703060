"""Static facts about the simulated vendors: names, URL prefixes, outcomes, status values.

``jobapi`` is the declared API: its paths and status values come from the profile it serves
(:mod:`.declared`); its phases here are the profile's states, not raw values."""

from __future__ import annotations

from collections.abc import Mapping

VENDORS: tuple[str, ...] = ("nitro", "pdfco", "alteryx", "apidatatools", "playment", "jobapi")

#: path prefix of each vendor's base URL on the API origin
PREFIXES: Mapping[str, str] = {
    "nitro": "/nitro",
    "pdfco": "/pdfco",
    "alteryx": "/alteryx/webapi",
    "apidatatools": "/apidatatools",
    "playment": "/playment",
    "jobapi": "/jobapi",
}

OUTCOMES_ALL: tuple[str, ...] = ("succeeded", "failed", "canceled")

#: the outcomes each vendor really has (DESIGN.md, outcome table)
OUTCOMES: Mapping[str, tuple[str, ...]] = {
    "nitro": ("succeeded", "failed", "canceled"),
    "pdfco": ("succeeded", "failed", "canceled"),
    "alteryx": ("succeeded", "failed", "canceled"),
    "apidatatools": ("succeeded", "failed"),
    "playment": ("succeeded",),
    "jobapi": ("succeeded", "failed", "canceled"),
}

#: non-terminal status values, in the order a job goes through them
PHASES: Mapping[str, tuple[str, ...]] = {
    "nitro": ("running",),
    "pdfco": ("working",),
    "alteryx": ("Created", "Queued", "Running"),
    "apidatatools": ("queued", "processing"),
    "playment": ("in_progress",),
    "jobapi": ("queued", "running"),
}

#: a status string the vendor never documented (the ``unknown_status`` fault)
UNDOCUMENTED_STATUS: Mapping[str, str] = {
    "nitro": "suspended",
    "pdfco": "paused",
    "alteryx": "Suspended",
    "apidatatools": "deferred",
    "playment": "on_hold",
    "jobapi": "sim-undocumented",
}

#: how many result files a job may have
MAX_RESULTS: Mapping[str, int] = {
    "nitro": 50,
    "pdfco": 50,
    "alteryx": 50,
    "apidatatools": 1,
    "playment": 1,
    "jobapi": 50,
}

#: vendor-specific job options accepted by ``create_job`` (besides the common ones)
VENDOR_OPTIONS: Mapping[str, frozenset[str]] = {
    "nitro": frozenset({"error_type", "page_count"}),
    "pdfco": frozenset({"credits", "message"}),
    "alteryx": frozenset({"disposition", "formats", "error_message", "workflow_id"}),
    "apidatatools": frozenset({"retry_after", "error_code", "error_message"}),
    "playment": frozenset({"reference_id", "work_flow_id", "priority_weight"}),
    "jobapi": frozenset({"error_message", "retry_after"}),
}
#: ``hold``: the job stays running until a ``POST /_sim/finish`` finishes it
COMMON_OPTIONS: frozenset[str] = frozenset({"results", "link_ttl", "content_type", "hold"})

NITRO_ERROR_TYPES: Mapping[str, str] = {
    "ConversionFailed": "Conversion failed",
    "BrokenDownloadURL": "Broken download URL",
    "PDFIsPasswordProtected": "PDF is password protected",
}

ALTERYX_FORMATS: frozenset[str] = frozenset(
    {"Raw", "Yxdb", "Shp", "Kml", "Tab", "Mif", "Dbf", "Csv", "Pdf", "Docx", "Xlsx", "Html", "Tde", "Zip"}
)

#: largest result file the simulator generates
MAX_RESULT_BYTES = 512 * 1024 * 1024


def result_name(vendor: str, job_id: str, index: int, count: int) -> tuple[str, str]:
    """(file name, content type) of result ``index`` (0-based) of ``count``."""
    if vendor in ("nitro", "pdfco"):
        return ("result.pdf" if index == 0 else f"result-{index + 1}.pdf"), "application/pdf"
    if vendor == "alteryx":
        return ("output.csv" if index == 0 else f"output_{index + 1}.csv"), "text/csv"
    if vendor == "jobapi":
        return ("output.txt" if index == 0 else f"output-{index + 1}.txt"), "text/plain"
    if vendor == "apidatatools":
        return f"apidatatools_convert_{job_id.replace('-', '')[:12]}.json", "application/json"
    return "result.json", "application/json"
