"""`virtspec doc`: the Markdown and HTML reference of a spec.

Spec strings are data: a hostile doc, cite or file name must come out literally, never as
markup, a link, a table cell or a template. Every construct appears with its cite and
source line; SVG is well-formed; the output is deterministic; `--check` finds staleness;
bad input gives exit 1 (spec errors) or 2 (usage), never a traceback."""
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from codegen.cli import main
from codegen.frontend.diagnostics import DiagnosticBag
from codegen.frontend.parse import parse_text
from codegen.frontend.pipeline import compile_spec
from codegen.generate import doc
from codegen.generate.emit import output_name

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "specs").glob("*.vspec"))

# Everything Markdown, HTML or jinja2 might act on, in one spec string.
HOSTILE = (r"<script>alert(1)</script> & \"q\" 'a' | cell | `tick` *b* _i_ [l](javascript:alert(1)) "
           r"<!-- --> {{ 7*7 }} {% if 1 %}IF{% endif %} ![img](x.png) <img src=x onerror=alert(1)>\n# H1\n- item")
HOSTILE_TEXT = HOSTILE.replace('\\"', '"').replace("\\n", "\n")  # what the spec string holds

SPEC = """
spec hostile cite "H" "H";
param P = 1 cite "H" "H";
enum kinds : 2 cite "H" "H" { GO = 1 "H"; STOP = 2 "H"; }
register PTBR : 64 cite "H" "H" { BASE [39:12] "H"; }
format bits : 64 cite "H" "H" { V [0] "H"; W [1] "H"; L [2] "H"; A [5] "H"; K [4:3] enum kinds "H"; ignored [11:6] "H"; }
format pte : 64 cite "H" "H" { include bits; ADDR [39:12] "H"; reserved [63:40] "H"; }
format big : 64 cite "H" "H" { include bits; reserved [20:12] "H"; ADDR [39:21] "H"; reserved [63:40] if P "H"; }
format wide : 128 cite "H" "H" { LO [63:0] "H"; reserved [95:64] "H"; ignored [126:96] "H"; TOP [127] "H"; }
regime toy cite "H" "H" {
    input va : 30 "H";
    access write;
    context PTBR;
    entry 8;
    root PTBR.BASE << 12 cite "H";
    start level 2 cite "H";
    pointer ADDR;
    frame ADDR;
    level 2 top cite "H" "H" { index va[29:21]; table pte; leaf big when L page 2M; }
    level 1 bottom cite "H" "H" { index va[20:12]; leaf pte page 4K; }
    fault invalid when !V cite "H" "H";
    fault reserved when rsvd cite "H" "H";
    accumulate w = 1 then w && W cite "H" "H";
    let denied = access.write && !w cite "H" "H";
    check write_protect when denied cite "H" "H";
    set A at each level cite "H";
    record fault_info cite "H" "H" { code : 8 = fault "H"; bits : 8 { WP [0] = denied "H"; } addr : 64 = va "H"; }
    cache tlb holds translations cite "H" "H" {
        tag space = PTBR.BASE[19:12] cite "H";
        global when leaf.W ignores space cite "H";
        entries 4 ways 4;
        replace fifo;
        pages whole;
    }
    invalidate flush (addr : 30) cite "H" "H" {
        drop tlb when covers(addr) && !entry.global && entry.space == space;
        set PTBR = addr;
    }
}
register TABLE : 64 cite "H" { BASE [39:12] "H"; }
unit dev cite "H" "H" {
    event { kind : 2 enum kinds "H"; addr : 30 "H"; }
    context TABLE;
    structure ent : 16 at TABLE.BASE << 12 cite "H" "H" { word at 0 : pte "H"; extra at 8 : 64 cite "H" "H"; }
    bitmap allowed : 1 at ent.extra index event.addr[7:0] when event.kind == kinds.GO cite "H" "H";
    walk io : toy input event.addr access { write = 1; } with { PTBR = ent.word.ADDR << 12; } when ent.word.V cite "H" "H";
    let ok = io.ok && allowed != 0 cite "H" "H";
    record result cite "H" "H" { pa : 64 "H"; code : 2 enum kinds store ent.extra when !ok "H"; }
    exit go when ok cite "H" "H" { pa = io.pa "H"; code = kinds.GO; }
    exit stop when event.kind == kinds.STOP cite "H" "H" { code { a [1:0] = 2 "H"; } }
}
""".replace('"H"', '"' + HOSTILE + '"')

