"""lurker-analyzer --report: one self-contained HTML page over pcaps or JSON lines of records.

The numbers on the page are checked against the records the CLI prints for the same pcaps (KPIs, every bar of the
port, source and time charts, the service and handshake rings); the page from the pcaps and the page from their
JSON lines are the same; hostile bytes (markup, quotes, NUL, invalid UTF-8) come out as inert text; and headless
Chromium (Debian `chromium`) loads the page without console errors, finds the charts in the DOM and renders a
screenshot that is not blank."""
import collections
import html.parser
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
import zlib

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from lurkertest import BIN, ROOT  # noqa: E402

ANALYZER = os.path.join(BIN, "lurker-analyzer")
CORPUS = os.path.join(ROOT, "tests", "data", "report", "make_corpus.py")
CHROMIUM = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def run(*args, check=True):
    r = subprocess.run(list(args), capture_output=True, timeout=120)
    if args[0] == ANALYZER and (b"Sanitizer" in r.stderr or b"runtime error" in r.stderr):
        raise AssertionError("sanitizer report: %s" % r.stderr.decode(errors="replace"))
    if check and r.returncode != 0:
        raise AssertionError("%s failed (%d): %s" % (args, r.returncode, r.stderr.decode(errors="replace")))
    return r


class Page(html.parser.HTMLParser):
    """Collects the texts the checks need: KPI values, SVG <title>s per section, legend rows, payload blocks."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.section = None
        self.stack = []
        self.titles = collections.defaultdict(list)
        self.legend = collections.defaultdict(list)
        self.kpis = []
        self.pres = []
        self.tags = collections.Counter()
        self.text = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags[tag] += 1
        if tag == "section" or (tag == "div" and a.get("id") == "kpis"):
            self.section = a.get("id")
        if tag in ("title", "pre", "li") or (tag == "div" and a.get("class") in ("v", "l")):
            self.stack.append(tag)
            self.text = ""

    def handle_endtag(self, tag):
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()
            t = self.text.replace("\u2009", "")
            if tag == "title":
                self.titles[self.section].append(t)
            elif tag == "pre":
                self.pres.append(self.text)
            elif tag == "li":
                self.legend[self.section].append(t)
            elif tag == "div" and self.section == "kpis":
                self.kpis.append(t)
            self.text = None

    def handle_data(self, data):
        if self.text is not None:
            self.text += data


def parse(path):
    p = Page()
    with open(path, encoding="ascii") as f:  # the page is pure ASCII: attacker bytes cannot smuggle an encoding
        p.feed(f.read())
    return p


def counts(titles, pattern):
    out = {}
    for t in titles:
        m = re.fullmatch(pattern, t)
        if m:
            out[m.group(1)] = int(m.group(2))
    return out


def outcome(r):
    if r["proto"] == "udp":
        return "UDP"
    if r["proto"].startswith("icmp"):
        return "ICMP"
    if r["handshake"]:
        return "TCP handshake completed"
    if not r.get("tcp", {}).get("syn"):
        return "TCP without a SYN"
    return "SYN, then reset by the client (SYN scan)" if r["tcp"]["client_rst"] else "SYN never completed (spoofed or scan)"


def png_colours(path):
    """Distinct colours of an 8-bit RGB/RGBA PNG (zlib + the five scanline filters)."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            width, height, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), (depth, ctype)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, stride, prev, colours = zlib.decompress(idat), width * bpp, None, set()
    for y in range(height):
        ftype, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        prev = prev or bytearray(stride)
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 255
            elif ftype == 2:
                line[i] = (line[i] + b) & 255
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ftype == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        if y % 4 == 0:  # every fourth row is plenty to count colours
            colours.update(bytes(line[i:i + 3]) for i in range(0, stride, bpp * 2))
        prev = line
    return colours


