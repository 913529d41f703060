"""Static facts about the five simulated vendors: names, URL prefixes, outcomes, status values."""

from __future__ import annotations

from collections.abc import Mapping

VENDORS: tuple[str, ...] = ("nitro", "pdfco", "alteryx", "apidatatools", "playment")

#: path prefix of each vendor's base URL on the API origin
PREFIXES: Mapping[str, str] = {
    "nitro": "/nitro",
    "pdfco": "/pdfco",
    "alteryx": "/alteryx/webapi",
    "apidatatools": "/apidatatools",
    "playment": "/playment",
}

OUTCOMES_ALL: tuple[str, ...] = ("succeeded", "failed", "canceled")

#: the outcomes each vendor really has (DESIGN.md, outcome table)
OUTCOMES: Mapping[str, tuple[str, ...]] = {
    "nitro": ("succeeded", "failed", "canceled"),
    "pdfco": ("succeeded", "failed", "canceled"),
    "alteryx": ("succeeded", "failed", "canceled"),
    "apidatatools": ("succeeded", "failed"),
    "playment": ("succeeded",),
}

#: non-terminal status values, in the order a job goes through them
PHASES: Mapping[str, tuple[str, ...]] = {
    "nitro": ("running",),
    "pdfco": ("working",),
    "alteryx": ("Created", "Queued", "Running"),
    "apidatatools": ("queued", "processing"),
    "playment": ("in_progress",),
}

#: a status string the vendor never documented (the ``unknown_status`` fault)
UNDOCUMENTED_STATUS: Mapping[str, str] = {
    "nitro": "suspended",
    "pdfco": "paused",
    "alteryx": "Suspended",
    "apidatatools": "deferred",
    "playment": "on_hold",
}

#: how many result files a job may have
MAX_RESULTS: Mapping[str, int] = {"nitro": 50, "pdfco": 50, "alteryx": 50, "apidatatools": 1, "playment": 1}

#: vendor-specific job options accepted by ``create_job`` (besides the common ones)
VENDOR_OPTIONS: Mapping[str, frozenset[str]] = {
    "nitro": frozenset({"error_type", "page_count"}),
    "pdfco": frozenset({"credits", "message"}),
    "alteryx": frozenset({"disposition", "formats", "error_message", "workflow_id"}),
    "apidatatools": frozenset({"retry_after", "error_code", "error_message"}),
    "playment": frozenset({"reference_id", "work_flow_id", "priority_weight"}),
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
    if vendor == "apidatatools":
        return f"apidatatools_convert_{job_id.replace('-', '')[:12]}.json", "application/json"
    return "result.json", "application/json"