HTML_TAGS = {"html", "head", "meta", "title", "style", "body", "main", "header", "nav", "section", "div", "h1",
             "h2", "h3", "h4", "p", "span", "b", "br", "code", "pre", "a", "table", "thead", "tbody", "tr", "th",
             "td", "dl", "dt", "dd", "svg", "defs", "pattern", "rect", "line", "path", "circle", "g", "text"}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    path = tmp_path_factory.mktemp("hostile") / "hostile.vspec"
    path.write_text(SPEC)
    bag = DiagnosticBag()
    spec = compile_spec(path, bag)
    return path, spec, doc.render(spec)


class Tags(HTMLParser):
    """Every tag and attribute of a page, and its text as a browser would show it."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_data(self, data):
        self.text.append(data)


def test_caches_and_invalidations_appear_with_cite_and_source(shipped):
    """Each cache (geometry, tags, global rule) and each invalidation (its drops and
    register writes) is a row of its translation's overview, with cites and source."""
    seen = 0
    for spec, _ in shipped:
        out = doc.render(spec)
        stem = output_name(spec)
        html, md = out[f"{stem}.html"], md_unescape(out[f"{stem}.md"])
        text = "".join(parse_html(html).text)
        own = [t for t in (*spec.regimes, *spec.nested) if t.span.path == spec.span.path]
        for top in own:
            for c in top.caches:
                for shown in (text, md):
                    assert f"cache {c.name}" in shown and f"{c.entries} entries, {c.ways} ways" in shown
                    assert f"{c.span.path}:{c.span.line}" in shown and c.cite in shown
                    assert all(f"cache {c.name} tag {t.name}" in shown for t in c.tags)
                seen += 1
            for v in top.invalidations:
                for shown in (text, md):
                    assert f"invalidate {v.name}(" in shown and f"{v.span.path}:{v.span.line}" in shown
                    assert v.cite in shown
                    assert all(f"then set {b.name} =" in shown for b in v.sets)
    # x86_64_paging (tlb, psc), amd_npt (tlb, pwc, ntlb, npwc), intel_ept (tlb, psc, gpm, epsc), amd_iommu's
    # guest_long_mode (x86.long_mode's tlb and psc: an instance keeps its base's caches, used at a spec's top only)
    assert seen == 12
    md = md_unescape(doc.render(next(s for s, _ in shipped if s.name == "intel_ept"))["intel_ept.md"])
    assert "`!entry.global && entry.vpid == vpid_op`" not in md  # that drop also reads the VPID operand
    assert "`entry.vpid == vpid_op && !entry.global`" in md
    npt = md_unescape(doc.render(next(s for s, _ in shipped if s.name == "amd_npt"))["amd_npt.md"])
    assert "| cache npwc | holds host tables of levels 5, 4, 3, 2: 16 entries, 4 ways" in npt


def parse_html(text: str) -> Tags:
    t = Tags()
    t.feed(text)
    return t


def md_unescape(text: str) -> str:
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)


def table_rows(md: str) -> list[list[str]]:
    """The Markdown tables, each as its lines (outside fenced code blocks)."""
    tables, current, fenced = [], [], False
    for line in md.split("\n"):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    return tables + ([current] if current else [])


def cells(line: str) -> int:
    """Cells of a GFM table row: pipes not escaped by a backslash (inside code spans too)."""
    return len(re.findall(r"(?<!\\)\|", line))


# ---- injection

def test_html_has_no_markup_from_spec_strings(hostile):
    _, _, out = hostile
    page = parse_html(out["hostile.html"])
    assert {tag for tag, _ in page.tags} <= HTML_TAGS
    for tag, attrs in page.tags:
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name)
            assert not (value or "").lower().startswith("javascript:"), (tag, name, value)
    assert "<script" not in out["hostile.html"] and "<img" not in out["hostile.html"]
    # the strings themselves are all there, literally (jinja2 did not evaluate `{{ 7*7 }}`)
    shown = "".join(page.text)
    assert HOSTILE_TEXT in shown
    assert shown.count("{% if 1 %}IF{% endif %}") >= 60


