"""From the context to files: Markdown from a Jinja2 template, HTML from the Markdown, PDF from the HTML.

The words of the brief are in one template, `brief.md.j2`; `page.html.j2` and `brief.css` lay the
HTML out (and, through WeasyPrint, the PDF). A folder given as `templates` is searched first, so a
user changes the brief by copying a template there (`python -m sim.brief --copy-templates DIR`) and
editing it. Figures are copied beside brief.md and embedded in brief.html as data URIs, so the HTML
is one self-contained file.
"""

from __future__ import annotations

import base64
import html
import re
import shutil
from pathlib import Path

import jinja2
from markdown_it import MarkdownIt

from sim.core.files import atomic_write, write_text

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATES = ("brief.md.j2", "page.html.j2", "brief.css")
WIDE_TABLE_COLUMNS = 7  # a section holding a wider table is laid out on landscape pages


def environment(user_dir: Path | None) -> jinja2.Environment:
    folders = [str(user_dir)] if user_dir else []
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([*folders, str(TEMPLATE_DIR)]),
        undefined=jinja2.StrictUndefined,  # a misspelt name in a template is an error, not a blank
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # Markdown, not HTML; the HTML is escaped by the Markdown renderer
    )


def render_markdown(env: jinja2.Environment, context: dict) -> str:
    text = env.get_template("brief.md.j2").render(**context)
    return re.sub(r"\n{3,}", "\n\n", text)


def markdown_to_html(markdown: str) -> str:
    """The Markdown's HTML body, cut into sections: the title, then one per second-level heading; a
    section with a wide table gets class "wide" (landscape pages)."""
    body = MarkdownIt("commonmark", {"html": False, "typographer": False}).enable("table").render(markdown)
    # A range (35–41%) never breaks at its dash: a word joiner after the dash leaves the space
    # before the bracket as the only place a table cell may wrap.
    body = re.sub(r"(\d)\u2013(\d)", "\\1\u2013\u2060\\2", body)
    parts = re.split(r"(?=<h2>)", body)
    out = [f'<section id="title">\n{parts[0]}</section>\n']
    for part in parts[1:]:
        heading = re.match(r"<h2>(.*?)</h2>", part).group(1)
        anchor = re.sub(r"[^a-z0-9]+", "-", html.unescape(heading).lower()).strip("-")
        widest = max((len(re.findall(r"<th", t)) for t in re.findall(r"<tr>.*?</tr>", part, re.S)), default=0)
        css = ' class="wide"' if widest > WIDE_TABLE_COLUMNS else ""
        out.append(f'<section id="{anchor}"{css}>\n{part}</section>\n')
    return "".join(out)


def embed_figures(body: str, figure_paths: dict[str, Path]) -> str:
    """Replace src="figures/NAME.png" with the image's bytes as a data URI."""

    def data_uri(match: re.Match) -> str:
        path = figure_paths.get(match.group(1))
        if path is None:
            return match.group(0)
        encoded = base64.b64encode(path.read_bytes()).decode("ascii")
        return f'src="data:image/png;base64,{encoded}"'

    return re.sub(r'src="figures/([^"]+)"', data_uri, body)


def write_brief(context: dict, out_dir: Path, templates: Path | None, formats: tuple[str, ...]) -> tuple[dict, str]:
    """Write brief.md (with its figures) and brief.html; return the files written and the HTML page
    (which write_pdf prints)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    env = environment(templates)
    markdown = render_markdown(env, context)
    written = {}
    figure_paths = {f["file"]: f["path"] for f in context["figures"]}
    if "md" in formats:
        (out_dir / "figures").mkdir(exist_ok=True)
        for name, path in figure_paths.items():
            atomic_write(out_dir / "figures" / name, lambda p, src=path: shutil.copyfile(src, p))
        write_text(out_dir / "brief.md", markdown)
        written["md"] = out_dir / "brief.md"
    page = env.get_template("page.html.j2").render(
        title=context["title"],
        css=env.loader.get_source(env, "brief.css")[0],
        body=embed_figures(markdown_to_html(markdown), figure_paths),
    )
    if "html" in formats:
        write_text(out_dir / "brief.html", page)
        written["html"] = out_dir / "brief.html"
    return written, page


def write_pdf(page: str, path: Path) -> Path:
    """The HTML page as PDF, by WeasyPrint (which needs the Pango library of the system)."""
    try:
        import weasyprint
    except (ImportError, OSError) as err:  # OSError: WeasyPrint is installed but Pango is not
        raise RuntimeError(
            f"the PDF needs WeasyPrint and the Pango library ({err}); on Debian or Ubuntu: "
            "apt-get install libpango-1.0-0 libpangoft2-1.0-0. brief.md and brief.html are written; "
            "--formats md,html skips the PDF."
        ) from err
    document = weasyprint.HTML(string=page, base_url=str(path.parent)).render()
    atomic_write(path, lambda p: document.write_pdf(p))
    return path