class Report(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="lurker-report-")
        cls.corpus = os.path.join(cls.tmp, "archive")
        cls.nflows = int(run(sys.executable, CORPUS, cls.corpus, "--hostile").stdout)
        out = run(ANALYZER, cls.corpus).stdout.decode()
        cls.records = [json.loads(l) for l in out.splitlines()]
        cls.jsonl = os.path.join(cls.tmp, "flows.jsonl")
        with open(cls.jsonl, "w") as f:
            f.write(out)
        cls.from_pcaps = os.path.join(cls.tmp, "pcaps.html")
        cls.from_json = os.path.join(cls.tmp, "json.html")
        run(ANALYZER, "--report", cls.from_pcaps, cls.corpus)
        run(ANALYZER, "--report", cls.from_json, cls.jsonl)
        cls.page = parse(cls.from_pcaps)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_kpis_match_the_records(self):
        rs = self.records
        self.assertEqual(len(rs), self.nflows)
        values = self.page.kpis[0::2]
        labels = self.page.kpis[1::2]
        kpi = dict(zip(labels, values))
        self.assertEqual(int(kpi["flows"]), len(rs))
        self.assertEqual(int(kpi["distinct sources"]), len({r["src_addr"] for r in rs}))
        self.assertEqual(int(kpi["flows with payload"]), sum(1 for r in rs if r["payload_len"] > 0))
        self.assertEqual(int(kpi["packets"]), sum(r["packets"] for r in rs))
        done = sum(1 for r in rs if r["handshake"])
        self.assertEqual(kpi["handshakes completed"], "%.0f%%" % (100.0 * done / len(rs)))

    def test_port_and_source_bars_match_the_records(self):
        ports = collections.Counter("%d/%s" % (r["dst_port"], r["proto"]) for r in self.records)
        shown = counts(self.page.titles["ports"], r"(\S+): (\d+) flows")
        self.assertEqual(len(shown), 15)
        for label, n in shown.items():
            self.assertEqual(ports[label], n, label)
        self.assertEqual(min(shown.values()), sorted(ports.values(), reverse=True)[14])  # the top 15, no other
        sources = collections.Counter(r["src_addr"] for r in self.records)
        shown = counts(self.page.titles["sources"], r"(\S+): (\d+) flows")
        self.assertEqual(shown, {k: v for k, v in sources.items() if k in shown})
        self.assertEqual(sorted(shown.values(), reverse=True), sorted(sources.values(), reverse=True)[:15])

    def test_timeline_adds_up(self):
        bars = [re.fullmatch(r"(.+): (\d+) flows \((\d+) with a completed handshake\)", t)
                for t in self.page.titles["timeline"]]
        self.assertTrue(all(bars))
        self.assertEqual(sum(int(m.group(2)) for m in bars), len(self.records))
        self.assertEqual(sum(int(m.group(3)) for m in bars), sum(1 for r in self.records if r["handshake"]))
        # six hours of flows: 5-minute bars, the SYN flood's bucket the tallest
        self.assertEqual(bars[0].group(1), "2026-11-25 12:00")
        self.assertEqual(len(bars), 73)
        flood = max(bars, key=lambda m: int(m.group(2)))
        self.assertEqual(flood.group(1)[:13], "2026-11-25 17")

    def test_services_and_handshake_rings_match_the_records(self):
        services = collections.Counter(r["service"] for r in self.records if "service" in r)
        shown = counts(self.page.titles["services"], r"(.+): (\d+)")
        self.assertEqual(shown, dict(services))
        outcomes = collections.Counter(outcome(r) for r in self.records)
        shown = counts(self.page.titles["handshakes"], r"(.+): (\d+)")
        self.assertEqual(shown, dict(outcomes))
        self.assertEqual(shown["SYN never completed (spoofed or scan)"], 70)  # the corpus's SYN flood

    def test_json_lines_give_the_same_page(self):
        def body(path):
            with open(path) as f:
                return re.sub(r"generated [^<]*", "", f.read())
        self.assertEqual(body(self.from_pcaps), body(self.from_json))
        # and both kinds of input together: every flow twice
        both = os.path.join(self.tmp, "both.html")
        run(ANALYZER, "--report", both, self.jsonl, self.corpus)
        kpi = dict(zip(parse(both).kpis[1::2], parse(both).kpis[0::2]))
        self.assertEqual(int(kpi["flows"]), 2 * len(self.records))

    def test_recent_payloads_are_the_latest_and_escaped(self):
        latest = sorted((r for r in self.records if r["payload_len"] > 0), key=lambda r: r["init_time"],
                        reverse=True)[:25]
        self.assertEqual(len(self.page.pres), 25)
        for r, pre in zip(latest, self.page.pres):
            want = r["readable"].replace("\r", "").replace("\t", "    ").replace("\v", ".").replace("\f", ".")
            self.assertEqual(pre.removesuffix(" \u2026 (cut)"), want[:1024].rstrip("\n"))
        with open(self.from_pcaps, "rb") as f:
            raw = f.read()
        hostile = [p for p in self.page.pres if "alert(1)" in p]
        self.assertEqual(len(hostile), 1)
        self.assertTrue(hostile[0].endswith("]]>"), hostile[0])  # the closing blank lines are trimmed
        # the hostile bytes are there as text ...
        self.assertIn("GET /<script>alert(1)</script> HTTP/1.1", hostile[0])
        self.assertIn("\"'quoted'\" </textarea></pre><img src=x onerror=alert(2)>.NUL...( invalid UTF-8 &amp; <!-- --> ]]>",
                      hostile[0])
        # ... and nowhere as markup
        lowered = raw.lower()
        for needle in (b"<script", b"</textarea", b"<img", b"<!--", b"\x00"):
            self.assertFalse(needle in lowered, needle)
        self.assertEqual(self.page.tags["script"] + self.page.tags["img"] + self.page.tags["textarea"], 0)
        self.assertTrue(all(b < 0x80 for b in raw))

    def test_hostile_json_fields_are_escaped(self):
        evil = {"schema_version": 1, "init_ts": 1795608000, "init_time": "<b>\"2026\"</b>", "proto": "tcp",
                "src_addr": "<script>alert('src')</script>", "src_port": 1, "dst_port": 80, "handshake": True,
                "sensor": "\"><svg onload=alert(1)>", "service": "</title><script>alert(3)</script>",
                "payload_len": 40, "packets": 1, "readable": "</pre></textarea><script>alert(4)</script>\u0000\u00e9\ud7ff"}
        path = os.path.join(self.tmp, "evil.jsonl")
        extremes = [dict(evil, init_ts=ts) for ts in (1, 59, 2 ** 40 - 1, 2 ** 40, -5, 2 ** 62)]  # the time chart's edges
        with open(path, "w") as f:
            f.write(json.dumps(evil) + "\n" + "{not json\n" + "".join(json.dumps(e) + "\n" for e in extremes))
        out = os.path.join(self.tmp, "evil.html")
        r = run(ANALYZER, "--report", out, path, check=False)
        self.assertEqual(r.returncode, 1)  # the bad line is an error ...
        self.assertIn(b"evil.jsonl:2: not a JSON record", r.stderr)
        page = parse(out)  # ... but the page is written
        with open(out, "rb") as f:
            raw = f.read().lower()
        self.assertFalse(b"<script" in raw or b"<svg onload" in raw)
        self.assertEqual(page.tags["script"], 0)
        self.assertIn("<script>alert('src')</script>: 7 flows", page.titles["sources"])
        self.assertEqual(set(page.pres), {"</pre></textarea><script>alert(4)</script>" + "." * 6})  # NUL, 2+3 UTF-8 bytes
        bars = counts(page.titles["timeline"], r"(.+): (\d+) flows \(\d+ with a completed handshake\)")
        self.assertLessEqual(len(page.titles["timeline"]), 98)
        self.assertEqual(sum(bars.values()), 4)  # ts 1, 59, 2^40-1 and the first record's; the others are not charted

    def test_chromium_renders_the_page(self):
        self.assertTrue(shutil.which("chromium"), "Debian chromium is not installed (.ci/packages.d/report.txt)")
        url = "file://" + self.from_pcaps
        profile = tempfile.mkdtemp(dir=self.tmp)
        dom = run(*CHROMIUM, "--user-data-dir=" + profile, "--enable-logging=stderr", "--v=0", "--dump-dom", url)
        text = dom.stdout.decode()
        for section in ("timeline", "ports", "sources", "services", "handshakes", "payloads"):
            self.assertIn('id="%s"' % section, text)
        self.assertEqual(text.count("<svg"), 5)
        self.assertGreater(text.count("<rect"), 60)
        self.assertNotIn("<script", text.lower())
        log = dom.stderr.decode(errors="replace")
        self.assertEqual([l for l in log.splitlines() if "CONSOLE" in l or "Content Security Policy" in l
                          or "Uncaught" in l], [])
        png = os.path.join(self.tmp, "shot.png")
        profile = tempfile.mkdtemp(dir=self.tmp)
        run(*CHROMIUM, "--user-data-dir=" + profile, "--screenshot=" + png, "--window-size=1280,1600", url)
        self.assertGreater(os.path.getsize(png), 20000)
        colours = png_colours(png)
        self.assertGreater(len(colours), 50)  # text, bars of five colours, rings, antialiasing
        for rgb in ((0x3b, 0x82, 0xc4), (0x8c, 0x7a, 0xe6), (0x2f, 0x9e, 0x6e), (0xe8, 0xa3, 0x3d)):  # the charts
            self.assertIn(bytes(rgb), colours)


if __name__ == "__main__":
    unittest.main()