def test_markdown_has_no_markup_from_spec_strings(hostile):
    _, _, out = hostile
    md = out["hostile.md"]
    body = md.split("-->", 1)[1]  # after the header comment
    for raw in ("<script", "<img", "<!--", "[l](", "![img]", "`tick`", "*b*", "_i_", "{{", "{%"):
        assert not re.search(r"(?<!\\)" + re.escape(raw), body), raw
    assert "\n# H1" not in md and "\n- item" not in md
    headings = [line for line in md.split("\n") if line.startswith("#")]
    assert all(re.match(r"#{1,4} [A-Za-z]", h) for h in headings), headings
    # the text itself survives, newlines as spaces
    assert HOSTILE_TEXT.replace("\n", " ") in md_unescape(md)
    # a `|` in a doc does not add a table cell
    for table in table_rows(md):
        assert len({cells(row) for row in table}) == 1, table


def test_hostile_file_name(tmp_path):
    """A spec named by its file (no `spec` line) with quotes, tags and ampersands."""
    name = 'we"ird <b>&x'
    path = tmp_path / f"{name}.vspec"
    path.write_text(SPEC.replace("spec hostile cite", "param Q = 1 cite", 1))
    out = tmp_path / "out"
    assert main(["doc", str(path), "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted([f"{name}.md", f"{name}.html", "index.md", "index.html"])
    for page in (f"{name}.html", "index.html"):
        html = (out / page).read_text()
        tags = parse_html(html).tags
        assert {tag for tag, _ in tags} <= HTML_TAGS
        assert "<b>&x" not in html and "we\"ird" not in html
        hrefs = [v for _, attrs in tags for k, v in attrs if k == "href" and not v.startswith("#")]
        assert all(re.fullmatch(r"[A-Za-z0-9_.%~-]+", h) for h in hrefs), hrefs
    index_md = (out / "index.md").read_text()
    assert "(we%22ird%20%3Cb%3E%26x.md)" in index_md


# ---- contents

@pytest.fixture(scope="module")
def shipped():
    return [(compile_spec(p), p) for p in SHIPPED]


@pytest.fixture(scope="module")
def toys():
    """The test specs: level skipping, page sizes from the entry, units that walk."""
    return [(compile_spec(p), p) for p in sorted((ROOT / "tests" / "data").glob("*.vspec"))]


def test_every_construct_appears_with_cite_and_source(shipped):
    for spec, _ in shipped:
        out = doc.render(spec)
        stem = output_name(spec)
        html, md = out[f"{stem}.html"], md_unescape(out[f"{stem}.md"])
        text = "".join(parse_html(html).text)
        constructs = list(spec.layouts) + list(spec.enums) + list(spec.regimes) + list(spec.nested) + list(spec.units)
        constructs += [r.record for r in spec.regimes] + [n.record for n in spec.nested] + [u.record for u in spec.units]
        constructs += [x for u in spec.units for x in u.exits] + [lv for r in spec.regimes for lv in r.levels]
        for node in constructs:
            where = f"{node.span.path}:{node.span.line}"
            for shown in (text, md):
                assert node.name in shown, node.name
                assert where in shown, (node.name, where)
                if node.cite:
                    assert node.cite in shown, (node.name, node.cite)
        for lay in spec.layouts:
            assert f'id="{lay.kind}-{lay.name}"' in html
            for f in lay.fields:
                assert f"{f.name}" in md


def test_svg_is_well_formed(shipped, toys, hostile):
    pages = [doc.render(spec)[f"{output_name(spec)}.html"] for spec, _ in shipped + toys]
    pages.append(hostile[2]["hostile.html"])
    for html in pages:
        svgs = re.findall(r"<svg\b.*?</svg>", html, re.DOTALL)
        assert svgs
        for svg in svgs:
            root = ET.fromstring(svg)
            assert root.tag == "{http://www.w3.org/2000/svg}svg"
            assert int(root.get("width")) > 0 and int(root.get("height")) > 0


def test_multiword_entries_are_drawn_word_by_word(hostile):
    html = hostile[2]["hostile.html"]
    wide = re.search(r'id="format-wide".*?(<svg\b.*?</svg>)', html, re.DOTALL)[1]
    labels = re.findall(r">(\+0x[0-9A-F]{2})<", wide)
    assert labels == ["+0x00", "+0x04", "+0x08", "+0x0C"]
    assert "[127:96]" in wide and "reserved" in wide and "ignored" in wide


def _documented_expressions(u) -> list:
    """A unit's expressions but those of the steps a call inlined: the caller's docs show the
    call with its bindings, and the callee's steps are documented in the callee's own spec."""
    inlined = {id(x) for kind, nodes in (("structure", u.structures), ("bitmap", u.bitmaps), ("walk", u.walks))
               for n in nodes if u.call_of(n.name) is not None
               for x in ((n.base, n.when) if kind == "structure" else (n.base, n.index, n.span_bits, n.when)
                         if kind == "bitmap" else (n.input, n.when, *(b.value for b in n.access + n.context)))}
    inlined |= {id(x) for c in u.calls for x in c.expressions()}  # the callee's rules, decided inside the call
    return [x for x in u.expressions() if id(x) not in inlined] + [b.value for c in u.calls for b in c.event + c.context]


def test_one_diagram_per_layout_and_address_split(shipped):
    for spec, _ in shipped:
        html = doc.render(spec)[f"{output_name(spec)}.html"]
        records_with_bits = sum(1 for r in [x.record for x in spec.regimes + spec.nested] + [u.record for u in spec.units]
                                for f in r.fields if getattr(f, "bits", ()))
        small = sum(1 for u in spec.units for s in u.structures
                    if s.size <= doc.DIAGRAM_MAX_STRUCT_BYTES and u.call_of(s.name) is None)
        want = len(spec.layouts) + sum(1 for r in spec.regimes if r.leaf_levels) + records_with_bits + small
        assert html.count("<svg") == want


def test_expressions_print_back_in_spec_syntax(shipped):
    """Every printed expression parses again; literals, names and lets come back as written."""
    by_name = {Path(p).stem: doc.render(spec) for spec, p in shipped}
    x86 = by_name["x86_64_paging"]["x86_64_paging.md"]
    assert "`CR4.LA57 ? 5 : 4`" in x86 and "`CR3.BASE << 12`" in x86
    assert "when `pk_denied`" in x86  # a let's name, not its body
    assert "`access.fetch && (CR4.SMEP \\|\\| EFER.NXE)`" in x86  # parentheses kept where needed
    assert "`fault != not_present`" in x86  # a fault kind's name, not its number
    assert "`0x400`" in by_name["amd_npt"]["amd_npt.md"]  # the literal's base
    assert "`vmx_exit.SIPI`" in by_name["intel_vmx"]["intel_vmx.md"]  # the enum of the record field
    for spec, _ in shipped:
        p = doc.ExprPrinter(spec)
        exprs = [x for u in spec.units for x in u.expressions()]
        for r in spec.regimes:
            exprs += [r.root, r.start] + [x.when for x in r.faults + r.checks] + [a.then for a in r.accumulators]
        for e in exprs:
            text = p.text(e)
            for form in (text.flat, " ".join(text.lines)):
                bag = DiagnosticBag()
                assert parse_text(f"spec t; param X = {form};", "<t>", bag) is not None, (form, bag.render())


def test_long_expressions_are_broken_at_operators(shipped):
    for spec, _ in shipped:
        p = doc.ExprPrinter(spec)
        exprs = [x for u in spec.units for x in _documented_expressions(u)] + [x.value for o in spec.regimes + spec.units
                                                                                for x in o.let_defs]
        exprs += [x.when for r in spec.regimes for x in r.faults + r.checks]
        exprs += [lv.page_shift_expr for r in spec.regimes for lv in r.levels if lv.page_shift_expr is not None]
        for e in exprs:
            text = p.text(e)
            assert max(len(line) for line in text.lines) <= doc.EXPR_WIDTH, text.block
            assert " ".join(x.strip() for x in text.lines).replace("( ", "(") == text.flat


# ---- determinism and the command line

def test_docs_are_deterministic(tmp_path, hostile):
    path, spec, out = hostile
    assert doc.render(compile_spec(path)) == out
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["doc", str(path), "-o", str(a)]) == 0
    assert main(["doc", str(path), "-o", str(b)]) == 0
    for f in a.iterdir():
        text = f.read_text()
        assert text == (b / f.name).read_text()
        assert str(path.parent) not in text and str(tmp_path) not in text  # no absolute paths
    assert spec.sha256 in (a / "hostile.md").read_text()


def test_check_detects_stale_docs(tmp_path, capsys):
    spec = tmp_path / "toy.vspec"
    spec.write_text((ROOT / "tests" / "data" / "toy.vspec").read_text())
    out = tmp_path / "docs"
    assert main(["doc", str(spec), "-o", str(out), "--check"]) == 1  # nothing there yet
    assert not out.exists()
    assert main(["doc", str(spec), "-o", str(out)]) == 0
    assert main(["doc", str(spec), "-o", str(out), "--check"]) == 0
    capsys.readouterr()
    spec.write_text(spec.read_text().replace('"a 2-MiB frame is 2-MiB aligned"', '"changed"'))
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert main(["doc", str(spec), "-o", str(out), "--check"]) == 1
    err = capsys.readouterr().err
    assert "stale:" in err and "toy_paging.md" in err and "toy_paging.html" in err  # the declared name
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # --check writes nothing
    assert main(["doc", str(spec), "-o", str(out)]) == 0
    assert main(["doc", str(spec), "-o", str(out), "--check"]) == 0


def test_bad_spec_exits_1_with_diagnostics(tmp_path, capsys):
    spec = tmp_path / "bad.vspec"
    spec.write_text((ROOT / "tests" / "data" / "toy.vspec").read_text().replace("when !V;", "when !VV;"))
    out = tmp_path / "docs"
    assert main(["doc", str(spec), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "error[E0301]" in err and "Traceback" not in err
    assert not out.exists()


def test_usage_errors_exit_2(tmp_path, capsys):
    assert main(["doc", str(tmp_path / "missing.vspec"), "-o", str(tmp_path / "d")]) == 2
    assert "no such spec file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["doc", "--bogus"])
    assert exc.value.code == 2


def test_a_spec_named_index_is_refused(tmp_path, capsys):
    """The docs are keyed by the declared name: `spec index;` would replace the index
    (an input error, exit 1, before anything is written); a file index.vspec that
    declares another name is documented under that name."""
    index = tmp_path / "index.vspec"
    index.write_text((ROOT / "tests" / "data" / "toy.vspec").read_text())
    assert main(["doc", str(index), "-o", str(tmp_path / "d")]) == 0
    assert (tmp_path / "d" / "toy_paging.md").is_file()
    index.write_text(index.read_text().replace("spec toy_paging;", "spec Index;"))
    assert main(["doc", str(index), "-o", str(tmp_path / "e")]) == 1
    err = capsys.readouterr().err
    assert "index.vspec:1:1: error[E0203]: the spec name 'Index' is reserved here" in err
    assert not (tmp_path / "e").exists()


def test_shipped_docs_are_fresh():
    """docs/ is checked in; CI runs `virtspec doc --check` as well."""
    assert main(["doc", "--check"]) == 0


def github_slugs(md: str) -> set[str]:
    """The anchors GitHub gives the headings of a page (outside code blocks)."""
    seen: dict[str, int] = {}
    out, fenced = set(), False
    for line in md.split("\n"):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if not fenced and re.match(r"#{1,6} ", line):
            slug = re.sub(r"[^\w\- ]", "", md_unescape(line.lstrip("#").strip()).lower()).replace(" ", "-")
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def test_internal_links_resolve(shipped, toys, hostile):
    outputs = [doc.render(spec) for spec, _ in shipped + toys] + [hostile[2]]
    for out in outputs:
        for name, text in out.items():
            if name.endswith(".md"):
                links = set(re.findall(r"\]\(#([^)]+)\)", text))
                assert links and links <= github_slugs(text), (name, links - github_slugs(text))
            else:
                ids = re.findall(r'\bid="([^"]+)"', text)
                assert len(ids) == len(set(ids)), name
                hrefs = set(re.findall(r'href="#([^"]+)"', text))
                assert hrefs and hrefs <= set(ids), (name, hrefs - set(ids))


def test_pointer_and_frame_maps_are_documented(shipped):
    """A bare field stays `frame field ADDR`; a map of terms and a leaf's own map are
    printed as written (legacy32's 4-MByte PDE: PSE-36 address bits 39:32 in ADDR_HI)."""
    spec = next(s for s, p in shipped if Path(p).stem == "x86_64_paging")
    md = doc.render(spec)["x86_64_paging.md"]
    assert "| frame map of level 2 pd | ADDR \\| ADDR\\_HI \\<\\< 32 (" in md
    assert md.count("| pointer field | ADDR (") == 2  # legacy32 and long_mode
    toy = doc.render(compile_spec(Path(__file__).resolve().parents[1] / "data" / "toy_frame_terms.vspec"))
    assert "| pointer map | PPN \\<\\< 12 (" in toy["toy_frame_terms.md"]


def test_a_per_format_fault_is_documented_with_its_format():
    """`fault misaligned at leaf big ...`: the fault list names the format, and the level
    table lists it only where `big` is the leaf (issue 14 item 7)."""
    md = doc.render(compile_spec(Path(__file__).resolve().parents[1] / "data" / "toy_format_fault.vspec"))
    text = md["toy_format_fault.md"]
    assert "`misaligned` (leaf entries of format big)" in text and "`limited` (table entries of format dir)" in text
    assert "pointer: all but misaligned; leaf: all but limited" in text  # level 2: dir pointers, big leaves
    assert "| 4 KiB | leaf: invalid, reserved |" in text  # level 1: page leaves, neither


def test_input_faults_builtins_and_every_record_are_documented():
    """Faults before the walk are listed with their record, in spec syntax (a builtin
    call as written), and every record of a regime has its section."""
    spec = compile_spec(Path(__file__).resolve().parents[1] / "data" / "toy_input_check.vspec")
    pages = doc.render(spec)
    md = next(text for name, text in pages.items() if name.endswith(".md"))
    html = next(text for name, text in pages.items() if name.endswith(".html"))
    assert "#### Faults before the walk" in md and "<h4>Faults before the walk</h4>" in html
    assert "`non_canonical` (record bad\\_va): when `va != sext(va, 32 + MODE.VX)`" in md
    assert "`too_wide` (record hfault): when `gpa[39:30] != 0`" in md
    assert all(f"#### record {name}" in md for name in ("gfault", "bad\\_va", "hfault", "nfault"))


def test_a_call_is_one_step_with_its_unit_results_and_bindings():
    """tests/data/toy_call.vspec: the call shows its callee, what the caller reads of it,
    its condition and bindings; the callee's inlined steps (io_dte, io_io, io_log) are its
    own spec's to document, not the caller's."""
    spec = compile_spec(Path(__file__).resolve().parents[1] / "data" / "toy_call.vspec")
    md = md_unescape(doc.render(spec)["toy_call.md"])
    assert "#### call io" in md and "| unit | d.toy_io (it decides here" in md
    assert "io.called, io.exit, io.invalid_device, io.passthrough, io.translated, io.page_fault, io.pa" in md
    assert "| called when | `fne.word.EN`" in md and "| `dev` | `fne.word.RID` |" in md
    assert not any(f"#### {k} io_{n}" in md for k, n in (("structure", "dte"), ("walk", "io"), ("structure", "log")))
    assert md.index("#### structure fne") < md.index("#### call io") < md.index("#### structure seen")


def test_a_call_cache_is_documented_with_its_call():
    """tests/data/toy_call_cache.vspec: the cache in front of call io is shown in the call's
    step with its key and page, tags, fill condition and the drops of its invalidations."""
    spec = compile_spec(Path(__file__).resolve().parents[1] / "data" / "toy_call_cache.vspec")
    md = md_unescape(doc.render(spec)["toy_call_cache.md"])
    call = md[md.index("#### call io"):]
    assert "| cache answers | holds call io: 8 entries, 2 ways (4 sets), replace lru" in call
    assert "| cache answers key | `event.addr` (page 12: an entry covers the 2^12-byte piece that holds it) |" in call
    assert "| cache answers fill when | `io.translated || io.passthrough || io.page_fault`" in call
    assert "drop answers when | `within(addr, size)`" in call
