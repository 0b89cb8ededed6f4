"""Template render cost per email: a realistic receipt (layout with a style sheet, a loop over
order lines, escaped values, CSS inlined, the text part made from the HTML), rendered as a
templated send renders it, with the parsed version cached (docs/benchmarks.md, "Templates").

    python bench/templates.py                  # 2,000 renders, median of 5 runs
    python bench/templates.py --renders 5000 --runs 7
    python bench/templates.py --text           # with a text template: no text made from HTML
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from postroom.domain.templates import parse_definition
from postroom.services.templates import Renderer

LAYOUT = """<!doctype html><html><head><style>
body { font-family: Helvetica, Arial, sans-serif; color: #222; background: #f4f4f4; }
.card { background: #fff; border-radius: 6px; padding: 24px; margin: 16px auto; width: 560px; }
h1 { font-size: 20px; margin: 0 0 12px; } table { width: 100%; border-collapse: collapse; }
td { padding: 6px 0; border-bottom: 1px solid #eee; } .total td { font-weight: bold; }
.footer { color: #888; font-size: 12px; text-align: center; }
</style></head><body><div class="card"><h1>{{ shop }}</h1>{{ content }}</div>
<p class="footer">{{ shop }} · 1 Example Street · <a href="{{ unsubscribe }}">unsubscribe</a></p>
</body></html>"""

RECEIPT = {
    "name": "receipt",
    "subject": "Your {{ shop }} receipt for order {{ order }}",
    "html": """<p>Hello {{ first_name }},</p><p>Thanks for your order {{ order }}.</p>
<table>{% for line in lines %}<tr><td>{{ line.name }}</td><td>{{ line.qty }}</td>
<td>{{ line.price }}</td></tr>{% endfor %}<tr class="total"><td>Total</td><td></td>
<td>{{ total }}</td></tr></table><p>{% if note %}{{ note }}{% else %}See you soon.{% endif %}</p>""",
    "layout": LAYOUT,
    "variables": [
        {"name": "first_name", "required": True},
        {"name": "order", "required": True},
        {"name": "lines", "required": True},
        {"name": "total", "required": True},
        {"name": "shop", "default": "Acme Shop"},
        {"name": "note"},
        {"name": "unsubscribe", "default": "https://shop.example.com/u"},
    ],
}
VARIABLES = {
    "first_name": "Ann <Lee>",
    "order": "A-1042",
    "lines": [{"name": f"Item {i} & more", "qty": i, "price": f"{i * 3}.50"} for i in range(1, 6)],
    "total": "49.50",
    "note": "",
}


TEXT = """Hello {{ first_name }}, thanks for your order {{ order }}.
{% for line in lines %}{{ line.name }} x{{ line.qty }}: {{ line.price }}
{% endfor %}Total: {{ total }}"""


def run(renders: int, text: bool = False) -> float:
    """Microseconds per render, the parse cached as a stored version's is."""
    renderer = Renderer()
    definition = parse_definition({**RECEIPT, "text": TEXT} if text else RECEIPT)
    renderer.render(definition, VARIABLES, ("bench", 1))
    started = time.perf_counter()
    for _ in range(renders):
        renderer.render(definition, VARIABLES, ("bench", 1))
    return (time.perf_counter() - started) / renders * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--text", action="store_true", help="give a text template too")
    args = parser.parse_args()
    results = [run(args.renders, args.text) for _ in range(args.runs)]
    print("| runs | renders each | µs per email (median) | min | max |")
    print("|---|---|---|---|---|")
    print(
        f"| {args.runs} | {args.renders} | {statistics.median(results):,.0f} "
        f"| {min(results):,.0f} | {max(results):,.0f} |"
    )


if __name__ == "__main__":
    main()
