"""The developer portal's usage examples work: every Python snippet on /examples runs against the gateway.

The catalogue is applied to a fresh sandbox (products, plans, keys, ActiveDocs, portal), the published Examples
page is fetched, and each Python snippet (requests, OpenAI SDK, LangChain) is executed as a developer would,
with MAAS_API_KEY set to an application key of that product.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys

import requests

from maas_helpers.kit import Kit
from maas_helpers.reconcile import SECTIONS
from maas_sandbox.control import SandboxInfo

SECTION = re.compile(r'<section class="maas-card maas-example" id="examples-([^"]+)">(.*?)</section>', re.S)
SNIPPET = re.compile(r"<h3>([^<]+)</h3>\s*<pre><code>(.*?)</code></pre>", re.S)


def test_every_python_example_runs_against_the_gateway(fresh_sandbox: SandboxInfo) -> None:
    kit = Kit.configure(target="sandbox", state_dir=str(fresh_sandbox.state_dir), org_name="Examples Org")
    for section in SECTIONS:
        if section != "sso":
            kit.apply(section)
    keys = kit.application_keys()
    page = requests.get(fresh_sandbox.portal_url + "/examples", timeout=30)
    assert page.status_code == 200
    sections = dict(SECTION.findall(page.text))
    assert set(sections) == set(keys), f"examples for {sorted(sections)}, products {sorted(keys)}"
    ran = []
    for model, body in sections.items():
        snippets = {title: html.unescape(code) for title, code in SNIPPET.findall(body)}
        assert set(snippets) == {"curl", "Python (requests)", "OpenAI SDK", "LangChain"}, model
        endpoint = next(url for name, url in kit.links().items() if name == f"{model} (production)")
        assert endpoint in snippets["curl"] and f'"model": "{model}"' in snippets["curl"]
        for title in ("Python (requests)", "OpenAI SDK", "LangChain"):
            env = {**os.environ, "MAAS_API_KEY": keys[model], "OPENAI_API_KEY": "unused"}
            done = subprocess.run([sys.executable, "-c", snippets[title]], env=env, capture_output=True, text=True,
                                  timeout=120, check=False)
            assert done.returncode == 0, f"{model} / {title} failed:\n{snippets[title]}\n{done.stderr[-2000:]}"
            assert done.stdout.strip(), f"{model} / {title} printed nothing"
            ran.append((model, title))
    assert len(ran) == 3 * len(keys)
