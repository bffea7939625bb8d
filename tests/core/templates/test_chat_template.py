from __future__ import annotations

import pytest

from assistant.core.base.errors import ChatTemplateError
from assistant.core.templates.chat_template import CHATML, ChatTemplate, resolve

MSGS = [{"role": "system", "content": "S"}, {"role": "user", "content": "Hi"}]


def test_chatml_renders():
    out = ChatTemplate(CHATML).render(MSGS)
    assert (
        out
        == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    )


def test_hf_style_helpers_work():
    src = (
        "{{ bos_token }}{% for m in messages %}{% if m.role not in ['system','user'] %}"
        "{{ raise_exception('bad role') }}{% endif %}{{ m.content | tojson }}{% endfor %}"
        "{{ strftime_now('%Y')|length }}"
    )
    assert ChatTemplate(src, bos_token="<s>").render(MSGS) == '<s>"S""Hi"4'
    with pytest.raises(ChatTemplateError, match="bad role"):
        ChatTemplate(src).render([{"role": "tool", "content": "x"}])


@pytest.mark.parametrize(
    "hostile",
    [
        # Classic template injection to reach os.system through globals.
        "{{ cycler.__init__.__globals__.os.system('touch {marker}') }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
        "{{ self._TemplateReference__context.cycler.__init__.__globals__.os.popen('touch {marker}') }}",
        "{{ messages.append({'role': 'user', 'content': 'injected'}) }}",
    ],
)
def test_code_execution_is_blocked(tmp_path, hostile):
    marker = tmp_path / "pwned"
    t = ChatTemplate(hostile.replace("{marker}", str(marker)), name="evil")
    with pytest.raises(ChatTemplateError) as e:
        t.render(MSGS)
    assert "\n" not in str(e.value)
    assert not marker.exists()


@pytest.mark.parametrize(
    "bomb",
    [
        "{% for a in range(99999) %}{% for b in range(99999) %}{% endfor %}{% endfor %}",
        "{{ 'x' * 10**9 }}",
        "{{ 'x' * 1000000000 }}",
        "{{ 7 ** 9999999 }}",
        "{% set s = 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' * 2000 %}"
        "{% for i in range(90000) %}{{ s }}{% endfor %}",
    ],
)
def test_resource_bombs_are_stopped(bomb):
    with pytest.raises(ChatTemplateError, match="unsafe"):
        ChatTemplate(bomb).render(MSGS)


EAT = "{% for m in messages %}{{ m.content }}{% endfor %}"
EXHAUSTION = {
    # Each of these hung for minutes or grew to gigabytes before they were bounded.
    "concat doubling": "{% set ns = namespace(s='a') %}{% for i in range(40) %}"
    "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}" + EAT,
    "list doubling": "{% set ns = namespace(l=[1]) %}{% for i in range(40) %}"
    "{% set ns.l = ns.l + ns.l %}{% endfor %}{{ ns.l|length }}" + EAT,
    "tojson indent": "{{ messages|tojson(indent=1000000000) }}",
    "percent padding": "{{ '%01000000000d' % 1 }}",
    "format padding": "{{ '{:>1000000000}'.format('a') }}",
    "nested loops over strings": "{% for a in 'x' * 100000 %}{% for b in 'x' * 100000 %}"
    "{% endfor %}{% endfor %}" + EAT,
    "endless macro": "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
    "exponential macro": "{% macro f(n) %}{% if n > 0 %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}"
    "{% endmacro %}{{ f(40) }}",
    "padding filter": "{{ 'x'|center(1000000000) }}",
    "replace growth": "{% set s = 'x' * 100000 %}{{ s.replace('x', s) }}",
    "join growth": "{% set s = 'x' * 100000 %}{{ ([s] * 100000)|join }}",
    "star width": "{{ '%*d' % (1000000000, 1) }}",
    "lipsum": "{{ lipsum(100000) }}",
    "integer squaring": "{% set ns = namespace(x=3) %}{% for i in range(40) %}"
    "{% set ns.x = ns.x * ns.x %}{% endfor %}{{ ns.x > 0 }}",
    "printing a list of big strings": "{% set s = 'x' * 100000 %}{{ [s] * 100000 }}",
    "joining a generator": "{% set s = 'x' * 100000 %}{{ ([s] * 100)|map('string')|join }}",
    "shared-list doubling": "{% set ns = namespace(x={'a': 'b'}) %}{% for i in range(60) %}"
    "{% set ns.x = [ns.x, ns.x] %}{% endfor %}{{ ns.x|tojson|length }}{{ ns }}",
    "deep source": "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}",
}


