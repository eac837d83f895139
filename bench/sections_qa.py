"""Retrieval on structured documents: token windows against section-bounded chunks, with and without the
section path prepended to the embedded text.

    .venv/bin/python bench/sections_qa.py [--size 254] [--overlap 64] [--out DIR] [--scifact]

The corpus is generated here: four manuals with headings (a coffee-machine service guide and an irrigation
controller guide in Markdown, an employee handbook in DOCX, a language reference in HTML), 46 sections, and 40
questions, each with a phrase its answer passage holds (no other passage, but for two generic questions that
every machine's chapter answers alike). The guides repeat one structure per model
("Descaling", "Error codes" under each machine) with different facts, as product manuals do, so some answers
can only be told apart by the section they are in; other questions ask for one fact in a long section.

Each document goes through vecflow's own parser (`parse_document`: the headings each format yields), chunker
(`chunk_text`, the model's tokenizer), embedder (the local all-MiniLM-L6-v2) and Milvus adapter (`MilvusIndex`
on a temporary milvus-lite file, the search the service runs), in four variants: token_window or section mode,
and the chunk text embedded as it is or as "<section path>\\n\\n<chunk text>" (BM25 always indexes the chunk text
alone). A question is answered at rank r when the r-th hit holds its answer phrase; recall@5 and MRR@10 are
reported for dense, keyword and hybrid (RRF) search.

--scifact instead chunks the SciFact corpus (../shared/data/scifact, each document as the service parses
"<id>.txt": no headings) in both modes and compares the chunks: identical chunks embed and rank identically.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "server")]

from vecflow.pipeline import chunk as chunking  # noqa: E402
from vecflow.pipeline.chunk import chunk_text  # noqa: E402
from vecflow.pipeline.embed.local import LocalEmbedder  # noqa: E402
from vecflow.pipeline.parse import parse_document  # noqa: E402
from vecflow.vectors.milvus import MilvusIndex  # noqa: E402

# --------------------------------------------------------------------------------------------------------------
# The corpus


@dataclass
class Section:
    level: int
    title: str
    paragraphs: list[str] = field(default_factory=list)


@dataclass
class Manual:
    name: str  # file name; its suffix picks the format
    title: str
    sections: list[Section]


COFFEE_MODELS = [
    # model, descale cups, tank litres, grinder steps, E2, E4, E7, milk part, power watts, weight kg
    (
        "Brewmaster B100",
        "200",
        "1.2",
        "5",
        "the drip tray is full",
        "the bean hopper lid is open",
        "the pump is dry",
        "the steam wand",
        "1350",
        "7.1",
    ),
    (
        "Brewmaster B200",
        "300",
        "1.8",
        "12",
        "the brewing unit is missing",
        "the water filter is expired",
        "the heater overheated",
        "the milk carafe",
        "1450",
        "8.4",
    ),
    (
        "Brewmaster B300 Pro",
        "500",
        "2.5",
        "40",
        "the grounds container is full",
        "the flow meter is blocked",
        "the boiler pressure is too low",
        "the automatic milk line",
        "1700",
        "11.9",
    ),
    (
        "Brewmaster B400",
        "350",
        "2.0",
        "16",
        "the service door is open",
        "the bean sensor is dirty",
        "the thermoblock fuse tripped",
        "the frothing nozzle",
        "1500",
        "9.2",
    ),
    (
        "Brewmaster B500 Duo",
        "400",
        "2.2",
        "20",
        "the left brewing group is locked",
        "the right brewing group is locked",
        "the mains voltage is unstable",
        "the twin milk pipes",
        "2300",
        "14.5",
    ),
    (
        "Brewmaster B600 Office",
        "800",
        "4.0",
        "60",
        "the waste water tank is full",
        "the card reader is offline",
        "the fresh water connection failed",
        "the refrigerated milk unit",
        "2800",
        "23.0",
    ),
]

BREWING_UNIT = [
    "Take the brewing unit out once a week: open the service door, press the red release lever and pull the unit "
    "straight out by its handle. Rinse it under lukewarm running water without any detergent and let it dry in the "
    "air before putting it back.",
    "Never put the brewing unit in a dishwasher. Grease the guide rails with the food-safe grease from the "
    "maintenance kit every two months, or whenever the unit is hard to slide in. A unit that does not click into "
    "place stops the machine from brewing.",
    "Coffee oils build up on the filter screen of the brewing unit over time and make the coffee bitter. Once a "
    "month, run the cleaning program with a cleaning tablet placed in the ground coffee funnel; the program takes "
    "about fifteen minutes and must not be interrupted.",
]


def coffee_guide() -> Manual:
    sections = [
        Section(
            1,
            "Introduction",
            [
                "This service guide covers the machines of the Brewmaster line. Each machine has its own chapter with "
                "the same structure, because the procedures are similar while the limits and codes differ.",
                "Read the safety notes in the quick start leaflet before opening any panel. Unplug the machine and let "
                "it cool down for at least thirty minutes before any maintenance.",
            ],
        ),
    ]
    for number, (model, cups, litres, steps, e2, e4, e7, milk, watts, kilos) in enumerate(COFFEE_MODELS, start=1):
        sections += [
            Section(1, f"{number} {model}", []),
            Section(
                2,
                f"{number}.1 Descaling",
                [
                    f"Descale the machine every {cups} cups, or sooner when the descaling light comes on. Use only the "
                    "liquid descaler supplied by the manufacturer; vinegar damages the seals of the water circuit.",
                    "Empty the water tank, pour in the descaler with half a litre of water, place a large container "
                    "under the outlet and start the descaling program from the maintenance menu. The program runs for "
                    "about twenty minutes and pauses twice; rinse the tank and refill it with clean water when asked.",
                    "When the program ends, the machine flushes the circuit with fresh water. Discard the first two "
                    "coffees brewed afterwards. If a power cut interrupts the program, it starts again from the "
                    "beginning once the power is back; do not brew coffee before it has finished.",
                ],
            ),
            Section(
                2,
                f"{number}.2 Error codes",
                [
                    "E1 means the water tank is empty or not seated correctly. E3 means the machine needs descaling "
                    "now and brews no more coffee until it has been descaled. E5 means the grinder is blocked by a "
                    "foreign object such as a small stone.",
                    f"E2 means {e2}. E4 means {e4}. E7 means {e7}.",
                    "Switch the machine off and on again after removing the cause; an error that returns three times "
                    "in one day needs a service visit. Write down the code shown on the display before calling the "
                    "service line, together with the serial number from the label behind the drip tray.",
                ],
            ),
            Section(
                2,
                f"{number}.3 Grinder settings",
                [
                    f"The conical burr grinder has {steps} settings, from fine to coarse. Change the setting only while "
                    "the grinder is running, otherwise beans can jam between the burrs.",
                    "A finer setting gives a stronger, slower espresso; a coarser setting suits larger cups. After a "
                    "change, the new grind reaches the cup from the third coffee onwards, because ground coffee is "
                    "still in the chute. Oily, dark roasted beans stick to the burrs: prefer medium roasts.",
                ],
            ),
            Section(2, f"{number}.4 Cleaning the brewing unit", list(BREWING_UNIT)),
            Section(
                2,
                f"{number}.5 Water tank and milk",
                [
                    f"The removable water tank holds {litres} litres. Fill it with fresh cold water every day and never "
                    "with sparkling water or milk.",
                    f"Rinse {milk} after every use: milk residues dry within an hour and block the small channels. "
                    "Once a week, take the parts apart and wash them in warm soapy water.",
                ],
            ),
            Section(
                2,
                f"{number}.6 Specifications",
                [
                    f"Rated power {watts} W at 220-240 V, 50/60 Hz. Weight without water and beans {kilos} kg. "
                    "Pump pressure 15 bar. Bean hopper 250 g. Noise below 70 dB while grinding.",
                ],
            ),
        ]
    return Manual("coffee_guide.md", "Brewmaster Service Guide", sections)


def handbook() -> Manual:
    s = Section
    return Manual(
        "employee_handbook.docx",
        "Northwind Employee Handbook",
        [
            s(1, "1 Leave", []),
            s(
                2,
                "1.1 Annual leave",
                [
                    "Every employee is entitled to twenty-six days of paid annual leave per calendar year, plus public "
                    "holidays. Part-time employees receive a share in proportion to their contracted hours.",
                    "Request leave in the HR portal at least two weeks in advance for periods longer than three days. Your "
                    "manager approves or declines the request within five working days.",
                    "Up to five unused days may be carried over into the first quarter of the following year; days not "
                    "taken by the end of March expire.",
                ],
            ),
            s(
                2,
                "1.2 Sick leave",
                [
                    "If you are ill, tell your manager before nine o'clock on the first day of absence. A doctor's "
                    "certificate is required from the fourth consecutive calendar day of illness.",
                    "Sick pay continues at full salary for up to six weeks per illness, after which statutory sickness "
                    "benefit applies. Illness during annual leave is treated as sick leave when certified.",
                ],
            ),
            s(
                2,
                "1.3 Parental leave",
                [
                    "Parents may take up to three years of parental leave per child, of which twenty-four months can be "
                    "moved to any time before the child's eighth birthday.",
                    "Announce parental leave in writing seven weeks before it starts. Northwind tops up the statutory "
                    "parental allowance to eighty percent of net salary for the first two months.",
                ],
            ),
            s(1, "2 Expenses", []),
            s(
                2,
                "2.1 Travel",
                [
                    "Book business travel through the travel desk. Train travel is second class for trips under four "
                    "hours; economy flights are allowed for longer distances or when cheaper than the train.",
                    "Hotel costs are reimbursed up to 140 euros per night in most cities and up to 190 euros per night in "
                    "London, Paris and New York. Private car use is reimbursed at 30 cents per kilometre.",
                    "Submit travel expenses within one month of the trip, with all receipts scanned in the expense tool. "
                    "Claims older than three months are not reimbursed.",
                ],
            ),
            s(
                2,
                "2.2 Meals and hospitality",
                [
                    "When travelling, meals are covered by a daily allowance of 28 euros for a full day and 14 euros for a "
                    "day of more than eight hours. Breakfast included in a hotel rate reduces the allowance by 5.60 euros.",
                    "Business meals with customers require the names of all guests and the business purpose on the "
                    "receipt. Alcohol is reimbursed only at customer events approved by a director.",
                ],
            ),
            s(
                2,
                "2.3 Equipment",
                [
                    "Employees working from home can order a desk chair, a monitor and a headset once every four years. "
                    "Other equipment above 250 euros needs the approval of the IT department before purchase.",
                ],
            ),
            s(1, "3 IT Security", []),
            s(
                2,
                "3.1 Passwords",
                [
                    "Passwords must have at least fourteen characters and must not be reused across services. Use the "
                    "company password manager to generate and store them.",
                    "Two-factor authentication with the authenticator app is mandatory for e-mail, the HR portal and "
                    "remote access. Never share a one-time code, not even with the IT service desk.",
                ],
            ),
            s(
                2,
                "3.2 Laptops and phones",
                [
                    "Company laptops are encrypted and must be locked whenever you leave them, even for a minute. Do not "
                    "install software from outside the company software center.",
                    "A lost or stolen device must be reported to the service desk within one hour, so that it can be "
                    "wiped remotely. Private phones may access e-mail only through the managed mail app.",
                ],
            ),
            s(
                2,
                "3.3 Reporting incidents",
                [
                    "Forward suspicious e-mails with the report phishing button instead of deleting them. Report any "
                    "suspected security incident to security@northwind.example or by phone on extension 4444, day or night.",
                    "Do not try to investigate an incident yourself, and do not switch off an affected computer: "
                    "disconnect it from the network and wait for the security team.",
                ],
            ),
        ],
    )


def calc_reference() -> Manual:
    s = Section
    return Manual(
        "calc_reference.html",
        "Calc Language Reference",
        [
            s(
                1,
                "1 Numbers",
                [
                    "Calc has three kinds of numbers: integers, floats and complex numbers. Arithmetic between kinds "
                    "widens the result to the more general kind.",
                ],
            ),
            s(
                2,
                "1.1 Integers",
                [
                    "Integers have arbitrary precision: they never overflow, they only grow in memory. Underscores may "
                    "group digits, as in 1_000_000, and a leading 0x, 0o or 0b gives hexadecimal, octal or binary.",
                    "Integer division with // rounds towards negative infinity, so -7 // 2 is -4, and % takes the sign "
                    "of the divisor.",
                ],
            ),
            s(
                2,
                "1.2 Floats",
                [
                    "Floats are IEEE 754 double precision numbers with about fifteen significant decimal digits. The "
                    "literal 1e-3 is a float, and so is any literal with a decimal point.",
                    "Comparing floats for equality is rarely what you want; use isclose(a, b, rel=1e-9) instead. Division "
                    "by zero raises ZeroDivisionError rather than returning infinity.",
                ],
            ),
            s(
                2,
                "1.3 Complex numbers",
                [
                    "A trailing j makes an imaginary literal, so 3+4j is a complex number with real part 3 and imaginary "
                    "part 4. abs(3+4j) returns 5.0.",
                ],
            ),
            s(
                1,
                "2 Strings",
                [
                    "Strings are immutable sequences of Unicode code points.",
                ],
            ),
            s(
                2,
                "2.1 Literals",
                [
                    "String literals use double quotes. Triple double quotes allow a literal to span several lines, and a "
                    "prefix r makes a raw string in which backslashes have no special meaning.",
                ],
            ),
            s(
                2,
                "2.2 Escape sequences",
                [
                    "Inside a normal string literal, \\n is a newline, \\t a tab and \\u followed by four hexadecimal "
                    "digits a code point. An unknown escape sequence is a syntax error, not a literal backslash.",
                ],
            ),
            s(
                2,
                "2.3 Formatting",
                [
                    'The format function fills placeholders in braces: format("{} of {}", 3, 5) gives "3 of 5". A '
                    "colon inside the braces starts a format specification, such as {:>8} to right-align in eight columns "
                    "or {:.2f} for two decimals.",
                ],
            ),
            s(1, "3 Collections", []),
            s(
                2,
                "3.1 Lists",
                [
                    "Lists are mutable and ordered. Negative indexes count from the end, so xs[-1] is the last element. "
                    "Slicing with xs[a:b] copies the elements from a up to, but not including, b.",
                    "The sort method sorts in place and is stable; sorted(xs) returns a new list and leaves xs unchanged.",
                ],
            ),
            s(
                2,
                "3.2 Maps",
                [
                    "Maps associate keys with values and remember insertion order. Reading a missing key raises KeyError; "
                    "get(m, key, default) returns the default instead.",
                    "Keys must be immutable: numbers, strings and tuples of them can be keys, lists cannot.",
                ],
            ),
            s(1, "4 Errors", []),
            s(
                2,
                "4.1 Raising errors",
                [
                    'The raise statement raises an error value, for example raise ValueError("negative size"). A bare '
                    "raise inside a handler raises the error being handled again.",
                ],
            ),
            s(
                2,
                "4.2 Handling errors",
                [
                    "A try block followed by catch clauses handles errors by type; the first matching clause runs. A "
                    "finally clause runs whether or not an error occurred, even after return.",
                    "Catching the base type Error catches everything, which hides bugs: catch the narrowest type you can.",
                ],
            ),
        ],
    )


IRRIGATION_TOPICS = [
    # model, zone count, rain delay default, soil sensor threshold, reset combination
    ("HC-6 indoor", "6", "48 hours", "20 percent", "the left and right arrows together for five seconds"),
    ("HC-12 outdoor", "12", "72 hours", "25 percent", "the program and back buttons together for ten seconds"),
    ("HC-24 commercial", "24", "96 hours", "30 percent", "the reset pin behind the front cover for three seconds"),
    ("HC-4 balcony", "4", "24 hours", "15 percent", "the single dial pressed in for twenty seconds"),
]


def irrigation_guide() -> Manual:
    sections = [
        Section(
            1,
            "Overview",
            [
                "The HydroControl family schedules watering for gardens of any size. All controllers share one app and "
                "one way of working; this guide gives each model's own limits in its chapter.",
            ],
        ),
    ]
    for number, (model, zones, delay, threshold, reset) in enumerate(IRRIGATION_TOPICS, start=1):
        sections += [
            Section(1, f"{number} HydroControl {model}", []),
            Section(
                2,
                "Zones",
                [
                    f"The controller drives up to {zones} zones, each with its own valve. Name the zones in the app so "
                    "that schedules and reports are easy to read.",
                    "Each zone can water for at most four hours per start. Zones water one after another, never at the "
                    "same time, to keep the water pressure up. A master valve or pump relay output switches on with "
                    "any zone.",
                ],
            ),
            Section(
                2,
                "Schedules",
                [
                    "A schedule waters chosen zones on chosen weekdays, with up to four start times per day. Seasonal "
                    "adjustment scales every run time by a percentage, from 10 to 200 percent.",
                    f"After rain, the controller skips watering for the rain delay, {delay} unless you change it. "
                    "Frost protection stops all watering below three degrees Celsius when a temperature sensor is "
                    "fitted.",
                ],
            ),
            Section(
                2,
                "Soil moisture sensor",
                [
                    f"With a soil moisture sensor connected, a zone waters only when the moisture is below {threshold}. "
                    "Calibrate the sensor in dry soil after installation, bury it at root depth and keep it away from "
                    "the sprinkler heads themselves.",
                ],
            ),
            Section(
                2,
                "Factory reset",
                [
                    f"To reset the controller to factory settings, hold {reset}. Schedules, zone names and the Wi-Fi "
                    "password are erased; the watering history in the app is kept.",
                ],
            ),
        ]
    return Manual("irrigation_guide.md", "HydroControl Guide", sections)


QUESTIONS: list[tuple[str, str]] = [
    # (question, a phrase its answer passage holds: only it, except for the three generic coffee questions,
    # whose passage each machine's chapter repeats)
    ("How often should the Brewmaster B100 be descaled?", "every 200 cups"),
    ("How often should the Brewmaster B200 be descaled?", "every 300 cups"),
    ("Descaling interval of the B300 Pro", "every 500 cups"),
    ("What does error E4 mean on the Brewmaster B200?", "the water filter is expired"),
    ("What does error E7 mean on the B300 Pro?", "the boiler pressure is too low"),
    ("E2 error on the Brewmaster B100", "the drip tray is full"),
    ("How many grinder settings does the Brewmaster B200 have?", "has 12 settings"),
    ("How many grind settings on the B300 Pro?", "has 40 settings"),
    ("How much water does the B100 tank hold?", "holds 1.2 litres"),
    ("What is the water tank capacity of the Brewmaster B300 Pro?", "holds 2.5 litres"),
    ("Which milk part of the B200 must be rinsed after use?", "Rinse the milk carafe"),
    ("Can I use vinegar to descale the coffee machine?", "vinegar damages the seals"),
    ("What should I note before calling the coffee machine service line?", "serial number from the label"),
    ("How many days of annual leave do employees get?", "twenty-six days of paid annual leave"),
    ("Can unused leave days be carried over to next year?", "Up to five unused days may be carried over"),
    ("When do I need a doctor's certificate when sick?", "from the fourth consecutive calendar day"),
    ("How long is sick pay paid at full salary?", "full salary for up to six weeks"),
    ("How early must parental leave be announced?", "seven weeks before it starts"),
    ("What is the hotel limit per night in London?", "190 euros per night"),
    ("How much is reimbursed per kilometre for a private car?", "30 cents per kilometre"),
    ("What is the daily meal allowance for a full day of travel?", "28 euros for a full day"),
    ("Is alcohol reimbursed at business meals?", "Alcohol is reimbursed only at customer events"),
    ("How often can home office equipment be ordered?", "once every four years"),
    ("How long must passwords be?", "at least fourteen characters"),
    ("How quickly must a lost laptop be reported?", "within one hour"),
    ("What number do I call to report a security incident?", "extension 4444"),
    ("Should I switch off a computer affected by a security incident?", "do not switch off an affected computer"),
    ("Do Calc integers overflow?", "they never overflow"),
    ("What does -7 // 2 give in Calc?", "-7 // 2 is -4"),
    ("How should floats be compared for equality in Calc?", "isclose(a, b, rel=1e-9)"),
    ("What happens on float division by zero in Calc?", "raises ZeroDivisionError"),
    ("How do I write an imaginary number literal in Calc?", "A trailing j makes an imaginary literal"),
    ("What does an unknown escape sequence do in a Calc string?", "An unknown escape sequence is a syntax error"),
    ("How do I right-align text in a Calc format string?", "{:>8} to right-align"),
    ("What happens when reading a missing key from a Calc map?", "Reading a missing key raises KeyError"),
    ("Does a finally clause run after return in Calc?", "even after return"),
    ("How many zones does the HydroControl HC-12 outdoor drive?", "up to 12 zones"),
    ("What is the default rain delay of the HC-6 indoor controller?", "the rain delay, 48 hours"),
    ("At what soil moisture does the HC-12 outdoor water?", "below 25 percent"),
    ("How do I factory reset the HydroControl HC-6 indoor?", "the left and right arrows together"),
]

MANUALS = [coffee_guide, handbook, calc_reference, irrigation_guide]


def render_markdown(manual: Manual) -> bytes:
    lines = [f"# {manual.title}", ""]
    for section in manual.sections:
        lines += ["#" * (section.level + 1) + " " + section.title, ""]
        for paragraph in section.paragraphs:
            lines += [paragraph, ""]
    return "\n".join(lines).encode()


def render_docx(manual: Manual) -> bytes:
    import docx

    document = docx.Document()
    document.add_heading(manual.title, 0)
    for section in manual.sections:
        document.add_heading(section.title, section.level)
        for paragraph in section.paragraphs:
            document.add_paragraph(paragraph)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def render_html(manual: Manual) -> bytes:
    body = [f"<h1>{escape(manual.title)}</h1>"]
    for section in manual.sections:
        level = section.level + 1
        body.append(f"<h{level}>{escape(section.title)}</h{level}>")
        body += [f"<p>{escape(p)}</p>" for p in section.paragraphs]
    nav = '<nav><a href="index.html">Contents</a> | <a href="next.html">Next</a></nav>'
    html = (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{escape(manual.title)}</title></head>"
        f"<body>{nav}<main>{''.join(body)}</main><footer>Generated manual</footer></body></html>"
    )
    return html.encode()


SHARED = ROOT.parent / "shared" / "data" / "docs"
# Real manuals with headings from the shared documents, as distractors: a knowledge base holds more than one
# product's guide. Left out when ../shared/data/docs is absent (--no-distractors leaves them out too).
DISTRACTORS = [
    ("debian_nodejs-api-events.md", "text/markdown"),
    ("pandoc_twenty-years-of-pandoc.md", "text/markdown"),
    ("debian_libtasn1.pdf", "application/pdf"),
    ("debian_python-policy.html", "text/html"),
]

RENDER = {".md": (render_markdown, "text/markdown"), ".docx": (render_docx, None), ".html": (render_html, "text/html")}
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def write_corpus(folder: Path, distractors: bool) -> list[tuple[Path, str]]:
    """The manuals as files in `folder` (and the distractors), with their content types; checks that every
    answer phrase is in the manuals."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    texts = []
    for make in MANUALS:
        manual = make()
        suffix = Path(manual.name).suffix
        render, content_type = RENDER[suffix]
        path = folder / manual.name
        path.write_bytes(render(manual))
        files.append((path, content_type or DOCX_TYPE))
        texts += [p for section in manual.sections for p in section.paragraphs]
    corpus = "\n".join(texts)
    for question, phrase in QUESTIONS:
        if phrase not in corpus:
            raise SystemExit(f"the answer phrase {phrase!r} of {question!r} is not in the corpus")
    if distractors:
        files += [(SHARED / name, kind) for name, kind in DISTRACTORS if (SHARED / name).exists()]
    return files


