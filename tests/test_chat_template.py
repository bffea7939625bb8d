from __future__ import annotations

import pytest

from assistant.core.chat_template import CHATML, ChatTemplate, resolve
from assistant.core.errors import ChatTemplateError

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

    from assistant.core.settings import ModelOverrides, ModelSettings

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