def test_time_and_memory_exhaustion_is_stopped_within_budget():
    """All of them in a child process capped at 2 GB: each stops in seconds, and the
    process never grows past a few hundred MB."""
    import json
    import subprocess
    import sys

    code = (
        "import json, resource, sys, time\n"
        "resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))\n"
        "from assistant.core.templates.chat_template import ChatTemplate\n"
        "from assistant.core.base.errors import ChatTemplateError\n"
        "out = {}\n"
        "for name, src in json.loads(sys.argv[1]).items():\n"
        "    t0 = time.monotonic()\n"
        "    try:\n"
        "        ChatTemplate(src, name='from the model file').render("
        "[{'role': 'user', 'content': 'hi'}])\n"
        "        r = 'rendered'\n"
        "    except ChatTemplateError as e:\n"
        "        r = str(e)\n"
        "    out[name] = [r, time.monotonic() - t0]\n"
        # VmHWM: this process's peak (ru_maxrss would carry the forking parent's over exec)
        "hwm = [x for x in open('/proc/self/status') if x.startswith('VmHWM')][0]\n"
        "rss = int(hwm.split()[1]) // 1024\n"
        "print(json.dumps({'results': out, 'rss_mb': rss}))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, json.dumps(EXHAUSTION)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout)
    for name, (outcome, secs) in got["results"].items():
        assert outcome != "rendered", name
        # The budget is 2 s of wall time; 5 s only catches one that is not checked at all
        # (those ran for minutes), and stays under the 20 s a user would wait.
        assert "\n" not in outcome and secs < 5, (name, outcome, secs)
    assert got["rss_mb"] < 512, got["rss_mb"]


def test_models_import_refuses_a_hostile_template(tmp_path):
    from tests.conftest import run_cli
    from tests.helpers.gguf_factory import write_tiny_gguf

    bomb = tmp_path / "bomb.gguf"
    write_tiny_gguf(bomb, chat_template=EXHAUSTION["nested loops over strings"])
    r = run_cli("models", "import", str(bomb), timeout=120)
    assert r.returncode == 1 and "Not imported" in r.stderr and "unsafe" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_syntax_error_is_one_line():
    with pytest.raises(ChatTemplateError, match="not valid Jinja") as e:
        ChatTemplate("{% for %}")
    assert "\n" not in str(e.value)


def test_resolution_order():
    assert resolve("chatml", "{{ 'gguf' }}", "", "").name == "built-in chatml"
    assert resolve(None, "{{ 'gguf' }}", "", "").render(MSGS) == "gguf"
    assert resolve("{{ 'mine' }}", "{{ 'gguf' }}", "", "").render(MSGS) == "mine"
    assert "chatml" in resolve(None, None, "", "").name


def test_a_template_in_settings_is_checked_when_saved():
    from pydantic import ValidationError

    from assistant.core.config.settings import ModelOverrides, ModelSettings

    assert ModelOverrides(chat_template=" ChatML ").chat_template == "chatml"
    assert ModelOverrides(chat_template="  ").chat_template is None
    ok = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    assert ModelSettings(chat_template=ok).chat_template == ok
    with pytest.raises(ValidationError, match="'llama3' is not a chat template"):
        ModelOverrides(chat_template="llama3")  # a name we do not have is not a template
    with pytest.raises(ValidationError, match="not valid Jinja"):
        ModelSettings(chat_template="{% bad")
    with pytest.raises(ValidationError, match="unsafe"):
        ModelOverrides(chat_template="{{ ().__class__.__base__.__subclasses__() }}")