# --------------------------------------------------------------------------------------------------------------
# The evaluation


@dataclass
class Variant:
    mode: str
    prepend: bool

    @property
    def name(self) -> str:
        return f"{self.mode}{' + path' if self.prepend else ''}"


def answer_rank(hits: list[Any], phrase: str) -> int | None:
    squashed = " ".join(phrase.split())
    for rank, hit in enumerate(hits, start=1):
        if squashed in " ".join(str(hit.fields.get("text", "")).split()):
            return rank
    return None


async def evaluate(
    files: list[tuple[Path, str]], embedder: LocalEmbedder, variant: Variant, size: int, overlap: int, work: Path
) -> dict[str, Any]:
    tokenizer = embedder.tokenizer
    rows, texts = [], []
    headings_found = 0
    for number, (path, content_type) in enumerate(files):
        parsed = parse_document(path, content_type, detect_language=False)
        headings = [(h.level, h.title, h.char_start) for h in parsed.headings]
        headings_found += len(headings)
        pages = [(p.number, p.char_start, p.char_end) for p in parsed.pages]
        for c in chunk_text(parsed.text, tokenizer, size, overlap, pages, headings, variant.mode):
            texts.append(f"{c.section}\n\n{c.text}" if variant.prepend and c.section else c.text)
            rows.append(
                {
                    "pk": f"vs:f{number}:{c.index}",
                    "project_id": "bench",
                    "vector_store_id": "vs",
                    "file_id": f"f{number}",
                    "file_name": path.name,
                    "chunk_index": c.index,
                    "text": c.text,
                    "section": c.section,
                }
            )
    vectors = await embedder.embed(texts)
    for row, vector in zip(rows, vectors, strict=True):
        row["dense"] = vector
    db = work / f"{variant.mode}-{int(variant.prepend)}-{size}.db"
    results: dict[str, Any] = {"chunks": len(rows), "headings": headings_found}
    async with MilvusIndex(str(db), dim=embedder.dimension) as index:
        await index.upsert_chunks(rows)
        queries = await embedder.embed([q for q, _ in QUESTIONS])
        for mode in ("dense", "keyword", "hybrid"):
            ranks = []
            for (question, phrase), vector in zip(QUESTIONS, queries, strict=True):
                hits = await index.search_chunks(
                    "bench",
                    "vs",
                    dense=vector if mode != "keyword" else None,
                    text=question if mode != "dense" else None,
                    mode=mode,  # type: ignore[arg-type]
                    limit=10,
                )
                ranks.append(answer_rank(hits, phrase))
            results[mode] = {
                "recall@1": sum(1 for r in ranks if r == 1) / len(ranks),
                "recall@5": sum(1 for r in ranks if r is not None and r <= 5) / len(ranks),
                "mrr@10": sum(1 / r for r in ranks if r is not None) / len(ranks),
            }
    return results


def compare_scifact(embedder: LocalEmbedder, size: int, overlap: int) -> None:
    """SciFact documents have no headings: the two modes must cut the same chunks."""
    corpus = ROOT.parent / "shared" / "data" / "scifact" / "corpus.jsonl"
    if not corpus.exists():
        print(f"SciFact: {corpus} is missing, skipped")
        return
    tokenizer = embedder.tokenizer
    documents = same = chunks = 0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "doc.txt"
        for line in corpus.read_text().splitlines():
            doc = json.loads(line)
            path.write_text(f"{doc['title']}\n\n{doc['text']}")
            parsed = parse_document(path, "text/plain", detect_language=False)
            headings = [(h.level, h.title, h.char_start) for h in parsed.headings]
            window = chunk_text(parsed.text, tokenizer, size, overlap, (), headings, "token_window")
            section = chunk_text(parsed.text, tokenizer, size, overlap, (), headings, "section")
            documents += 1
            chunks += len(window)
            same += window == section
    print(
        f"SciFact: {documents} documents, {chunks} chunks; identical chunks in both modes for {same} of "
        f"{documents} documents ({time.perf_counter() - started:.0f} s)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=0, help="chunk size in tokens (0: the model's limit, 254)")
    parser.add_argument("--overlap", type=int, default=64)
    parser.add_argument("--out", type=Path, default=None, help="write the generated manuals here too")
    parser.add_argument("--merge-fraction", type=int, default=0, help="override SECTION_MERGE_FRACTION (a test)")
    parser.add_argument("--scifact", action="store_true", help="only compare both modes' chunks on SciFact")
    parser.add_argument("--no-distractors", action="store_true", help="only the generated manuals")
    args = parser.parse_args()
    if args.merge_fraction:
        chunking.SECTION_MERGE_FRACTION = args.merge_fraction
    embedder = LocalEmbedder()
    await embedder.load()
    size = args.size or min(256, embedder.max_tokens)
    if args.scifact:
        compare_scifact(embedder, size, args.overlap)
        await embedder.close()
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        files = write_corpus(args.out or work / "manuals", not args.no_distractors)
        sections = sum(len(make().sections) for make in MANUALS)
        print(
            f"{len(MANUALS)} generated manuals ({sections} sections) and {len(files) - len(MANUALS)} shared "
            f"documents; {len(QUESTIONS)} questions; chunks of {size} tokens, overlap {args.overlap}"
        )
        print(f"{'variant':<20} {'chunks':>6}   dense R@1 R@5  MRR   BM25 R@1 R@5  MRR   hybrid R@1 R@5  MRR")
        variants = [Variant("token_window", False), Variant("section", False)]
        variants += [Variant("token_window", True), Variant("section", True)]
        for variant in variants:
            r = await evaluate(files, embedder, variant, size, args.overlap, work)
            figures = "   ".join(
                f"{r[m]['recall@1']:>5.3f} {r[m]['recall@5']:.3f} {r[m]['mrr@10']:.3f}"
                for m in ("dense", "keyword", "hybrid")
            )
            print(f"{variant.name:<20} {r['chunks']:>6}   {figures}", flush=True)
    await embedder.close()


if __name__ == "__main__":
    asyncio.run(main())
